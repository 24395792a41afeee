"""LEDs, buzzer and relay on GPIO: one table from what is shown to a pattern, played on
gpiozero devices.

Each pattern differs from the others in colour, rhythm and sound, so an answer is clear to
someone who cannot tell red from green, or who is not looking:

=============  ===============================  =================================  =====
look           light                            sound (on entry)                   relay
=============  ===============================  =================================  =====
idle           amber flash 0.1 s every 3 s      silent                             -
reading        dark                             silent                             -
checking       amber steady                     silent                             -
pass           green steady                     one rising chirp (0.2 s)           pulse
fail           red steady                       three short low beeps (0.1 s)      -
unknown        amber blinking 0.25 s / 0.25 s   two long beeps (0.4 s)             -
attended_wait  amber blinking 1 s / 1 s         silent                             -
fault          red flash 0.1 s every second     one long low beep (0.6 s), once    -
=============  ===============================  =================================  =====

A fault (camera, network, clock, config) takes the lights only while the kiosk rests (idle,
waiting for staff): a verdict in progress keeps its own pattern. The fault beep sounds once
per new fault. Nothing green is ever shown before a pass.

The light is three LEDs (green, red, amber) or one RGB LED; the sound an active buzzer (on or
off, so only the rhythm counts) or a passive piezo played as a `TonalBuzzer` (rhythm and
pitch). Patterns play in background threads, so `show` returns at once. The hardware seam is
`pin_factory=`: gpiozero's `MockFactory` off the Pi and in the tests.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.model import Fault, Phase, State

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory


class LightsError(RuntimeError):
    """The LEDs, buzzer or relay cannot be opened (no GPIO, pin busy, no permission)."""


Step = tuple[str | None, float]  # (colour or note, seconds); None: dark or silent


@dataclass(frozen=True, slots=True)
class Pattern:
    """A light loop, a sound played once on entry, and whether the relay pulses.

    `light` repeats for as long as the pattern is shown; a single step of 0 s is steady, no
    steps is dark. `sound` is notes (scientific pitch, e.g. "A5") and rests; an active buzzer
    plays every note alike.
    """

    light: tuple[Step, ...] = ()
    sound: tuple[Step, ...] = ()
    relay: bool = False


def _steady(colour: str) -> tuple[Step, ...]:
    return ((colour, 0.0),)


def _blink(colour: str, on_s: float, off_s: float) -> tuple[Step, ...]:
    return ((colour, on_s), (None, off_s))


def _beeps(note: str, count: int, on_s: float, off_s: float) -> tuple[Step, ...]:
    steps = _blink(note, on_s, off_s) * count
    return steps[:-1]  # no rest after the last beep


FAULT = "fault"
PATTERNS: dict[str, Pattern] = {
    Phase.IDLE: Pattern(_blink("amber", 0.1, 2.9)),
    Phase.READING: Pattern(),
    Phase.CHECKING: Pattern(_steady("amber")),
    Phase.PASS: Pattern(_steady("green"), (("C6", 0.08), ("G6", 0.12)), relay=True),
    Phase.FAIL: Pattern(_steady("red"), _beeps("A4", 3, 0.1, 0.1)),
    Phase.UNKNOWN: Pattern(_blink("amber", 0.25, 0.25), _beeps("E5", 2, 0.4, 0.2)),
    Phase.ATTENDED_WAIT: Pattern(_blink("amber", 1.0, 1.0)),
    FAULT: Pattern(_blink("red", 0.1, 0.9), (("A4", 0.6),)),
}
RESTING = frozenset({Phase.IDLE, Phase.ATTENDED_WAIT})  # phases a fault may take over

# The RGB LED's mix for each colour name (PWM duty per leg).
RGB_COLOURS: dict[str, tuple[float, float, float]] = {
    "green": (0.0, 1.0, 0.0),
    "red": (1.0, 0.0, 0.0),
    "amber": (1.0, 0.35, 0.0),  # green is the brightest leg: a little of it reads as amber
}
TONAL_MID = "A5"  # the tonal buzzer plays A4..A6 (440-1760 Hz), where piezos are loud
LED_KINDS = ("three", "rgb")
BUZZER_KINDS = ("active", "tonal")


def pattern_of(state: State) -> str:
    """Which pattern a state shows: its phase's, or the fault pattern while at rest."""
    if state.faults and state.phase in RESTING:
        return FAULT
    return str(state.phase)


