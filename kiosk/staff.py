"""Staff input for attended mode: arming the kiosk for an age check, acknowledging a verdict.

The port is `StaffInput.take()`: the commands given since the last call, asked for at each
turn of the loop (which a put wakes), so an input never blocks it. Adapters queue what arrives on
their own threads: `GpioStaffButton` (one push button between a BCM pin and ground, through
gpiozero's `Button`) now; the POS later, which can say which command it means.

One button is enough: a press means what the kiosk waits for next (see `app.Kiosk`): arm it
while it waits for staff, acknowledge a verdict held on the screen.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Any, Protocol

from kiosk.model import StaffCommand


class StaffInputError(RuntimeError):
    """The staff input cannot be opened (no GPIO, pin busy, no permission)."""


class StaffInput(Protocol):
    def take(self) -> list[StaffCommand]:
        """The commands given since the last call, oldest first; never blocks."""
        ...

    def close(self) -> None:
        """Release the device; safe to call twice."""
        ...


class QueuedStaffInput:
    """Commands put from any thread, taken by the loop: the base of the adapters."""

    def __init__(self, wake: Callable[[], None] = lambda: None) -> None:
        self._queue: queue.SimpleQueue[StaffCommand] = queue.SimpleQueue()
        self._wake = wake  # the loop blocks between inputs: tell it one is here

    def put(self, command: StaffCommand) -> None:
        self._queue.put(command)
        self._wake()

    def take(self) -> list[StaffCommand]:
        taken: list[StaffCommand] = []
        while True:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                return taken

    def close(self) -> None:
        pass


class GpioStaffButton(QueuedStaffInput):
    """A push button from `pin` to ground (the pin's pull-up holds it high until pressed).

    `pin_factory=None` uses gpiozero's default; pass the same mock factory as the lights to
    run anywhere (tests press it with `pin.drive_low()`). Raises `StaffInputError`.
    """

    def __init__(self, pin: int = 23, bounce_s: float = 0.05, pin_factory: Any = None,
                 wake: Callable[[], None] = lambda: None) -> None:
        super().__init__(wake)
        from gpiozero import Button  # lazy, as in lights: importing gpiozero probes pins
        from gpiozero.exc import GPIOZeroError

        self.pin = pin
        try:
            self._button: Any = Button(
                pin, pull_up=True, bounce_time=bounce_s, pin_factory=pin_factory
            )
        except (GPIOZeroError, OSError) as exc:
            raise StaffInputError(f"cannot open the staff button on GPIO{pin}: {exc}") from exc
        # Called on gpiozero's own thread: only queue, the loop decides what a press means.
        self._button.when_pressed = lambda: self.put(StaffCommand.PRESS)

    def close(self) -> None:
        button, self._button = self._button, None
        if button is not None:
            button.close()
