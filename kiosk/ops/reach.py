"""Whether Diia can be reached: the source of the "no connection to Diia" fault.

Fed every HTTP exchange of the Diia client (the ops' `on_exchange`). An exchange with no
answer at all (status 0: refused, reset, timed out, no route) makes Diia doubtful; any
answer, even an error status, clears it, since then Diia is reachable and the verdict says
the rest. Diia counts as unreachable once exchanges have gone unanswered for `after_s`: one
lost answer is a hiccup, not a banner. While Diia is doubtful the housekeeping probes it (a
login) every `after_s`, so the banner comes and goes without waiting for a customer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

UNREACHABLE_AFTER_S = 5.0


class DiiaReach:
    def __init__(
        self, after_s: float = UNREACHABLE_AFTER_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.after_s = after_s
        self._clock = clock
        self._first: float | None = None  # the first unanswered exchange since an answer
        self._last: float | None = None
        self._lock = threading.Lock()
        self._heard = False  # any exchange at all

    def observe(self, exchange: Any) -> None:
        """An exchange of the Diia client (`.status`: 0 when no answer came)."""
        now = self._clock()
        with self._lock:
            self._heard = True
            if exchange.status:
                self._first = self._last = None
            else:
                self._first = now if self._first is None else self._first
                self._last = now

    def doubtful(self) -> bool:
        """The last exchange got no answer: worth a probe."""
        with self._lock:
            return self._first is not None

    def said(self) -> str:
        """For `/v1/health`: "unknown" before any exchange, "unreachable" as the banner
        says it, else "reachable" (Diia answered; the verdicts say the rest)."""
        if self.unreachable():
            return "unreachable"
        with self._lock:
            if self._first is None:  # the latest exchange was answered (or none yet)
                return "reachable" if self._heard else "unknown"
        return "unknown"  # unanswered, not yet for long: a hiccup or the start of an outage

    def unreachable(self) -> bool:
        with self._lock:
            if self._first is None or self._last is None:
                return False
            return self._last - self._first >= self.after_s