def describe(pattern: Pattern, relay_seconds: float | None = None) -> str:
    """A pattern in words, for the installer running `kiosk selftest`; `relay_seconds` only
    when a relay is wired."""
    light = pattern.light
    if not light:
        seen = "dark"
    elif len(light) == 1:
        seen = f"{light[0][0]} steady"
    else:
        (colour, on_s), (_, off_s) = light[0], light[1]
        seen = f"{colour} {on_s:g} s on / {off_s:g} s off"
    beeps: list[float] = []  # consecutive notes sound as one beep on an active buzzer
    previous: str | None = None
    for note, seconds in pattern.sound:
        if note is None:
            previous = None
            continue
        if previous is None:
            beeps.append(0.0)
        beeps[-1] += seconds
        previous = note
    if not beeps:
        heard = "silent"
    else:
        lengths = "/".join(sorted({f"{b:.1f}" for b in beeps}))
        heard = f"{len(beeps)} beep{'s' if len(beeps) > 1 else ''} ({lengths} s)"
    relay = f", relay on {relay_seconds:g} s" if pattern.relay and relay_seconds else ""
    return f"light {seen}, {heard}{relay}"


MOCK_PIN_HISTORY = 1000  # state changes a mock pin remembers (tests read a few dozen)


def mock_pin_factory() -> MockFactory:
    """gpiozero's mock pins, PWM-capable (RGB LED, tonal buzzer), for running off the Pi.

    gpiozero's mock pin keeps every state change it ever had: 5 a scan, 45,000 objects and
    8 MB over a 10,000-scan soak. A kiosk left running on mock pins (a demo stand) keeps
    the last `MOCK_PIN_HISTORY` only."""
    from collections import deque

    from gpiozero.pins.mock import MockFactory, MockPWMPin

    class BoundedMockPWMPin(MockPWMPin):
        states: Any  # gpiozero's list of PinState, here a bounded deque

        def clear_states(self) -> None:
            super().clear_states()
            self.states = deque(self.states, maxlen=MOCK_PIN_HISTORY)

    return MockFactory(pin_class=BoundedMockPWMPin)


def _lgpio_errors() -> tuple[type[Exception], ...]:
    """lgpio's own exception, raised through gpiozero when a pin is busy ("GPIO busy"): a
    plain Exception. Looked up only if gpiozero's lgpio factory imported lgpio (importing
    it here would leave its notify FIFO in the working directory for nothing)."""
    error = getattr(sys.modules.get("lgpio"), "error", None)
    return (error,) if isinstance(error, type) and issubclass(error, Exception) else ()


class _Player:
    """Plays steps on one output in a daemon thread: a loop for lights, once for sound."""

    def __init__(self, apply: Callable[[str | None], None], name: str) -> None:
        self._apply = apply
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def play(self, steps: tuple[Step, ...], loop: bool) -> None:
        self.stop()
        if not steps or (len(steps) == 1 and steps[0][1] == 0):
            self._apply(steps[0][0] if steps else None)  # steady or dark: no thread needed
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(steps, loop, self._stop), name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the steps being played and wait for their thread; the output stays as it is."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def _run(self, steps: tuple[Step, ...], loop: bool, stop: threading.Event) -> None:
        while True:
            for value, seconds in steps:
                self._apply(value)
                if stop.wait(seconds):
                    return
            if not loop:
                self._apply(None)
                return


