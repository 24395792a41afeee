"""The loop's rules, as plain values in and out: each row is one rule of the README, the
inputs that exercise it, and what must come out (phases shown, codes sent, what the till
hears)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from kiosk.decoding.codes import to_code
from kiosk.loop import (
    ArmCheck,
    CancelCheck,
    Checked,
    CheckStatus,
    CheckUpdate,
    Effect,
    FaultChanged,
    Input,
    LoopState,
    Reading,
    Record,
    Rules,
    Show,
    Staff,
    StartCheck,
    Tick,
    start,
    step,
)
from kiosk.model import CheckTerms, Code, CodeKind, Fault, Phase, Reason, StaffCommand, Verdict

A = to_code("3559217693026", "EAN-13")
B = to_code("1234567890128", "Code128")
assert A is not None and B is not None
IDLE, READ, CHECK, PASS, FAIL, WAIT = (Phase.IDLE, Phase.READING, Phase.CHECKING, Phase.PASS,
                                       Phase.FAIL, Phase.ATTENDED_WAIT)
PRESS, ARM, ACK = StaffCommand.PRESS, StaffCommand.ARM, StaffCommand.ACKNOWLEDGE


def verdict(reason: Reason = Reason.VALID) -> Verdict:
    return Verdict(reason, "age", CodeKind.BARCODE, "id")


def held(code: Code, frames: int, at: float = 0.0, confirmed_at: int = 1) -> list[Input]:
    """A code held for `frames` frames, 1/15 s apart; confirmed on frame `confirmed_at`."""
    return [Reading([code], [code] if i == confirmed_at else [], at + i / 15)
            for i in range(frames)]


def empty(frames: int, at: float = 0.0) -> list[Input]:
    return [Reading([], [], at + i / 15) for i in range(frames)]


def answer(at: float, reason: Reason = Reason.VALID) -> Input:
    return Checked(verdict(reason), at)


ARMED, CHECKING, DONE, CANCELLED, EXPIRED = (CheckStatus.ARMED, CheckStatus.CHECKING,
                                             CheckStatus.DONE, CheckStatus.CANCELLED,
                                             CheckStatus.EXPIRED)
TILL = CheckTerms("c1", mode="age", min_age=21, reference="order 7")


@dataclass
class Outcome:
    state: LoopState
    effects: list[Effect] = field(default_factory=list)

    @property
    def phases(self) -> list[Phase]:
        return [e.state.phase for e in self.effects if isinstance(e, Show)]

    @property
    def sent(self) -> list[str]:
        names = {A.text: "A", B.text: "B"}
        return [names[e.code.text] for e in self.effects if isinstance(e, StartCheck)]

    @property
    def till(self) -> list[tuple[str, CheckStatus]]:
        return [(e.id, e.status) for e in self.effects if isinstance(e, CheckUpdate)]


def play(rules: Rules, inputs: Sequence[Input]) -> Outcome:
    state, effects = start(rules, 0.0)
    out = Outcome(state, list(effects))
    for event in inputs:
        out.state, effects = step(out.state, event, rules)
        out.effects += effects
    return out


UNATTENDED = Rules(result_seconds=0, gone_frames=3)
SHOWN_3S = Rules(result_seconds=3.0, gone_frames=3)
ATTENDED = Rules(attended=True, gone_frames=3, arm_seconds=60)
TILL_ARMS = Rules(require_arming=True, result_seconds=0, gone_frames=3, arm_seconds=60)

# (rule, rules, inputs, phases shown, codes sent, what the till hears)
RULES = [
    ("a code held in view gives one check, and the phases run in order",
     UNATTENDED, [*held(A, 2), answer(1), *held(A, 10, 1)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], []),
    ("a code taken away for gone_frames frames and shown again is checked again",
     UNATTENDED, [*held(A, 2), answer(1), *empty(3, 1), *held(A, 2, 2)],
     [IDLE, READ, CHECK, PASS, IDLE, READ, CHECK], ["A", "A"], []),
    ("a shorter gap is still the same presentation",
     UNATTENDED, [*held(A, 2), answer(1), *empty(2, 1), *held(A, 4, 2)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], []),
    ("a 1D read not yet confirmed shows reading, and idle again when it goes",
     UNATTENDED, [Reading([A], [], 0.1), *empty(1, 0.2)],
     [IDLE, READ, IDLE], [], []),
    ("a scanner read is a presentation of its own (gone_frames 0)",
     Rules(result_seconds=0, gone_frames=0),
     [Reading([A], [A], 0.0), answer(0.1), Reading([A], [A], 0.2)],
     [IDLE, CHECK, PASS, IDLE, CHECK], ["A", "A"], []),
    ("two codes confirmed in one frame are checked in turn",
     UNATTENDED, [Reading([A, B], [A, B], 0.0), answer(0.5), answer(1.0, Reason.EXPIRED)],
     [IDLE, CHECK, PASS, CHECK, FAIL, IDLE], ["A", "B"], []),
    ("a verdict stays result_seconds, then idle",
     SHOWN_3S, [*held(A, 2), answer(1.0), Tick(3.9), Tick(4.0)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], []),
    ("no frames are taken while a verdict is shown",
     SHOWN_3S, [*held(A, 2), answer(1.0), *held(B, 3, 1.5), Tick(4.0)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], []),
    ("a fault shows a banner over any phase and changes no phase",
     UNATTENDED, [FaultChanged(Fault.CAMERA, True, 0.1), *held(A, 2, 0.2),
                  FaultChanged(Fault.CAMERA, False, 0.5)],
     [IDLE, IDLE, READ, CHECK, CHECK], ["A"], []),
    # attended mode
    ("attended: the kiosk waits for staff; a code shown before the arming is not sent",
     ATTENDED, [*held(A, 2)], [WAIT], [], []),
    ("attended: staff arm while the code is still held: it is checked, no need to show again",
     ATTENDED, [*held(A, 2), Staff(PRESS, 0.2), Reading([A], [], 0.3)],
     [WAIT, IDLE, CHECK], ["A"], []),
    ("attended: a code taken away before the arming is forgotten",
     ATTENDED, [*held(A, 2), *empty(3, 0.2), Staff(PRESS, 0.5), *empty(2, 0.6)],
     [WAIT, IDLE], [], []),
    ("attended: the verdict stays until staff acknowledge it; then staff must arm again",
     ATTENDED, [Staff(PRESS, 0), *held(A, 2, 0.1), answer(1), Tick(500),
                Staff(PRESS, 501), *held(B, 2, 502)],
     [WAIT, IDLE, READ, CHECK, PASS, WAIT], ["A"], []),
    ("attended: a press while Diia is asked does not clear the verdict to come",
     ATTENDED, [Staff(PRESS, 0), *held(A, 2, 0.1), Staff(PRESS, 1.5), answer(2)],
     [WAIT, IDLE, READ, CHECK, PASS], ["A"], []),
    ("attended: a double press acknowledges without arming again",
     ATTENDED, [Staff(PRESS, 0), *held(A, 2, 0.1), answer(1), Staff(PRESS, 5),
                Staff(PRESS, 5.2), *held(B, 2, 6)],
     [WAIT, IDLE, READ, CHECK, PASS, WAIT], ["A"], []),
    ("attended: the arming lapses after arm_seconds without a code",
     ATTENDED, [Staff(PRESS, 0), Tick(59), Tick(60), *held(A, 2, 61)],
     [WAIT, IDLE, WAIT], [], []),
    ("attended: the till can arm and acknowledge by name",
     ATTENDED, [Staff(ACK, 0), Staff(ARM, 0.1), *held(A, 2, 0.2), answer(1), Staff(ARM, 2),
                Staff(ACK, 3)],
     [WAIT, IDLE, READ, CHECK, PASS, WAIT], ["A"], []),
    ("unattended: the staff button does nothing",
     UNATTENDED, [Staff(PRESS, 0), *held(A, 2, 0.1), answer(1)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], []),
    # the till
    ("the till arms a check: the next code is checked with its terms and the till hears it",
     UNATTENDED, [ArmCheck(TILL, 0), *held(A, 2, 0.1), answer(1)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], [("c1", ARMED), ("c1", CHECKING), ("c1", DONE)]),
    ("require_arming: no code is sent until the till arms a check",
     TILL_ARMS, [*held(A, 4), *empty(3, 0.3), ArmCheck(TILL, 1), *held(B, 2, 1.1), answer(2)],
     [WAIT, IDLE, READ, CHECK, PASS, WAIT], ["B"], [("c1", ARMED), ("c1", CHECKING), ("c1", DONE)]),
    ("require_arming: a code held up when the till arms is checked at once",
     TILL_ARMS, [*held(A, 2), ArmCheck(TILL, 0.2), Reading([A], [], 0.3)],
     [WAIT, IDLE, CHECK], ["A"], [("c1", ARMED), ("c1", CHECKING)]),
    ("an armed check expires unused",
     TILL_ARMS, [ArmCheck(TILL, 0), Tick(59.9), Tick(60), *held(A, 2, 61)],
     [WAIT, IDLE, WAIT], [], [("c1", ARMED), ("c1", EXPIRED)]),
    ("the till's own expiry wins over arm_seconds",
     TILL_ARMS, [ArmCheck(CheckTerms("c2", expires_in_s=5.0), 1), Tick(6.0)],
     [WAIT, IDLE, WAIT], [], [("c2", ARMED), ("c2", EXPIRED)]),
    ("the till cancels an armed check",
     TILL_ARMS, [ArmCheck(TILL, 0), CancelCheck("c1", 1), *held(A, 2, 2)],
     [WAIT, IDLE, WAIT], [], [("c1", ARMED), ("c1", CANCELLED)]),
    ("a cancel while the check runs: the till hears cancelled, the customer sees the verdict",
     UNATTENDED, [ArmCheck(TILL, 0), *held(A, 2, 0.1), CancelCheck("c1", 0.5), answer(1)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"], [("c1", ARMED), ("c1", CHECKING), ("c1", CANCELLED)]),
    ("a second arming replaces the first",
     UNATTENDED, [ArmCheck(TILL, 0), ArmCheck(CheckTerms("c2"), 1), *held(A, 2, 2), answer(3)],
     [IDLE, READ, CHECK, PASS, IDLE], ["A"],
     [("c1", ARMED), ("c1", CANCELLED), ("c2", ARMED), ("c2", CHECKING), ("c2", DONE)]),
    ("a cancel of an unknown check changes nothing",
     UNATTENDED, [CancelCheck("nope", 0)], [IDLE], [], []),
]


@pytest.mark.parametrize(("rules", "inputs", "phases", "sent", "till"),
                         [row[1:] for row in RULES], ids=[row[0] for row in RULES])
def test_the_rules_of_the_loop(rules, inputs, phases, sent, till) -> None:
    out = play(rules, inputs)
    assert out.phases == phases
    assert out.sent == sent
    assert out.till == till


def test_the_till_s_terms_go_with_the_check_and_its_verdict_comes_back() -> None:
    out = play(UNATTENDED, [ArmCheck(TILL, 0), *held(A, 2, 0.1), answer(1)])
    (started,) = [e for e in out.effects if isinstance(e, StartCheck)]
    assert started.terms == TILL and started.read_at == pytest.approx(0.1 + 1 / 15)
    done = [e for e in out.effects if isinstance(e, CheckUpdate)][-1]
    assert done.verdict == verdict() and done.reference == "order 7"


def test_each_verdict_is_recorded_once_and_counted() -> None:
    out = play(UNATTENDED, [*held(A, 2), answer(1), *empty(3, 1), *held(B, 2, 2),
                            answer(3, Reason.EXPIRED)])
    records = [e.verdict.reason for e in out.effects if isinstance(e, Record)]
    assert records == [Reason.VALID, Reason.EXPIRED] and out.state.verdicts == 2


def test_a_verdict_held_for_staff_says_so_and_stays_on_ticks() -> None:
    out = play(ATTENDED, [Staff(PRESS, 0), *held(A, 2, 0.1), answer(1), Tick(3600)])
    last = [e.state for e in out.effects if isinstance(e, Show)][-1]
    assert last.phase is PASS and last.awaiting_staff and last.verdict == verdict()


def test_frames_are_wanted_only_while_the_kiosk_rests() -> None:
    rules = SHOWN_3S
    state, _ = start(rules, 0.0)
    assert state.wants_readings
    for event, wanted in [(held(A, 2)[0], True), (held(A, 2)[1], False),
                          (answer(1), False), (Tick(4.0), True)]:
        state, _ = step(state, event, rules)
        assert state.wants_readings is wanted


def test_a_verdict_without_a_check_in_flight_is_ignored() -> None:
    out = play(UNATTENDED, [answer(1)])
    assert out.phases == [IDLE] and out.state.verdicts == 0


def test_terms_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="mode"):
        CheckTerms("x", mode="passport")
    with pytest.raises(ValueError, match="min_age"):
        CheckTerms("x", min_age=151)
    assert CheckTerms("x", min_age=0).min_age == 0  # the config's range: 0..150
