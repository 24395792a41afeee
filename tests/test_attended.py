"""Attended mode in the loop, with a real gpiozero Button on mock pins pressed by a cashier.

Time is a fake clock: each camera frame moves it on by 1/15 s and each wait by what was
waited, so the tests run in milliseconds while the kiosk sees seconds go by.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.app import Kiosk
from kiosk.decoding.codes import to_code
from kiosk.loop import STAFF_SETTLE_S, Reading
from kiosk.model import Code, CodeKind, Phase, Reason, StaffCommand, State, Verdict
from kiosk.signals.events import JsonLinesEvents
from kiosk.staff import GpioStaffButton, QueuedStaffInput
from tests.fakes.signals import RecordingSignals

A = to_code("3559217693026", "EAN-13")
B = to_code("1234567890128", "EAN-13")
assert A is not None and B is not None
PIN = 23
FRAME_S = 1 / 15


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Checker:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[Code] = []
        self.gate = gate

    def check(self, code: Code) -> Verdict:
        self.calls.append(code)
        if self.gate is not None:
            self.gate.wait(2)
        return Verdict(Reason.VALID, "age", CodeKind.BARCODE, "id")


class Cashier:
    """A `Signals` standing for the member of staff: watches the screen and presses the real
    button `react_s` after it asks for staff. `arms` and `acks` say how often to do each."""

    def __init__(self, factory: MockFactory, arms: int = 1, acks: int = 1,
                 react_s: float = 1.5, double: bool = False) -> None:
        self.pin = factory.pin(PIN)
        self.arms, self.acks, self.react_s, self.double = arms, acks, react_s, double
        self.due: float | None = None
        self.presses = 0

    def show(self, state: State) -> None:
        if state.phase is Phase.ATTENDED_WAIT and self.arms > 0:
            self.arms -= 1
            self.due = state.since + self.react_s
        elif state.awaiting_staff and self.acks > 0:
            self.acks -= 1
            self.due = state.since + self.react_s

    def tick(self, now: float) -> None:
        if self.due is not None and now >= self.due:
            self.due = None
            self.press()
            if self.double:
                self.press()  # a slip of the thumb

    def press(self) -> None:
        self.presses += 1
        self.pin.drive_low()
        self.pin.drive_high()

    def close(self) -> None:
        pass


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()


def frames(clock: Clock, *script: tuple[Code | None, int]) -> Iterator[Reading]:
    """(code or None, frames) in turn; a code is confirmed on its second frame."""
    for code, count in script:
        for i in range(count):
            clock.now += FRAME_S
            seen = [code] if code else []
            yield Reading(seen, seen if i == 1 else [], clock.now)


def attended(
    factory: MockFactory,
    clock: Clock,
    readings: Iterator[Reading],
    cashier: Cashier,
    checker: Checker | None = None,
    **kwargs: object,
) -> tuple[Kiosk, RecordingSignals]:
    recorder = RecordingSignals()
    button = GpioStaffButton(PIN, pin_factory=factory)
    kiosk = Kiosk(readings=readings, checker=checker or Checker(), signals=[recorder, cashier],
                  gone_frames=8, attended=True, staff=button, clock=clock, sleep=clock.sleep,
                  **kwargs)  # type: ignore[arg-type]
    try:
        kiosk.run()
    finally:
        button.close()
    return kiosk, recorder


def test_a_code_shown_before_staff_arm_the_kiosk_is_not_sent(factory: MockFactory) -> None:
    clock, checker = Clock(), Checker()
    _, seen = attended(factory, clock, frames(clock, (A, 10), (None, 10)), Cashier(factory, 0),
                       checker)
    assert checker.calls == []
    assert seen.phases == [Phase.ATTENDED_WAIT]


def test_staff_arm_the_code_is_checked_and_the_verdict_waits_for_them(
    factory: MockFactory,
) -> None:
    clock, checker = Clock(), Checker()
    cashier = Cashier(factory)
    _, seen = attended(factory, clock, frames(clock, (None, 30), (A, 10), (None, 10)), cashier,
                       checker)
    assert checker.calls == [A]
    assert seen.phases == [Phase.ATTENDED_WAIT, Phase.IDLE, Phase.READING, Phase.CHECKING,
                           Phase.PASS, Phase.ATTENDED_WAIT]
    verdict_shown = seen.states[4]
    assert verdict_shown.awaiting_staff, "the screen says how the verdict goes away"
    left = seen.states[5]
    assert left.since - verdict_shown.since >= cashier.react_s  # it stayed until the press
    assert cashier.presses == 2


def test_a_code_held_up_while_staff_arm_is_checked_without_showing_it_again(
    factory: MockFactory,
) -> None:
    clock, checker = Clock(), Checker()
    _, seen = attended(factory, clock, frames(clock, (A, 40)), Cashier(factory), checker)
    assert checker.calls == [A]
    assert seen.phases[:3] == [Phase.ATTENDED_WAIT, Phase.IDLE, Phase.CHECKING]


def test_a_code_taken_away_before_the_arming_is_forgotten(factory: MockFactory) -> None:
    clock, checker = Clock(), Checker()
    readings = frames(clock, (A, 4), (None, 30))  # gone long before the press at 1.5 s
    attended(factory, clock, readings, Cashier(factory), checker)
    assert checker.calls == []


def test_each_arming_allows_one_check(factory: MockFactory) -> None:
    clock, checker = Clock(), Checker()
    readings = frames(clock, (None, 30), (A, 10), (None, 10), (B, 10), (None, 10))
    _, seen = attended(factory, clock, readings, Cashier(factory, arms=1, acks=1), checker)
    assert checker.calls == [A]
    assert seen.phases[-1] is Phase.ATTENDED_WAIT


def test_the_arming_runs_out_when_no_code_comes(factory: MockFactory) -> None:
    clock, checker = Clock(), Checker()
    readings = frames(clock, (None, 30), (None, 45), (A, 10))  # 3 s after arming: too late
    _, seen = attended(factory, clock, readings, Cashier(factory), checker, arm_seconds=2.0)
    assert checker.calls == []
    assert seen.phases == [Phase.ATTENDED_WAIT, Phase.IDLE, Phase.ATTENDED_WAIT]
    assert seen.states[2].since - seen.states[1].since == pytest.approx(2.0, abs=FRAME_S)


def test_a_double_press_acknowledges_without_arming_again(factory: MockFactory) -> None:
    clock, checker = Clock(), Checker()
    readings = frames(clock, (None, 30), (A, 10), (None, 10), (B, 10), (None, 10))
    cashier = Cashier(factory, arms=1, acks=1, double=True)
    _, seen = attended(factory, clock, readings, cashier, checker)
    assert cashier.presses == 4
    assert checker.calls == [A], "B came after the acknowledgement: nobody armed for it"
    assert seen.phases[-1] is Phase.ATTENDED_WAIT
    assert seen.phases.count(Phase.IDLE) == 1


def test_a_press_while_diia_is_asked_does_not_clear_the_verdict(factory: MockFactory) -> None:
    gate = threading.Event()
    clock, checker = Clock(), Checker(gate)
    cashier = Cashier(factory, arms=1, acks=1, react_s=2.0)

    class Impatient(Cashier):
        def show(self, state: State) -> None:
            if state.phase is Phase.CHECKING:
                clock.now += STAFF_SETTLE_S + 0.1
                cashier.press()  # pressed during the check: ignored
                gate.set()

    recorder = RecordingSignals()
    button = GpioStaffButton(PIN, pin_factory=factory)
    kiosk = Kiosk(readings=frames(clock, (None, 30), (A, 10), (None, 10)), checker=checker,
                  signals=[recorder, cashier, Impatient(factory)], attended=True, staff=button,
                  clock=clock, sleep=clock.sleep)
    kiosk.run()
    button.close()
    held = next(s for s in recorder.states if s.awaiting_staff)
    after = recorder.states[recorder.states.index(held) + 1]
    assert after.since - held.since >= 2.0, "only the press after the verdict cleared it"


def test_the_pos_can_say_which_command_it_means() -> None:
    clock, checker = Clock(), Checker()
    pos = QueuedStaffInput()

    class Pos:
        def show(self, state: State) -> None:
            if state.phase is Phase.ATTENDED_WAIT and not checker.calls:
                pos.put(StaffCommand.ACKNOWLEDGE)  # nothing to acknowledge: no arming
                pos.put(StaffCommand.ARM)
            elif state.awaiting_staff:
                pos.put(StaffCommand.ARM)  # arming is not acknowledging
                pos.put(StaffCommand.ACKNOWLEDGE)

        def tick(self, now: float) -> None:
            pass

        def close(self) -> None:
            pass

    recorder = RecordingSignals()
    kiosk = Kiosk(readings=frames(clock, (A, 10)), checker=checker, signals=[recorder, Pos()],
                  attended=True, staff=pos, clock=clock, sleep=clock.sleep)
    kiosk.run()
    assert checker.calls == [A]
    assert recorder.phases[-2:] == [Phase.PASS, Phase.ATTENDED_WAIT]


def test_one_event_for_a_held_verdict(factory: MockFactory, tmp_path: Path) -> None:
    clock = Clock()
    events_path = tmp_path / "events.jsonl"
    events = JsonLinesEvents.open(str(events_path))
    button = GpioStaffButton(PIN, pin_factory=factory)
    kiosk = Kiosk(readings=frames(clock, (None, 30), (A, 10)), checker=Checker(),
                  signals=[events, Cashier(factory)], attended=True, staff=button,
                  clock=clock, sleep=clock.sleep)
    kiosk.run()
    button.close()
    events.close()
    assert len(events_path.read_text().splitlines()) == 1


def test_unattended_ignores_the_button_and_keeps_result_seconds(factory: MockFactory) -> None:
    clock, checker = Clock(), Checker()
    button = GpioStaffButton(PIN, pin_factory=factory)
    recorder = RecordingSignals()
    kiosk = Kiosk(readings=frames(clock, (A, 10)), checker=checker,
                  signals=[recorder, Cashier(factory, react_s=0.0)], result_seconds=1.0,
                  staff=button, clock=clock, sleep=clock.sleep)
    kiosk.run()
    button.close()
    assert recorder.phases == [Phase.IDLE, Phase.READING, Phase.CHECKING, Phase.PASS,
                               Phase.IDLE]
    assert not any(s.awaiting_staff for s in recorder.states)
    assert recorder.states[4].since - recorder.states[3].since == pytest.approx(1.0)


def test_attended_mode_without_a_staff_input_is_refused() -> None:
    with pytest.raises(ValueError, match="staff"):
        Kiosk(readings=[], checker=Checker(), signals=[], attended=True)


def test_the_demo_shows_attended_mode_and_saves_every_screen_at_every_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kiosk.demo import run_demo
    from kiosk.signals.screen import SCREEN_SIZES

    narration = io.StringIO()
    assert run_demo(screenshot_dir=tmp_path, result_seconds=0, narration=narration) == 0
    told = narration.getvalue()
    assert "before staff armed the kiosk: not sent yet" in told
    armed = told.index("cashier presses the staff button: the kiosk is armed")
    assert told.index("verdict seen, screen cleared") > told.index("-> pass", armed)
    names = {p.name for p in tmp_path.glob("*.png")}
    for look in ("idle", "checking", "pass-valid", "fail-expired", "attended_wait",
                 "pass-valid-staff"):
        for w, h in SCREEN_SIZES:
            assert any(n.endswith(f"-{look}-{w}x{h}.png") for n in names), (look, w, h)
    events = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(events) == 11  # ten unattended verdicts and the attended one
