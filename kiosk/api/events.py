"""The event stream behind `GET /v1/events`: numbered events kept a few minutes for replay.

Each event gets the next number, which the SSE stream sends as its `id:`; a subscriber that
reconnects with `Last-Event-ID: N` gets every event after N still kept. Events older than
`keep_s` (or beyond `max_events`) are dropped, so memory stays flat over months. Events hold
what the JSON lines hold: never a code, never a name.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEEP_S = 300.0  # "the last few minutes"
MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True)
class Numbered:
    number: int
    at: float  # monotonic
    event: dict[str, Any]


class EventLog:
    def __init__(
        self,
        keep_s: float = KEEP_S,
        max_events: int = MAX_EVENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep_s = keep_s
        self._clock = clock
        self._events: deque[Numbered] = deque(maxlen=max_events)
        self._next = 1
        self._changed = threading.Condition()
        self._closed = False

    def publish(self, event: dict[str, Any]) -> int:
        with self._changed:
            number = self._next
            self._next += 1
            self._events.append(Numbered(number, self._clock(), event))
            self._drop_old()
            self._changed.notify_all()
        return number

    def after(self, number: int) -> list[Numbered]:
        """The events kept with a number above `number`."""
        with self._changed:
            self._drop_old()
            return [e for e in self._events if e.number > number]

    @property
    def last_number(self) -> int:
        with self._changed:
            return self._next - 1

    def wait_after(self, number: int, timeout_s: float) -> list[Numbered]:
        """Events after `number`, waiting up to `timeout_s` for one; [] on timeout or close."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not self._closed and self._next - 1 <= number:
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._changed.wait(left)
            self._drop_old()
            return [e for e in self._events if e.number > number]

    def close(self) -> None:
        """Wakes every waiting subscriber for good (the kiosk is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def _drop_old(self) -> None:
        horizon = self._clock() - self._keep_s
        while self._events and self._events[0].at < horizon:
            self._events.popleft()
