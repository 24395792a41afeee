"""The audit log: verdict events in the state directory, rotated by size, pruned by age,
private, and with no code in it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kiosk.model import CodeKind, Phase, Reason, State, Verdict
from kiosk.ops.audit import RotatingFile, open_audit_log
from kiosk.signals.events import JsonLinesEvents

CODE = "3559217693026"


def show_verdicts(log, count: int) -> None:
    for i in range(count):
        verdict = Verdict(Reason.VALID, "age", CodeKind.BARCODE, f"{i:08x}",
                          ms={"diia": 100.0})
        log.show(State(Phase.CHECKING))
        log.show(State(Phase.PASS, verdict))


def test_verdicts_are_appended_as_private_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "verdicts.jsonl"
    log = open_audit_log(path, max_bytes=1_000_000, keep_days=90)
    show_verdicts(log, 3)
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["code_id"] for line in lines] == ["00000000", "00000001", "00000002"]
    assert {line["event"] for line in lines} == {"verdict"}
    assert CODE not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "audit").stat().st_mode & 0o777 == 0o700


def test_the_log_rotates_at_its_size_and_loses_no_line(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    path = tmp_path / "verdicts.jsonl"
    stream = RotatingFile(path, max_bytes=4_000, keep_days=90, clock=lambda: now[0])
    log = JsonLinesEvents(stream)  # what open_audit_log builds
    for _ in range(5):
        show_verdicts(log, 20)
        now[0] += 1
    log.close()
    rotated = stream.rotated()
    assert len(rotated) >= 2
    assert all(p.stat().st_size >= 4_000 for p in rotated)
    assert path.stat().st_size < 4_000
    total = sum(len(p.read_text().splitlines()) for p in [*rotated, path])
    assert total == 100


def test_rotated_logs_older_than_the_kept_days_are_deleted(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    path = tmp_path / "verdicts.jsonl"
    old = tmp_path / "verdicts-20270101T000000000000Z.jsonl"
    recent = tmp_path / "verdicts-20270110T000000000000Z.jsonl"
    for file, age_days in ((old, 31), (recent, 29)):
        file.write_text("{}\n")
        os.utime(file, (now - age_days * 86400, now - age_days * 86400))
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep")
    os.utime(unrelated, (0, 0))
    RotatingFile(path, max_bytes=10_000, keep_days=30, clock=lambda: now).close()
    assert not old.exists()
    assert recent.exists() and unrelated.exists()


def test_a_link_planted_at_the_audit_log_is_refused_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit" / "verdicts.jsonl").symlink_to(victim)
    with pytest.raises(OSError):
        open_audit_log(tmp_path / "audit" / "verdicts.jsonl", max_bytes=1_000_000,
                       keep_days=90)
    assert victim.read_text() == "precious\n"


def test_a_file_rotated_in_this_boot_is_aged_by_the_time_since_boot(tmp_path: Path) -> None:
    now, boot = [1_800_000_000.0], ["0badc0de", 1000.0]
    path = tmp_path / "verdicts.jsonl"
    stream = RotatingFile(path, max_bytes=10_000, keep_days=1, clock=lambda: now[0],
                          boot=lambda: (boot[0], boot[1]))
    stream.rotate()
    (rotated,) = stream.rotated()
    assert rotated.name.endswith(".0badc0de.1000.jsonl")
    now[0] += 100 * 86400  # the wall clock leaps 100 days; the kernel's count does not
    stream.prune()
    assert rotated.exists()
    boot[1] += 86400 + 1  # a day and a second of real time in this boot
    stream.prune()
    assert not rotated.exists()
    stream.close()


def test_another_boots_files_wait_for_a_trusted_clock(tmp_path: Path) -> None:
    now, trusted = 1_800_000_000.0, [False]
    path = tmp_path / "verdicts.jsonl"
    old = tmp_path / "verdicts-20270101T000000000000Z.feedface.50.jsonl"
    legacy = tmp_path / "verdicts-20270102T000000000000Z.jsonl"
    for file in (old, legacy):
        file.write_text("{}\n")
        os.utime(file, (now - 31 * 86400, now - 31 * 86400))
    stream = RotatingFile(path, max_bytes=10_000, keep_days=30, clock=lambda: now,
                          clock_trusted=lambda: trusted[0], boot=lambda: ("0badc0de", 99.0))
    log = JsonLinesEvents(stream)
    show_verdicts(log, 1)
    assert old.exists() and legacy.exists()  # no trusted age: kept
    trusted[0] = True
    show_verdicts(log, 1)  # the next write tries again
    assert not old.exists() and not legacy.exists()
    log.close()
