"""Stopping the kiosk mid-check: a verdict Diia has given is delivered to every output (the
JSON lines, the audit log, the till's stream and check) before the process exits, cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_process import EventReader, RunningKiosk


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_during_a_check_loses_no_verdict(
        sandbox: DiiaSandbox, tmp_path: Path, signum: signal.Signals) -> None:
    with RunningKiosk(sandbox, tmp_path) as kiosk:
        stream = EventReader(kiosk.url)
        kiosk.scan(sandbox.mint("valid"))  # logged in, so the next call is the check alone
        stream.wait_for(lambda e: e.get("event") == "verdict")
        sandbox.fail(None, latency_s=1.0)  # Diia answers a second after the signal
        check = kiosk.arm(mode="validate", reference="in-flight")
        kiosk.scan(sandbox.mint("valid"))
        kiosk.wait_state(check["id"], ("checking",))
        kiosk.process.send_signal(signum)
        try:
            status = kiosk.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kiosk.process.kill()
            raise
        _, told = stream.wait_for(lambda e: e.get("id") == check["id"]
                                  and e.get("event") == "verdict", timeout_s=2)
        stream.close()
        stdout = (kiosk.folder / "stdout").read_text()
        stderr = (kiosk.folder / "stderr").read_text()
    assert status == 0, stderr[-2000:]
    assert "Fatal Python error" not in stderr and "Traceback" not in stderr
    assert f"stopping ({signum.name})" in stderr
    lines = [json.loads(line) for line in stdout.splitlines() if '"verdict"' in line]
    assert [(e["outcome"], e["reason"]) for e in lines] == [("pass", "valid")] * 2
    audit = (kiosk.folder / "state" / "audit" / "verdicts.jsonl").read_text().splitlines()
    assert [json.loads(line)["outcome"] for line in audit] == ["pass", "pass"]
    assert (told["outcome"], told["reference"]) == ("pass", "in-flight")
