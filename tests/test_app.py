from __future__ import annotations

import threading

import pytest

from kiosk.app import Kiosk, scanner_readings
from kiosk.decoding.codes import to_code
from kiosk.loop import ArmCheck, CheckStatus, CheckUpdate, Reading
from kiosk.model import CheckTerms, Code, CodeKind, Outcome, Phase, Reason, Verdict
from tests.fakes.clock import FakeClock
from tests.fakes.signals import RecordingSignals

A = to_code("3559217693026", "EAN-13", decode_ms=3.0)
B = to_code("1234567890128", "Code128", decode_ms=4.0)
assert A is not None and B is not None


class ScriptedChecker:
    """Answers every code with the outcome scripted for its text, and records the calls."""

    def __init__(self, outcomes: dict[str, Outcome] | None = None, gate=None) -> None:
        self.outcomes = outcomes or {}
        self.calls: list[Code] = []
        self.gate = gate

    def check(self, code: Code) -> Verdict:
        self.calls.append(code)
        if self.gate is not None:
            self.gate.wait(2)
        outcome = self.outcomes.get(code.text, Outcome.PASS)
        return Verdict(Reason.VALID if outcome is Outcome.PASS else Reason.NOT_VALID, "validate",
                       CodeKind.BARCODE, "id", ms={"diia": 1.0})


def held(code: Code, frames: int, confirmed_at: int = 1) -> list[Reading]:
    """A code held for `frames` frames; the decoder confirms it on frame `confirmed_at`."""
    return [Reading([code], [code] if i == confirmed_at else [], float(i)) for i in range(frames)]


def empty(frames: int) -> list[Reading]:
    return [Reading([], [], 0.0) for _ in range(frames)]


def run(readings, checker=None, extra=(), **kwargs) -> tuple[Kiosk, RecordingSignals]:
    signals = RecordingSignals()
    kiosk = Kiosk(readings=readings, checker=checker or ScriptedChecker(),
                  signals=[signals, *extra],
                  result_seconds=kwargs.pop("result_seconds", 0), **kwargs)
    kiosk.run()
    return kiosk, signals


def test_a_held_code_gives_one_verdict_and_the_phases_in_order() -> None:
    checker = ScriptedChecker()
    kiosk, signals = run(held(A, 30), checker)
    assert len(checker.calls) == 1
    assert signals.phases == [Phase.IDLE, Phase.READING, Phase.CHECKING, Phase.PASS, Phase.IDLE]
    assert kiosk.verdicts == 1


def test_a_code_taken_away_and_shown_again_is_checked_again() -> None:
    checker = ScriptedChecker()
    run(held(A, 5) + empty(8) + held(A, 5), checker, gone_frames=8)
    assert len(checker.calls) == 2


def test_a_short_gap_in_reads_is_still_the_same_presentation() -> None:
    checker = ScriptedChecker()
    run(held(A, 5) + empty(3) + held(A, 5), checker, gone_frames=8)
    assert len(checker.calls) == 1


def test_two_codes_in_turn_give_two_verdicts_with_their_outcomes() -> None:
    checker = ScriptedChecker({B.text: Outcome.FAIL})
    _, signals = run(held(A, 3) + held(B, 3), checker, gone_frames=3)
    assert [v.outcome for v in signals.verdicts] == [Outcome.PASS, Outcome.FAIL]


def test_verdict_carries_decode_diia_and_total_times() -> None:
    _, signals = run(held(A, 3))
    ms = signals.verdicts[0].ms
    assert set(ms) == {"decode", "queue", "diia", "total"}
    assert ms["decode"] == 3.0 and ms["diia"] == 1.0 and ms["total"] >= 0


def test_a_code_read_while_a_verdict_shows_reports_its_wait_as_the_queue_stage() -> None:
    clock = FakeClock()  # at 100.0; sleeping moves it on: the verdict's 2 s pass at once
    typed = [Reading([A], [A], 100.0), Reading([B], [B], 100.0)]  # B typed right after A
    _, signals = run(typed, gone_frames=0, result_seconds=2.0, clock=clock,
                     sleep=clock.sleep)
    first, second = (v.ms for v in signals.verdicts)
    assert first["queue"] == 0.0
    assert second["queue"] >= 2000.0 - B.decode_ms and second["diia"] == 1.0
    assert second["total"] >= second["queue"]  # total: from the read to the verdict


