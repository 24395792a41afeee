"""The loop's side of the till's API: sharing as a check, and verdicts told to the till.

- `TillChecker` (a `Checker`): the loop hands it the armed check's terms; mode "share" is a
  `ShareChecker`, every other mode the Diia checker.
- `TillEvents` (a `Signals`): each verdict shown goes to the event stream; if it ends a check
  the till armed, with that check's id and reference.
"""

from __future__ import annotations

import logging

from kiosk.api.checks import CheckRegistry
from kiosk.api.events import EventLog
from kiosk.model import RESULT_PHASES, State, Verdict
from kiosk.signals.events import verdict_event

log = logging.getLogger(__name__)

class TillEvents:
    """A `Signals` that tells the till each verdict shown, through the event stream."""

    def __init__(self, registry: CheckRegistry, events: EventLog) -> None:
        self._registry = registry
        self._events = events
        self._last: Verdict | None = None
        self.state: State | None = None
        self.diia = "unknown"  # reachable | unreachable | unknown, from the latest verdict

    def show(self, state: State) -> None:
        self.state = state
        verdict = state.verdict
        if verdict is None or state.phase not in RESULT_PHASES.values() or verdict is self._last:
            return
        self._last = verdict
        if not verdict.cached:
            self.diia = "unreachable" if verdict.reason.diia_failed else "reachable"
        event = verdict_event(verdict)
        if self._registry.finish(event) is None:  # no check armed: told as it is
            self._events.publish(event)

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass
