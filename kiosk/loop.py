"""The kiosk's state machine, pure: `step(state, input, rules) -> (state, effects)`.

Inputs are plain values — a reading, a verdict, a staff command, a till command, a tick, a
fault change — and so are the effects: start a check, show a state, record a verdict, tell
the till how its check stands. No threads, no clock, no I/O: `kiosk.app.Kiosk` is the thin
shell that feeds inputs in and carries effects out.

The rules, as the README tells them:

- A code held in front of the camera gives one check; it counts as gone once `gone_frames`
  frames in a row missed it (frames, not seconds: no frames are pulled while a verdict is
  on screen, so a phone still held afterwards is the same presentation).
- A new 1D read waiting for its confirming frame shows "reading" (hold still).
- A verdict stays `result_seconds`; attended, it stays until staff acknowledge it.
- Attended mode (age checks) and `require_arming` (the till arms each check) make arming
  necessary: a code shown while not armed is not sent; if it is still held up when the kiosk
  is armed, it is checked then. Each arming allows one check, and lapses after its time.
- The till may arm a check with terms (mode, minimum age, the order's name, its reference)
  also when arming is not required: they apply to the next code.
- Any state carries the fault banners in force; faults never change the phase.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from kiosk.model import (
    RESULT_PHASES,
    CheckTerms,
    Code,
    Fault,
    Phase,
    StaffCommand,
    State,
    Verdict,
)

STAFF_SETTLE_S = 1.0  # a button press this soon after the last one is a bounce or a slip
_ARMING = (StaffCommand.PRESS, StaffCommand.ARM)
_ACKNOWLEDGING = (StaffCommand.PRESS, StaffCommand.ACKNOWLEDGE)
_RESTING = (Phase.IDLE, Phase.READING, Phase.ATTENDED_WAIT)


# --- the rules: configuration, as data ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rules:
    result_seconds: float = 3.0  # how long a verdict stays (unattended)
    gone_frames: int = 8  # frames without a code before it counts as taken away; 0: scanner
    attended: bool = False  # staff arm each check and acknowledge each verdict
    require_arming: bool = False  # a code is checked only while armed (by the till or staff)
    arm_seconds: float = 120.0  # how long one arming waits for a code
    check_seconds: float = 30.0  # the longest a Diia check may take, all its calls together
    share_seconds: float = 150.0  # the longest a share may take: waiting for its holder too
    staff_settle_s: float = STAFF_SETTLE_S

    @property
    def arming_required(self) -> bool:
        return self.attended or self.require_arming


# --- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """What one frame (or one scanner read) gave: every Diia code seen, those confirmed."""

    seen: Sequence[Code]
    confirmed: Sequence[Code]
    at: float  # monotonic time the frame was taken or the code typed


@dataclass(frozen=True, slots=True)
class Checked:
    """The checker's verdict on the code of the check in flight (timings already in)."""

    verdict: Verdict
    at: float


# Commands from staff and the till: `at` is stamped by the loop's shell when it takes them
# (its clock is the one that counts), so the till leaves it out.


@dataclass(frozen=True, slots=True)
class Staff:
    """A staff command: the button's PRESS, or ARM / ACKNOWLEDGE from the till."""

    command: StaffCommand
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class ArmCheck:
    """The till arms one check with its terms."""

    terms: CheckTerms
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class CancelCheck:
    id: str
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class OfferLink:
    """Online share `id`: Diia gave (or renewed) the deeplink to show as a QR."""

    id: str
    deeplink: str
    at: float


@dataclass(frozen=True, slots=True)
class Tick:
    at: float


@dataclass(frozen=True, slots=True)
class FaultChanged:
    fault: Fault
    active: bool
    at: float


Input = Reading | Checked | Staff | ArmCheck | CancelCheck | OfferLink | Tick | FaultChanged


# --- effects -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartCheck:
    code: Code
    read_at: float
    terms: CheckTerms | None = None


@dataclass(frozen=True, slots=True)
class StartOffer:
    """Online share: ask Diia for a deeplink, show it (`OfferLink`), renew it, poll it; the
    shell answers with `Checked`."""

    terms: CheckTerms
    at: float


@dataclass(frozen=True, slots=True)
class Show:
    state: State


@dataclass(frozen=True, slots=True)
class Record:
    """A verdict is out: count it, log it; `check` is the id of the till's check it answers
    ("" when no check was armed: a walk-up scan)."""

    verdict: Verdict
    check: str = ""


class CheckStatus(StrEnum):
    ARMED = "armed"
    CHECKING = "checking"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class CheckUpdate:
    """How a check the till armed stands; `verdict` with DONE."""

    id: str
    status: CheckStatus
    reference: str = ""
    verdict: Verdict | None = None


