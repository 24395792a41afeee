"""LEDs and buzzer on GPIO: one table from phase to pattern, played by gpiozero.

Each phase differs in colour, rhythm and sound, so an answer is clear to someone who cannot
tell red from green, or who is not looking:

=========  ==============================  ===========================
phase      light                           buzzer
=========  ==============================  ===========================
idle       all off                         silent
reading    all off                         silent
checking   amber solid                     silent
pass       green solid                     one short beep (0.1 s)
fail       red solid                       three short beeps
unknown    amber blinking 0.25 s / 0.25 s  two long beeps (0.4 s)
=========  ==============================  ===========================

Nothing green is shown before a pass: reading stays dark rather than blink green. Blinking
and beeping run in gpiozero's background threads, so `show` returns at once. The hardware
seam is `pin_factory=`: gpiozero's `MockFactory` off the Pi and in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.model import Phase, State

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory


class LightsError(RuntimeError):
    """The LEDs or the buzzer cannot be opened (no GPIO, pin busy, no permission)."""


@dataclass(frozen=True, slots=True)
class Blink:
    on_s: float
    off_s: float


@dataclass(frozen=True, slots=True)
class Beeps:
    count: int
    on_s: float
    off_s: float


@dataclass(frozen=True, slots=True)
class Pattern:
    """Which LED is lit (`None`: all dark), steady or blinking, and the beeps on entry."""

    led: str | None = None  # "green" | "red" | "amber"
    blink: Blink | None = None  # None: steady
    beeps: Beeps | None = None  # None: silent


PATTERNS: dict[Phase, Pattern] = {
    Phase.IDLE: Pattern(),
    Phase.READING: Pattern(),
    Phase.CHECKING: Pattern("amber"),
    Phase.PASS: Pattern("green", beeps=Beeps(1, 0.1, 0.1)),
    Phase.FAIL: Pattern("red", beeps=Beeps(3, 0.1, 0.1)),
    Phase.UNKNOWN: Pattern("amber", blink=Blink(0.25, 0.25), beeps=Beeps(2, 0.4, 0.2)),
}


def mock_pin_factory() -> MockFactory:
    """gpiozero's mock pins, for running off the Pi (demo, laptop, tests)."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


class GpioSignals:
    """Three LEDs (green, red, amber) and an active buzzer on BCM pins.

    `pin_factory=None` uses gpiozero's default (lgpio on a Pi); pass `mock_pin_factory()` to
    run anywhere. Raises `LightsError` if the pins cannot be opened.
    """

    def __init__(
        self,
        green_pin: int = 17,
        red_pin: int = 27,
        amber_pin: int = 22,
        buzzer_pin: int = 18,
        pin_factory: Any = None,
    ) -> None:
        # Lazy: importing gpiozero probes for pin libraries, which `import kiosk` must not do.
        from gpiozero import LED, Buzzer
        from gpiozero.exc import GPIOZeroError

        self._leds: dict[str, Any] = {}
        self._buzzer: Any = None
        self._phase: Phase | None = None
        try:
            for name, pin in (("green", green_pin), ("red", red_pin), ("amber", amber_pin)):
                self._leds[name] = LED(pin, pin_factory=pin_factory)
            self._buzzer = Buzzer(buzzer_pin, pin_factory=pin_factory)
        except (GPIOZeroError, OSError) as exc:
            self.close()
            raise LightsError(f"cannot open GPIO pins: {exc}") from exc

    def show(self, state: State) -> None:
        if self._buzzer is None:
            return  # closed
        if state.phase == self._phase:
            return  # only the faults changed: keep the blink rhythm, do not beep again
        self._phase = state.phase
        pattern = PATTERNS[state.phase]
        for name, led in self._leds.items():
            if name != pattern.led:
                led.off()
        if pattern.led is not None:
            led = self._leds[pattern.led]
            if pattern.blink is None:
                led.on()
            else:
                led.blink(pattern.blink.on_s, pattern.blink.off_s, n=None, background=True)
        # Beeps start only on entering a phase that has them; leaving a phase lets the beeps
        # finish, so a result shown for 0 s (batch runs) is still heard whole.
        if pattern.beeps is not None:
            beeps = pattern.beeps
            self._buzzer.beep(beeps.on_s, beeps.off_s, n=beeps.count, background=True)

    def tick(self, now: float) -> None:
        """Nothing to do: gpiozero's background threads keep the rhythm."""

    def close(self) -> None:
        devices = [*self._leds.values(), self._buzzer]
        self._leds = {}
        self._buzzer = None
        for device in devices:
            if device is not None:
                device.off()  # dark and silent before the pin is let go
                device.close()
