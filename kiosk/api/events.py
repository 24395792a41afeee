"""The event stream behind `GET /v1/events`: numbered events kept a few minutes for replay.

Each event gets the next number, which the SSE stream sends as its `id:`; a subscriber that
reconnects with `Last-Event-ID: N` gets every event after N still kept. The numbers of one
run start at a random base far from any other run's, so a till that reconnects after the
kiosk restarted, with a number this run never gave, gets everything this run kept (it has
missed all of it) rather than silence until the count passes its number. Events older than
`keep_s` (or beyond `max_events`) are dropped, so memory stays flat over months. Events hold
what the JSON lines hold: never a code, never a name.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEEP_S = 300.0  # "the last few minutes"
MAX_EVENTS = 1000
# A run's first number: a random multiple of 2**20 below 2**52, so numbers stay exact in a
# JavaScript till and runs' ranges (a million events each before they could meet) apart.
_BASE_STEP = 1 << 20


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
        self._base = (secrets.randbelow(1 << 32) + 1) * _BASE_STEP
        self._next = self._base
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

    def resume_from(self, number: int) -> int:
        """Where a subscriber that last heard `number` goes on from: after it, if this run
        gave it; else from this run's start."""
        with self._changed:
            return number if self._base - 1 <= number < self._next else self._base - 1

    def wait_after(self, number: int, timeout_s: float) -> list[Numbered]:
        """Events kept after `number`, waiting up to `timeout_s` for one; [] on timeout or
        close. (Waits for a kept one: events after `number` that have expired do not count,
        so a subscriber behind the expiry waits rather than spins.)"""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            self._drop_old()
            while not self._closed and not (self._events and self._events[-1].number > number):
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
