"""The till's side of the loop: the `TillPort` (kiosk/loop.py) the HTTP handlers feed.

The handlers queue the till's commands (arm a check, cancel it, a staff command) from their
threads and wake the loop, which takes them at once and reports back how each check
stands, which is recorded in the registry and told on the event stream. Neither the loop
nor the HTTP server knows the other.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kiosk.api.checks import Check, CheckRegistry
from kiosk.api.events import EventLog
from kiosk.loop import ArmCheck, CancelCheck, CheckStatus, CheckUpdate, Record, Staff
from kiosk.model import CheckTerms, Phase, StaffCommand, State
from kiosk.signals.events import utc_timestamp, verdict_event

Command = ArmCheck | CancelCheck | Staff
ARM_WAIT_S = 1.0  # POST /v1/checks answers once the loop has the check, or after this


class StaffRefused(Exception):
    """A staff command that would change nothing now; `error` is its short name."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error


def staff_refusal(command: StaffCommand, shown: State | None) -> tuple[str, str] | None:
    """Why `command` would change nothing while the kiosk shows `shown`, or None. The loop
    has the last word (a press between this look and its turn is still handled there)."""
    if shown is None:
        return None
    waiting = shown.awaiting_staff
    if command is StaffCommand.ACKNOWLEDGE and not waiting:
        return "nothing_to_acknowledge", f"no verdict waits for staff (the kiosk is {shown.phase})"
    if command is StaffCommand.ARM and waiting:
        return "verdict_waiting", ("a verdict waits for staff: acknowledge it first "
                                   "(POST /v1/staff/ack), then arm")
    if command is StaffCommand.ARM and shown.phase is Phase.CHECKING:
        return "busy", "a check is in progress: arm once its verdict is acknowledged"
    return None


def health_state(shown: State | None, armed_checks: int, arming_required: bool) -> str:
    """`GET /v1/health`'s "state": the phase shown, or "armed" while the kiosk rests armed
    (a check the till armed, or, where arming is required, staff armed it)."""
    if shown is None:
        return "starting"
    if shown.phase in (Phase.IDLE, Phase.READING) and (armed_checks or arming_required):
        return "armed"  # where arming is required an unarmed kiosk shows attended_wait
    return str(shown.phase)


