"""The till's side of the loop: the `TillPort` (kiosk/loop.py) the HTTP handlers feed.

The handlers queue the till's commands (arm a check, cancel it, a staff command) from their
threads; the loop takes them about 30 times a second and reports back how each check
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
from kiosk.loop import ArmCheck, CancelCheck, CheckStatus, CheckUpdate, Staff
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
    health: Callable[[], dict[str, Any]] = lambda: {"state": "starting"}  # until the loop's
    shown: Callable[[], State | None] = lambda: None  # what the loop shows now
    clock: Callable[[], float] = time.monotonic
    arm_wait_s: float = ARM_WAIT_S
    registry: CheckRegistry = field(init=False)
    events: EventLog = field(init=False)
    _commands: queue.SimpleQueue[Command] = field(init=False)
    _arming: dict[str, threading.Event] = field(init=False)  # armed, not yet taken by the loop
    _lock: threading.Lock = field(init=False)

    def __post_init__(self) -> None:
        self._arming = {}
        self._lock = threading.Lock()
        self.registry = CheckRegistry(self.clock)
        self.events = EventLog(clock=self.clock)
        self._commands = queue.SimpleQueue()
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
        taken.wait(self.arm_wait_s)
        with self._lock:
            self._arming.pop(check.id, None)
        return self.registry.get(check.id) or check

    def cancel(self, check_id: str) -> None:
        self._commands.put(CancelCheck(check_id))

    def staff(self, command: StaffCommand) -> None:
        """Hand a staff command to the loop; raises `StaffRefused` when, by what the kiosk
        shows now, it would change nothing."""
        refusal = staff_refusal(command, self.shown())
        if refusal is not None:
            raise StaffRefused(*refusal)
        self._commands.put(Staff(command))

    # -- the TillPort, on the loop's thread ---------------------------------------------

    def take(self) -> list[Command]:
        taken: list[Command] = []
        while True:
            try:
                taken.append(self._commands.get_nowait())
            except queue.Empty:
                return taken

    def report(self, update: CheckUpdate) -> None:
        if update.status is CheckStatus.ARMED:
            with self._lock:
                taken = self._arming.get(update.id)
            if taken is not None:
                taken.set()
            return
        if update.status is CheckStatus.DONE:
            # Normally done already, when the verdict was shown (`TillEvents`); this covers
            # an events output that failed.
            if update.verdict is not None:
                self.registry.finish(verdict_event(update.verdict), update.id)
            return
        self.registry.move(update.id, update.status)

    # -- the event stream ---------------------------------------------------------------

    def _check_changed(self, check: Check) -> None:
        if check.state is CheckStatus.DONE:
            if check.verdict is not None:
                self.events.publish(check.verdict)
            return
        event: dict[str, Any] = {"ts": utc_timestamp(), "event": "check", "id": check.id,
                                 "state": str(check.state), "mode": check.terms.mode}
        if check.terms.reference:
            event["reference"] = check.terms.reference
        self.events.publish(event)
