"""The audit log under a wall clock that cannot be trusted: a kiosk started with its clock
100 days ahead must not delete the shop's record of the last minutes."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_process import RunningKiosk

AUDIT = "[audit]\nmax_bytes = 10000\nkeep_days = 90\n"


def test_rotated_files_minutes_old_survive_a_clock_100_days_ahead(
        sandbox: DiiaSandbox, tmp_path: Path) -> None:
    code = sandbox.mint("valid")
    with RunningKiosk(sandbox, tmp_path / "first", extra=AUDIT) as kiosk:
        for _ in range(110):  # the same code: one Diia call, the rest from the cache
            kiosk.scan(code)
        status, _, stderr = kiosk.stop()
    assert status == 0, stderr[-2000:]
    audit = tmp_path / "first" / "state" / "audit"
    rotated = sorted(audit.glob("verdicts-*.jsonl"))
    lines = sum(len(p.read_text().splitlines()) for p in audit.glob("*.jsonl"))
    assert len(rotated) >= 2 and lines == 110
    # What a clock 100 days ahead sees: files written minutes ago, 100 days old by it.
    ahead = time.time() - 100 * 86400
    for path in rotated:
        os.utime(path, (ahead, ahead))
    with RunningKiosk(sandbox, tmp_path / "first", extra=AUDIT) as kiosk:  # a new start
        kiosk.scan(code)
        status, _, stderr = kiosk.stop()
    assert status == 0, stderr[-2000:]
    assert all(path.exists() for path in rotated), "the record of the last minutes was deleted"
    assert "deleted" not in stderr