@dataclass
class TillService:
    default_min_age: int = 18
    default_expires_s: float = 120.0
    staff_step: bool = False  # attended age checks: staff arm and acknowledge
    online_share: bool = False  # [share] offer_id is set: mode "share_online" is offered
    arming_required: bool = False  # an unarmed kiosk shows attended_wait (health: "armed")
    diia: Callable[[], str] = lambda: "unknown"  # reachable | unreachable | unknown
    config_version: Callable[[], int] = lambda: 0
    clock_trusted: Callable[[], bool] = lambda: True
    wake: Callable[[], None] = lambda: None  # the loop blocks between inputs: a command is here
    state: State | None = None  # what the loop shows now (this is one of its outputs)
    clock: Callable[[], float] = time.monotonic
    arm_wait_s: float = ARM_WAIT_S
    registry: CheckRegistry = field(init=False)
    events: EventLog = field(init=False)
    _commands: queue.SimpleQueue[Command] = field(init=False)
    _arming: dict[str, threading.Event] = field(init=False)  # armed, not yet taken by the loop
    _lock: threading.Lock = field(init=False)
    _staff_lock: threading.Lock = field(init=False)  # one staff command at a time
    _acted: list[threading.Event] = field(init=False)  # taken last turn: acted on by now
    _pending: list[threading.Event] = field(init=False)  # queued, not yet taken

    def __post_init__(self) -> None:
        self._arming = {}
        self._lock = threading.Lock()
        self.registry = CheckRegistry(self.clock)
        self.events = EventLog(clock=self.clock)
        self._commands = queue.SimpleQueue()
        self._staff_lock = threading.Lock()
        self._acted = []
        self._pending = []
        self.registry.subscribe(self._check_changed)

    # -- from the HTTP handlers ---------------------------------------------------------

    def arm(self, terms: CheckTerms) -> Check:
        """Record the check and hand it to the loop; raises `TooManyOpen`. Returns once the
        loop has taken it (within a tick, normally), so a code read after the answer is
        checked on these terms; after `arm_wait_s` regardless."""
        check = self.registry.arm(terms)
        taken = threading.Event()
        with self._lock:
            self._arming[check.id] = taken
        self._commands.put(ArmCheck(replace(terms, id=check.id)))
        self.wake()
        taken.wait(self.arm_wait_s)
        with self._lock:
            self._arming.pop(check.id, None)
        return self.registry.get(check.id) or check

    def cancel(self, check_id: str) -> None:
        self._commands.put(CancelCheck(check_id))
        self.wake()

    def staff(self, command: StaffCommand) -> None:
        """Hand a staff command to the loop; raises `StaffRefused` when, by what the kiosk
        shows now, it would change nothing. Returns once the loop has acted on it (or after
        `arm_wait_s`), so that the next command is judged by what this one did: a second
        acknowledgement sent at once is refused, not queued to do nothing."""
        with self._staff_lock:
            refusal = staff_refusal(command, self.state)
            if refusal is not None:
                raise StaffRefused(*refusal)
            acted = threading.Event()
            with self._lock:
                self._commands.put(Staff(command))
                self.wake()
                self._pending.append(acted)
            acted.wait(self.arm_wait_s)

    def health(self) -> dict[str, Any]:
        """`GET /v1/health`: what the loop shows (or "armed"), the config version, clock
        trust, whether Diia answers, the faults, the checks."""
        from kiosk import __version__

        state, checks = self.state, self.registry.counts()
        return {
            "state": health_state(state, checks["armed"], self.arming_required),
            "config_version": self.config_version(),
            "clock_trusted": self.clock_trusted(),
            "diia": self.diia(),
            "faults": sorted(str(f) for f in state.faults) if state else [],
            "checks": checks,
            "version": __version__,
        }

    # -- the TillPort, on the loop's thread ---------------------------------------------

    def take(self) -> list[Command]:
        with self._lock:  # the staff commands taken last turn have been acted on and shown
            for acted in self._acted:
                acted.set()
            self._acted, self._pending = self._pending, []
        taken: list[Command] = []
        while True:
            try:
                taken.append(self._commands.get_nowait())
            except queue.Empty:
                return taken

    def report(self, effect: CheckUpdate | Record) -> None:
        """What the loop did, by the check id it gives: see README, "The order of events"."""
        if isinstance(effect, Record):
            if not effect.check:  # no check armed: the verdict is told as it is
                self.events.publish(verdict_event(effect.verdict))
            return  # a check's verdict comes with its DONE; a cancelled one's never
        if effect.status is CheckStatus.ARMED:
            self.registry.taken(effect.id)
            with self._lock:
                taken = self._arming.get(effect.id)
            if taken is not None:
                taken.set()
        elif effect.status is CheckStatus.DONE:
            if effect.verdict is not None:
                self.registry.finish(verdict_event(effect.verdict), effect.id)
        else:
            self.registry.move(effect.id, effect.status)

    # -- an output: what the loop shows, for /v1/health and the staff answers ------------

    def show(self, state: State) -> None:
        self.state = state

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass

    # -- the event stream ---------------------------------------------------------------

    def _check_changed(self, check: Check) -> None:
        if check.state is CheckStatus.DONE and check.verdict is not None:
            self.events.publish(check.verdict)  # the verdict, then the check's end
        event: dict[str, Any] = {"ts": utc_timestamp(), "event": "check", "id": check.id,
                                 "state": str(check.state), "mode": check.terms.mode}
        if check.terms.reference:
            event["reference"] = check.terms.reference
        self.events.publish(event)
