"""Outputs isolated from each other: a broken one is logged, counted, shown as a fault banner
on the others and retried; the loop and every other output go on."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.decoding import code_images
from kiosk.decoding.codes import to_code
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Fault, Phase, State
from kiosk.outputs import Outputs
from tests.fakes.clock import FakeClock
from tests.fakes.signals import RecordingSignals
from tests.test_app import ScriptedChecker, held, run
from tests.test_cli import secrets_env, write_config

A = to_code("3559217693026", "EAN-13")
B = to_code("1234567890128", "Code128")
assert A is not None and B is not None


class BrokenSignals(RecordingSignals):
    """An output that raises `error` on show (and on tick with `ticks_fail`) until mended."""

    def __init__(self, error: Exception, ticks_fail: bool = False) -> None:
        super().__init__()
        self.error = error
        self.ticks_fail = ticks_fail
        self.attempts = 0

    def show(self, state: State) -> None:
        self.attempts += 1
        if self.error is not None:
            raise self.error
        super().show(state)

    def tick(self, now: float) -> None:
        if self.ticks_fail and self.error is not None:
            raise self.error
        super().tick(now)

    def close(self) -> None:
        if self.error is not None:
            raise self.error
        super().close()


def test_a_raising_output_is_counted_logged_once_and_the_others_still_show(caplog) -> None:
    broken, fine = BrokenSignals(OSError(28, "No space left on device")), RecordingSignals()
    errors: list[tuple[str, str]] = []
    outputs = Outputs([broken, fine], lambda name, kind: errors.append((name, kind)))
    with caplog.at_level(logging.ERROR, logger="kiosk.outputs"):
        for phase in (Phase.IDLE, Phase.CHECKING, Phase.PASS):
            outputs.show(State(phase))
    assert fine.phases == [Phase.IDLE, Phase.CHECKING, Phase.PASS]
    assert errors == [("BrokenSignals", "OSError")] * 3
    assert outputs.failing and outputs.failing_names() == ["BrokenSignals"]
    logged = [r for r in caplog.records if "BrokenSignals" in r.getMessage()]
    assert len(logged) == 1 and "No space left" in logged[0].getMessage()


def test_each_kind_of_failure_is_logged_once(caplog) -> None:
    broken = BrokenSignals(OSError("disk"))
    outputs = Outputs([broken])
    with caplog.at_level(logging.ERROR, logger="kiosk.outputs"):
        outputs.show(State(Phase.IDLE))
        outputs.show(State(Phase.IDLE))
        broken.error = BrokenPipeError("pipe")
        outputs.show(State(Phase.IDLE))
        outputs.show(State(Phase.IDLE))
    kinds = [r.getMessage().split(": ")[1] for r in caplog.records]
    assert kinds == ["OSError", "BrokenPipeError"]


def test_a_failing_output_is_not_ticked_but_retried_with_the_current_state() -> None:
    clock = FakeClock()
    broken = BrokenSignals(OSError("gone"), ticks_fail=True)
    outputs = Outputs([broken], retry_s=5.0, clock=clock)
    outputs.show(State(Phase.PASS))
    attempts = broken.attempts
    for _ in range(10):
        clock.sleep(0.1)
        outputs.tick(clock())
    assert broken.attempts == attempts and broken.ticks == 0  # left alone between retries
    broken.error = None  # the disk has room again
    clock.sleep(5.0)
    outputs.tick(clock())
    assert broken.phases == [Phase.PASS] and not outputs.failing
    outputs.tick(clock())
    assert broken.ticks == 1


def test_closing_goes_on_past_an_output_that_fails_to_close() -> None:
    broken, fine = BrokenSignals(OSError("flush")), RecordingSignals()
    Outputs([broken, fine]).close()
    assert fine.closed


def test_the_loop_goes_on_shows_a_banner_on_the_others_and_clears_it_when_mended() -> None:
    broken, fine = BrokenSignals(BrokenPipeError(32, "Broken pipe")), RecordingSignals()
    checker = ScriptedChecker()
    errors: list[tuple[str, str]] = []

    class Mend(RecordingSignals):  # mends the broken output once the second verdict is out
        def show(self, state: State) -> None:
            if state.phase is Phase.PASS and len(checker.calls) == 2:
                broken.error = None

    clock = FakeClock()
    kiosk, _ = run(held(A, 3) + held(B, 3) + held(A, 3), checker, gone_frames=3,
                   result_seconds=6.0, clock=clock, sleep=clock.sleep,
                   on_output_error=lambda name, kind: errors.append((name, kind)),
                   extra=[broken, fine, Mend()])
    assert len(checker.calls) == 3 and kiosk.verdicts == 3  # every code still checked
    banners = [Fault.OUTPUT in state.faults for state in fine.states]
    assert banners[0] is False and True in banners and banners[-1] is False
    assert set(errors) == {("BrokenSignals", "BrokenPipeError")}
    assert broken.states, "retried and shown once it worked again"


# --- `kiosk run` with its events going nowhere -------------------------------------------


def image_folder(sandbox: DiiaSandbox, folder: Path) -> int:
    folder.mkdir()
    codes = [sandbox.mint("valid", age=30), sandbox.mint("expired"), sandbox.mint("used")]
    for i, code in enumerate(codes):
        code_images.phone_photo(code_images.render_ean13(code), angle=3.0).save(folder / f"{i}.png")
    return len(codes)


def checks_sent(sandbox: DiiaSandbox) -> int:
    return len([r for r in sandbox.requests if "document-identification" in r.path])


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_run_with_events_to_a_full_disk_checks_every_code_and_ends_cleanly(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    shown = image_folder(sandbox, tmp_path / "codes")
    config = write_config(tmp_path / "kiosk.toml", sandbox, tmp_path / "codes", "validate",
                          events="/dev/full")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", **secrets_env(sandbox)}
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert checks_sent(sandbox) == shown
    assert f"source ended after {shown} verdicts" in result.stderr
    failures = [line for line in result.stderr.splitlines() if "JsonLinesEvents failed" in line]
    assert len(failures) == 1 and "No space left on device" in failures[0]


def test_run_with_a_pos_that_stopped_reading_checks_every_code_and_ends_cleanly(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    shown = image_folder(sandbox, tmp_path / "codes")
    config = write_config(tmp_path / "kiosk.toml", sandbox, tmp_path / "codes", "validate")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", **secrets_env(sandbox)}
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the POS is gone: every write to our stdout is a broken pipe
    stderr = process.stderr.read()
    assert process.wait(60) == 0, stderr
    assert checks_sent(sandbox) == shown
    assert f"source ended after {shown} verdicts" in stderr
    assert "JsonLinesEvents failed in show: BrokenPipeError" in stderr
    assert "Traceback" not in stderr


def test_the_failure_is_counted_in_metrics_and_shown_as_a_fault(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    from kiosk.bootstrap import bootstrap
    from kiosk.ops.runtime import Operations

    shown = image_folder(sandbox, tmp_path / "codes")
    config = write_config(tmp_path / "kiosk.toml", sandbox, tmp_path / "codes", "validate",
                          events="/dev/full", screen="off")
    ops = Operations.start(config, {})
    seen = RecordingSignals()
    appliance = bootstrap(ops.config, credentials=sandbox.credentials, ops=ops,
                          extra_signals=[seen])
    ops.attach(appliance)
    try:
        appliance.run()
    finally:
        ops.close()
    registry = ops.metrics.registry
    count = registry.get_sample_value("kiosk_output_errors_total",
                                      {"output": "JsonLinesEvents", "error": "OSError"})
    assert count is not None and count >= shown
    assert registry.get_sample_value("kiosk_fault", {"fault": "output"}) == 1
    assert len(seen.verdicts) >= shown and Fault.OUTPUT in seen.states[-1].faults