class GpioSignals:
    """LEDs, a buzzer and an optional relay on BCM pins; implements `Signals`.

    `leds`: "three" (green, red and amber LEDs on `green_pin`, `red_pin`, `amber_pin`) or
    "rgb" (one RGB LED on `red_pin`, `green_pin`, `blue_pin`). `led_active_high=False` for a
    common-anode RGB LED or LEDs wired to 3.3 V. `buzzer`: "active" (sounds when powered) or
    "tonal" (a passive piezo driven with PWM). `relay_pin`: a gate or locker released for
    `relay_seconds` on each pass; None for none. `relay_active_high=False` for the usual
    low-triggered relay boards.

    `pin_factory=None` uses gpiozero's default (lgpio on a Pi); pass `mock_pin_factory()` to
    run anywhere. Raises `LightsError` if the pins cannot be opened.
    """

    def __init__(
        self,
        green_pin: int = 17,
        red_pin: int = 27,
        amber_pin: int = 22,
        buzzer_pin: int = 18,
        *,
        leds: str = "three",
        blue_pin: int = 22,
        led_active_high: bool = True,
        buzzer: str = "active",
        relay_pin: int | None = None,
        relay_seconds: float = 1.0,
        relay_active_high: bool = True,
        pin_factory: Any = None,
    ) -> None:
        if leds not in LED_KINDS or buzzer not in BUZZER_KINDS:
            raise ValueError(f"leds must be one of {LED_KINDS}, buzzer one of {BUZZER_KINDS}")
        # Lazy: importing gpiozero probes for pin libraries, which `import kiosk` must not do.
        from gpiozero import LED, RGBLED, Buzzer, DigitalOutputDevice, TonalBuzzer
        from gpiozero.exc import GPIOZeroError
        from gpiozero.tones import Tone

        self._devices: list[Any] = []
        self._lock = threading.Lock()
        self._look: str | None = None
        self._faults: frozenset[Fault] = frozenset()
        self._unheard: frozenset[Fault] = frozenset()  # faults not yet announced by sound
        self.relay_seconds = relay_seconds
        self._relay: Any = None

        def opened(device: Any) -> Any:
            self._devices.append(device)
            return device

        try:
            if leds == "rgb":
                rgb = opened(RGBLED(red_pin, green_pin, blue_pin, active_high=led_active_high,
                                    pin_factory=pin_factory))

                def light(colour: str | None) -> None:
                    rgb.value = RGB_COLOURS[colour] if colour else (0.0, 0.0, 0.0)
            else:
                three = {
                    name: opened(LED(pin, active_high=led_active_high, pin_factory=pin_factory))
                    for name, pin in (("green", green_pin), ("red", red_pin), ("amber", amber_pin))
                }

                def light(colour: str | None) -> None:
                    for name, led in three.items():
                        if name != colour:
                            led.off()  # dark first: never two colours at once
                    if colour:
                        three[colour].on()

            if buzzer == "tonal":
                tonal = opened(TonalBuzzer(buzzer_pin, mid_tone=Tone(TONAL_MID),
                                           pin_factory=pin_factory))

                def sound(note: str | None) -> None:
                    if note:
                        tonal.play(Tone(note))
                    else:
                        tonal.stop()
            else:
                active = opened(Buzzer(buzzer_pin, pin_factory=pin_factory))

                def sound(note: str | None) -> None:
                    active.value = bool(note)

            if relay_pin is not None:
                self._relay = opened(DigitalOutputDevice(
                    relay_pin, active_high=relay_active_high, pin_factory=pin_factory))
        except Exception as exc:
            if not isinstance(exc, (GPIOZeroError, OSError, *_lgpio_errors())):
                raise
            self._close()
            raise LightsError(f"cannot open GPIO pins: {exc}") from exc
        self._light = _Player(light, "leds")
        self._sound = _Player(sound, "buzzer")

    @property
    def look(self) -> str | None:
        """The pattern now shown (a key of PATTERNS), None before the first state."""
        return self._look

    def show(self, state: State) -> None:
        with self._lock:  # faults may be set from another thread than the loop's
            self._show(state)

    def _show(self, state: State) -> None:
        if not self._devices:
            return  # closed
        self._unheard = (self._unheard | (state.faults - self._faults)) & state.faults
        self._faults = state.faults
        look = pattern_of(state)
        if look != self._look:  # else only the faults or the hint changed: keep the rhythm
            self._look = look
            pattern = PATTERNS[look]
            self._light.play(pattern.light, loop=True)
            # A sound starts only on entering a pattern that has one; leaving a pattern lets
            # its sound finish, so a result shown for 0 s (batch runs) is still heard whole.
            if pattern.sound and look != FAULT:
                self._sound.play(pattern.sound, loop=False)
            if pattern.relay and self._relay is not None:
                self._relay.blink(self.relay_seconds, 0, n=1, background=True)
        if look == FAULT and self._unheard:  # each new fault is heard once, not each return
            self._unheard = frozenset()
            self._sound.play(PATTERNS[FAULT].sound, loop=False)

    def tick(self, now: float) -> None:
        """Nothing to do: the patterns play in their own threads."""

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        for player in (getattr(self, "_light", None), getattr(self, "_sound", None)):
            if player is not None:
                player.stop()
        devices, self._devices = self._devices, []
        for device in devices:
            # Dark, silent and the relay shut before the pin is let go (a TonalBuzzer has no
            # off(); stop() is its silence).
            (device.off if hasattr(device, "off") else device.stop)()
            device.close()
