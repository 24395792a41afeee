"""A screen that could not be opened at start, opened again later.

On the console SDL's KMS/DRM driver needs an output that is connected and has modes, and
DRM master: a panel powered up after the Pi, or a desktop still holding the display at
boot, makes opening fail, and SDL never tries again by itself. `ReopeningScreen` stands in
for the screen in the outputs: every `show` while it has none tries to open it (with a
growing pause between tries, so a missing panel costs nothing), and raises `ScreenError`
while that fails. The loop's outputs then mark it failing (the LEDs and the other outputs
show the fault) and call `show` again every few seconds; the first success clears it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kiosk.model import State
from kiosk.signals.screen import ScreenError

log = logging.getLogger(__name__)

RETRY_S = (5.0, 60.0)  # the first pause between tries to open; the longest


class ReopeningScreen:
    """Implements `Signals`; `open_screen` makes the real screen or raises `ScreenError`."""

    def __init__(
        self,
        open_screen: Callable[[], Any],
        why: str,
        *,
        retry_s: tuple[float, float] = RETRY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open_screen = open_screen
        self._why = why
        self._pause, self._longest = retry_s
        self._clock = clock
        self._next_try = clock() + self._pause
        self.screen: Any = None
        self.tries = 1  # the first, failed, open that made this stand-in
        self._closed = False

    def show(self, state: State) -> None:
        screen = self._opened()
        try:
            screen.show(state)
        except Exception:  # the display went away again: open it anew on a later try
            self._lost()
            raise

    def tick(self, now: float) -> None:
        screen = self._opened()
        try:
            screen.tick(now)
        except Exception:
            self._lost()
            raise

    def animates(self, state: State) -> bool:
        """As the screen once it is open; until then a try every turn at rest is plenty."""
        return self.screen is not None and bool(self.screen.animates(state))

    def close(self) -> None:
        self._closed = True
        if self.screen is not None:
            self.screen.close()

    def _lost(self) -> None:
        screen, self.screen = self.screen, None
        self._next_try = self._clock() + self._pause
        try:
            screen.close()
        except Exception as exc:  # tidying up a display that is already gone
            log.debug("closing the lost screen: %r", exc)

    def _opened(self) -> Any:
        if self.screen is not None:
            return self.screen
        now = self._clock()
        if self._closed or now < self._next_try:
            raise ScreenError(f"no screen ({self._why}); next try in "
                              f"{max(0.0, self._next_try - now):.0f} s")
        self.tries += 1
        try:
            self.screen = self._open_screen()
        except ScreenError as exc:
            self._why = str(exc)
            self._pause = min(self._pause * 2, self._longest)
            self._next_try = self._clock() + self._pause
            raise
        log.warning("the screen opened at try %d", self.tries)
        return self.screen