Effect = StartCheck | StartOffer | Show | Record | CheckUpdate


class TillPort(Protocol):
    """The till's side of the loop (its local API): polled by the loop, like the staff input."""

    def take(self) -> list[ArmCheck | CancelCheck | Staff]:
        """Commands received since the last call, oldest first; never blocks."""
        ...

    def report(self, effect: CheckUpdate | Record) -> None:
        """A check's status changed, or a verdict is out (the till hears a verdict by the
        check id the loop gives); called on the loop's thread: must not block."""
        ...


# --- the state -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arming:
    """The kiosk is armed for one check until `until`; `terms` when the till armed it."""

    until: float
    terms: CheckTerms | None = None
    cancelled: bool = False  # the till cancelled it while Diia was asked: it hears no more


@dataclass(frozen=True, slots=True)
class LoopState:
    shown: State = field(default_factory=lambda: State(Phase.IDLE))
    armed: Arming | None = None
    checking: Arming | None = None  # the arming a check in flight uses (terms: the till's)
    result_until: float | None = None  # unattended verdict on screen until then
    missing: Mapping[str, int] = field(default_factory=dict)  # held codes → frames missed
    unsent: Mapping[str, Code] = field(default_factory=dict)  # shown before arming, held
    queued: tuple[tuple[Code, float], ...] = ()  # confirmed with another: checked next
    last_press: float | None = None
    verdicts: int = 0
    check_until: float | None = None  # the check in flight is over by then, or stuck

    @property
    def phase(self) -> Phase:
        return self.shown.phase

    @property
    def wants_readings(self) -> bool:
        """Frames are pulled only while the kiosk rests (not while checking or showing)."""
        return self.phase in _RESTING


def start(
    rules: Rules, at: float, faults: frozenset[Fault] = frozenset()
) -> tuple[LoopState, list[Effect]]:
    """The first state, shown."""
    phase = Phase.ATTENDED_WAIT if rules.arming_required else Phase.IDLE
    shown = State(phase, faults=faults, since=at)
    return LoopState(shown=shown), [Show(shown)]


def step(state: LoopState, event: Input, rules: Rules) -> tuple[LoopState, list[Effect]]:
    """The one transition function: the new state and the effects to carry out, in order."""
    effects: list[Effect] = []
    if isinstance(event, Reading):
        state = _read(state, event, rules, effects)
    elif isinstance(event, Checked):
        state = _checked(state, event, rules, effects)
    elif isinstance(event, Staff):
        state = _staff(state, event, rules, effects)
    elif isinstance(event, ArmCheck):
        state = _arm_check(state, event, rules, effects)
    elif isinstance(event, CancelCheck):
        state = _cancel(state, event, rules, effects)
    elif isinstance(event, OfferLink):
        state = _offer_link(state, event, effects)
    elif isinstance(event, Tick):
        state = _tick(state, event, rules, effects)
    elif isinstance(event, FaultChanged):
        faults = state.shown.faults
        faults = faults | {event.fault} if event.active else faults - {event.fault}
        if faults != state.shown.faults:
            state = _show(state, replace(state.shown, faults=faults), effects)
    return state, effects


# --- transitions ---------------------------------------------------------------------------


def _show(state: LoopState, shown: State, effects: list[Effect]) -> LoopState:
    effects.append(Show(shown))
    return replace(state, shown=shown)


def _enter(
    state: LoopState, phase: Phase, at: float, effects: list[Effect], *,
    verdict: Verdict | None = None, awaiting_staff: bool = False, sharing: bool = False,
) -> LoopState:
    shown = State(phase, verdict, state.shown.faults, at, awaiting_staff, sharing)
    return _show(state, shown, effects)


def _rest(state: LoopState, rules: Rules, at: float, effects: list[Effect]) -> LoopState:
    """Back to waiting for a code: armed or not needing arming → idle, else wait for staff."""
    phase = Phase.IDLE if _accepting(state, rules) else Phase.ATTENDED_WAIT
    return _enter(state, phase, at, effects)


def _accepting(state: LoopState, rules: Rules) -> bool:
    """Whether a code shown now is checked: armed, or no arming needed."""
    return state.armed is not None or not rules.arming_required


def _observe(missing: Mapping[str, int], seen: set[str], gone_frames: int) -> dict[str, int]:
    """Held codes after one more frame: missed ones count up and drop out at `gone_frames`."""
    out: dict[str, int] = {}
    for text, count in missing.items():
        count = 0 if text in seen else count + 1
        if count < gone_frames:
            out[text] = count
    return out


