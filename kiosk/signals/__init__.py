"""The signals port: everything the customer and the cashier see and hear.

Adapters: `lights.GpioSignals` (LEDs and buzzer), `screen.PygameScreen` (the screen). The
app fans each state out to all of them; none of them may block the loop.
"""

from __future__ import annotations

from typing import Protocol

from kiosk.model import State

TICK_S = 1 / 30  # how often the loop turns and ticks every output


class Signals(Protocol):
    def show(self, state: State) -> None:
        """Show a new state; called once per state change."""

    def tick(self, now: float) -> None:
        """Advance animations; called every loop turn (every `TICK_S`) with monotonic `now`."""

    def close(self) -> None:
        """Switch everything off and release the device; safe to call twice."""
