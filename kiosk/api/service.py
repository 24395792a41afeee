"""What the till's API serves: the kiosk as the HTTP handlers see it.

`TillService` holds the check registry, the event log and the staff queue, and knows the
defaults for a new check. The composition root builds it, hands it to the loop's side
(`kiosk.api.till`) and to the HTTP server (`kiosk.api.server`); neither knows the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.api.checks import CheckRegistry
from kiosk.api.events import EventLog
from kiosk.staff import QueuedStaffInput


@dataclass
class TillService:
    default_min_age: int = 18
    default_expires_s: float = 120.0
    staff: QueuedStaffInput | None = None  # None: no staff step in this configuration
    health: Callable[[], dict[str, Any]] = lambda: {}
    clock: Callable[[], float] = time.monotonic
    registry: CheckRegistry = field(init=False)
    events: EventLog = field(init=False)

    def __post_init__(self) -> None:
        self.registry = CheckRegistry(self.clock)
        self.events = EventLog(clock=self.clock)
        self.registry.subscribe(self._check_changed)

    def _check_changed(self, check: Any) -> None:
        # A verdict event tells "done" itself; the other changes are events of their own.
        if str(check.state) == "done":
            return
        event: dict[str, Any] = {"event": "check", "id": check.id, "state": str(check.state),
                                 "mode": check.terms.mode}
        if check.terms.reference is not None:
            event["reference"] = check.terms.reference
        from kiosk.signals.events import utc_timestamp

        self.events.publish({"ts": utc_timestamp(), **event})