def _read(state: LoopState, read: Reading, rules: Rules, effects: list[Effect]) -> LoopState:
    if not state.wants_readings:
        return state  # the shell pulls no frames now; a stray one changes nothing
    texts = {code.text for code in read.seen}
    missing = _observe(state.missing, texts, rules.gone_frames) if rules.gone_frames else {}
    unsent = {t: c for t, c in state.unsent.items() if t in missing}
    state = replace(state, missing=missing, unsent=unsent)

    def is_new(code: Code) -> bool:
        return rules.gone_frames == 0 or code.text not in state.missing

    fresh = [code for code in read.confirmed if is_new(code)]
    if _accepting(state, rules):
        # A code held up since before the arming goes first.
        waiting = [c for t, c in state.unsent.items() if t not in {f.text for f in fresh}]
        candidates = [*waiting, *fresh]
        if candidates:
            first, *others = candidates
            missing = dict(state.missing)
            if rules.gone_frames:
                missing.update({code.text: 0 for code in others})  # held while they wait
            queued = (*state.queued, *((code, read.at) for code in others))
            state = replace(state, missing=missing, queued=queued)
            return _begin_check(state, first, read.at, rules, effects)
    elif fresh:
        held = dict(state.unsent)
        held_missing = dict(state.missing)
        for code in fresh:
            held[code.text] = code
            if rules.gone_frames:
                held_missing[code.text] = 0
        return replace(state, unsent=held, missing=held_missing)
    reading_new = any(is_new(code) for code in read.seen)
    if reading_new and state.phase is Phase.IDLE:
        return _enter(state, Phase.READING, read.at, effects)
    if not reading_new and state.phase is Phase.READING:
        return _enter(state, Phase.IDLE, read.at, effects)
    return state


def _begin_check(
    state: LoopState, code: Code, read_at: float, rules: Rules, effects: list[Effect]
) -> LoopState:
    missing = dict(state.missing)
    if rules.gone_frames:
        missing[code.text] = 0  # held: the same presentation is not checked twice
    unsent = {t: c for t, c in state.unsent.items() if t != code.text}
    arming = state.armed
    terms = arming.terms if arming is not None else None
    sharing = terms is not None and terms.mode == "share"  # "confirm the request in Diia"
    budget = rules.share_seconds if sharing else rules.check_seconds
    state = replace(state, missing=missing, unsent=unsent, armed=None, checking=arming,
                    check_until=read_at + budget)
    state = _enter(state, Phase.CHECKING, read_at, effects, sharing=sharing)
    effects.append(StartCheck(code, read_at, terms))
    if terms is not None:
        effects.append(CheckUpdate(terms.id, CheckStatus.CHECKING, terms.reference))
    return state


def _checked(state: LoopState, checked: Checked, rules: Rules, effects: list[Effect]) -> LoopState:
    if state.phase is not Phase.CHECKING:
        return state  # no check in flight: nothing to answer
    verdict = checked.verdict
    arming = state.checking
    state = replace(state, checking=None, check_until=None, verdicts=state.verdicts + 1)
    terms = arming.terms if arming is not None else None
    effects.append(Record(verdict, terms.id if terms is not None else ""))
    phase = RESULT_PHASES[verdict.outcome]
    if rules.attended:
        state = _enter(state, phase, checked.at, effects, verdict=verdict, awaiting_staff=True)
    else:
        state = replace(state, result_until=checked.at + rules.result_seconds)
        state = _enter(state, phase, checked.at, effects, verdict=verdict)
    if arming is not None and terms is not None and not arming.cancelled:
        effects.append(CheckUpdate(terms.id, CheckStatus.DONE, terms.reference, verdict))
    if not rules.attended and rules.result_seconds <= 0:
        state = _leave_result(state, rules, checked.at, effects)
    return state


def _leave_result(state: LoopState, rules: Rules, at: float, effects: list[Effect]) -> LoopState:
    state = replace(state, result_until=None)
    if state.queued:
        (code, read_at), *rest = state.queued
        state = replace(state, queued=tuple(rest))
        if _accepting(state, rules):
            return _begin_check(state, code, read_at, rules, effects)
        # Not armed: it waits, like any code shown before the arming, while it is held.
        unsent = {**state.unsent, **{c.text: c for c, _ in ((code, read_at), *rest)}}
        state = replace(state, queued=(), unsent=unsent)
    return _rest(state, rules, at, effects)