def test_the_decode_time_is_not_counted_again_as_queue_time() -> None:
    # A frame taken at 100.0 whose decode took 0.5 s: the loop has it at 100.5 and starts at
    # once, so the code waited for nothing. The stages add up to the total.
    slow = to_code("3559217693026", "EAN-13", decode_ms=500.0)
    clock = FakeClock()
    clock.now = 100.5
    _, signals = run([Reading([slow], [slow], 100.0)], gone_frames=0, clock=clock,
                     sleep=clock.sleep)
    ms = signals.verdicts[0].ms
    assert ms["decode"] == 500.0 and ms["queue"] == 0.0
    assert ms["decode"] + ms["queue"] + ms["diia"] == pytest.approx(ms["total"], abs=1.0)


def test_no_pause_between_verdicts_when_result_seconds_is_zero() -> None:
    sleeps: list[float] = []
    run(held(A, 3) + held(B, 3), gone_frames=3, result_seconds=0, sleep=sleeps.append)
    assert sleeps == []


def test_a_verdict_stays_for_result_seconds() -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    run(held(A, 3), result_seconds=1.0, clock=lambda: now[0], sleep=sleep)
    assert abs(sum(sleeps) - 1.0) < 1e-6 and len(sleeps) >= 25  # ticks ~30 times a second


def test_screen_and_watchdog_keep_going_while_diia_is_asked() -> None:
    gate = threading.Event()
    beats: list[int] = []
    checker = ScriptedChecker(gate=gate)
    timer = threading.Timer(0.3, gate.set)
    timer.start()
    _, signals = run(held(A, 3), checker, heartbeat=lambda: beats.append(1))
    assert signals.ticks >= 5 and len(beats) >= 5  # ~30 Hz for 0.3 s, not frozen


def test_reading_falls_back_to_idle_when_the_code_disappears_unconfirmed() -> None:
    readings = [Reading([A], [], 0.0), *empty(2)]
    checker = ScriptedChecker()
    _, signals = run(readings, checker)
    assert signals.phases == [Phase.IDLE, Phase.READING, Phase.IDLE]
    assert checker.calls == []


def test_scanner_reads_are_each_a_presentation() -> None:
    class TwoScans:
        def codes(self):
            yield A
            yield A

    checker = ScriptedChecker()
    run(scanner_readings(TwoScans()), checker, gone_frames=0)
    assert len(checker.calls) == 2


class FakeTill:
    """The till's port: hands over scripted commands, records what it is told."""

    def __init__(self, *commands, broken: bool = False) -> None:
        self.commands = list(commands)
        self.reports: list = []
        self.broken = broken

    def take(self) -> list:
        if self.broken:
            raise ConnectionError("the API thread died")
        taken, self.commands = self.commands, []
        return taken

    def report(self, update) -> None:
        self.reports.append(update)


class TermsChecker(ScriptedChecker):
    def __init__(self) -> None:
        super().__init__()
        self.terms: list = []

    def check(self, code: Code, terms=None) -> Verdict:
        self.terms.append(terms)
        return super().check(code)


def test_the_till_arms_a_check_and_hears_its_verdict() -> None:
    terms = CheckTerms("c1", mode="age", min_age=21, reference="order 7")
    till = FakeTill(ArmCheck(terms))
    checker = TermsChecker()
    _, signals = run(held(A, 3) + empty(3) + held(B, 3), checker, gone_frames=3,
                     require_arming=True, till=till)
    assert checker.terms == [terms]  # B came after the one arming was used: not sent
    told = [(u.id, u.status) if isinstance(u, CheckUpdate) else ("record", u.check)
            for u in till.reports]
    assert told == [("c1", CheckStatus.ARMED), ("c1", CheckStatus.CHECKING),
                    ("record", "c1"), ("c1", CheckStatus.DONE)]  # the verdict by its check id
    assert till.reports[-1].verdict == signals.verdicts[0] == till.reports[-2].verdict
    assert signals.phases[0] is Phase.ATTENDED_WAIT and signals.phases[-1] is Phase.ATTENDED_WAIT


def test_a_till_that_fails_does_not_stop_the_loop() -> None:
    checker = ScriptedChecker()
    kiosk, _ = run(held(A, 3), checker, till=FakeTill(broken=True))
    assert kiosk.verdicts == 1


def test_a_code_scanned_while_nothing_is_armed_is_logged_not_dropped_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    checker = ScriptedChecker()
    till = FakeTill()
    with caplog.at_level("INFO", logger="kiosk.app"):
        run([Reading([A], [A], 0.0), Reading([], [], 0.0)], checker, gone_frames=0,
            require_arming=True, till=till)
    assert checker.calls == []  # not armed: never sent
    assert "scanned while the kiosk was not armed" in caplog.text
