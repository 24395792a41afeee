"""Every output of the kiosk behind one fan-out, each isolated from the others.

A screen that dies, a POS that stops reading its stdout, an events file on a full disk: none
of them may end the loop or keep the other outputs from showing the verdict. An output that
raises is logged once per kind of failure (its class and the exception's class), counted
through `on_error` (the metrics), marked failing (the loop raises `Fault.OUTPUT`, so the
other outputs show a banner), and retried with the current state every `retry_s`; it is
not ticked while failing. The first retry that works clears it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from kiosk.model import State
from kiosk.signals import Signals

log = logging.getLogger(__name__)

RETRY_S = 5.0


def output_name(signal: Signals) -> str:
    return type(signal).__name__


class Outputs:
    """Fans each state out to `signals`; see the module docstring."""

    def __init__(
        self,
        signals: Sequence[Signals],
        on_error: Callable[[str, str], None] | None = None,
        *,
        retry_s: float = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.signals = list(signals)
        self._on_error = on_error
        self._retry_s = retry_s
        self._clock = clock
        self._failing: dict[int, float] = {}  # index → when it was last tried
        self._logged: set[tuple[int, str]] = set()
        self._last: State | None = None

    @property
    def failing(self) -> bool:
        return bool(self._failing)

    def failing_names(self) -> list[str]:
        return [output_name(self.signals[i]) for i in sorted(self._failing)]

    def show(self, state: State) -> None:
        self._last = state
        for index in range(len(self.signals)):
            self._show_one(index, state)

    def tick(self, now: float) -> None:
        for index, signal in enumerate(self.signals):
            if index in self._failing:
                if self._last is not None and now - self._failing[index] >= self._retry_s:
                    self._show_one(index, self._last)
                continue
            try:
                signal.tick(now)
            except Exception as exc:
                self._failed(index, "tick", exc)

    def close(self) -> None:
        for index, signal in enumerate(self.signals):
            try:
                signal.close()
            except Exception as exc:  # closing is the last thing: log and go on
                self._failed(index, "close", exc)

    def _show_one(self, index: int, state: State) -> None:
        try:
            self.signals[index].show(state)
        except Exception as exc:
            self._failed(index, "show", exc)
            return
        if self._failing.pop(index, None) is not None:
            log.warning("output %s works again", output_name(self.signals[index]))
            self._logged = {key for key in self._logged if key[0] != index}

    def _failed(self, index: int, call: str, exc: Exception) -> None:
        self._failing[index] = self._clock()
        name, kind = output_name(self.signals[index]), type(exc).__name__
        if (index, kind) not in self._logged:
            self._logged.add((index, kind))
            log.error("output %s failed in %s: %s: %s (the others carry on; retrying every "
                      "%g s)", name, call, kind, exc, self._retry_s)
        if self._on_error is not None:
            try:
                self._on_error(name, kind)
            except Exception:  # counting must not become a failure of its own
                log.exception("counting an output failure failed")