def _staff(state: LoopState, staff: Staff, rules: Rules, effects: list[Effect]) -> LoopState:
    """What a staff command means depends on what the kiosk waits for."""
    command, at = staff.command, staff.at
    if command is StaffCommand.PRESS:
        last, state = state.last_press, replace(state, last_press=at)
        if last is not None and at - last < rules.staff_settle_s:
            return state  # a double press must not acknowledge and re-arm at once
    if state.shown.awaiting_staff:
        if command in _ACKNOWLEDGING:
            return _leave_result(state, rules, at, effects)
        return state
    if command not in _ARMING or not rules.arming_required:
        return state
    if state.phase is Phase.CHECKING or state.phase in RESULT_PHASES.values():
        return state  # busy: arming is for the next code
    until = at + rules.arm_seconds
    if state.armed is not None:  # still waiting for the code: more time, same terms
        return replace(state, armed=replace(state.armed, until=max(until, state.armed.until)))
    state = replace(state, armed=Arming(until))
    return _enter(state, Phase.IDLE, at, effects) if state.phase is Phase.ATTENDED_WAIT \
        else state


def _arm_check(state: LoopState, arm: ArmCheck, rules: Rules, effects: list[Effect]) -> LoopState:
    terms = arm.terms
    if state.armed is not None and state.armed.terms is not None:
        old = state.armed.terms
        effects.append(CheckUpdate(old.id, CheckStatus.CANCELLED, old.reference))
    wait_s = terms.expires_in_s if terms.expires_in_s is not None else rules.arm_seconds
    until = arm.at + wait_s
    state = replace(state, armed=Arming(until, terms))
    effects.append(CheckUpdate(terms.id, CheckStatus.ARMED, terms.reference))
    if _online(terms):
        return _begin_offer(state, arm.at, rules, effects) if state.phase in _RESTING else state
    if state.phase is Phase.ATTENDED_WAIT:
        state = _enter(state, Phase.IDLE, arm.at, effects)
    return state


def _online(terms: CheckTerms | None) -> bool:
    return terms is not None and terms.mode == "share_online"


def _begin_offer(
    state: LoopState, at: float, rules: Rules, effects: list[Effect]
) -> LoopState:
    """An online share needs no code: the check starts at once (or once the kiosk rests)."""
    arming = state.armed
    assert arming is not None and arming.terms is not None
    terms = arming.terms
    state = replace(state, armed=None, checking=arming, check_until=at + rules.share_seconds)
    state = _enter(state, Phase.CHECKING, at, effects, sharing=True)
    effects.append(StartOffer(terms, at))
    effects.append(CheckUpdate(terms.id, CheckStatus.CHECKING, terms.reference))
    return state


def _offer_link(state: LoopState, link: OfferLink, effects: list[Effect]) -> LoopState:
    checking = state.checking
    if (state.phase is not Phase.CHECKING or checking is None or checking.terms is None
            or checking.terms.id != link.id or checking.cancelled):
        return state  # a late link of a share that is over (or cancelled) is not shown
    return _show(state, replace(state.shown, offer_link=link.deeplink), effects)


def _cancel(
    state: LoopState, cancel: CancelCheck, rules: Rules, effects: list[Effect]
) -> LoopState:
    armed = state.armed
    if armed is not None and armed.terms is not None and armed.terms.id == cancel.id:
        effects.append(CheckUpdate(cancel.id, CheckStatus.CANCELLED, armed.terms.reference))
        state = replace(state, armed=None)
        if state.phase in (Phase.IDLE, Phase.READING) and rules.arming_required:
            state = _enter(state, Phase.ATTENDED_WAIT, cancel.at, effects)
        return state
    checking = state.checking
    if (checking is not None and checking.terms is not None and checking.terms.id == cancel.id
            and not checking.cancelled):
        effects.append(CheckUpdate(cancel.id, CheckStatus.CANCELLED, checking.terms.reference))
        if _online(checking.terms):  # the QR goes away; the shell stops asking Diia
            return _rest(replace(state, checking=None, check_until=None), rules, cancel.at,
                         effects)
        # The customer still sees the verdict; the till hears no more of this check.
        return replace(state, checking=replace(checking, cancelled=True))
    return state


def _tick(state: LoopState, tick: Tick, rules: Rules, effects: list[Effect]) -> LoopState:
    at = tick.at
    if state.result_until is not None and at >= state.result_until:
        state = _leave_result(state, rules, at, effects)
    armed = state.armed
    if armed is not None and _online(armed.terms) and state.phase in _RESTING:
        return _begin_offer(state, at, rules, effects)  # armed while a verdict was on screen
    if armed is not None and at >= armed.until and state.phase in _RESTING:
        state = replace(state, armed=None)
        if armed.terms is not None:
            effects.append(CheckUpdate(armed.terms.id, CheckStatus.EXPIRED,
                                       armed.terms.reference))
        if rules.arming_required:
            state = _enter(state, Phase.ATTENDED_WAIT, at, effects)
    return state
