"""GpioSignals on gpiozero's own mock pins: each pattern's light, sound and relay, with timing.

Mock pins record every change with the time since the previous one; `assert_states_and_times`
compares within 50 ms. It zips the lists, so every check also asserts the number of changes.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterator
from math import isclose

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from gpiozero.tones import Tone

from kiosk.bootstrap import build_signals
from kiosk.config import ConfigError, parse_config
from kiosk.model import CodeKind, Fault, Phase, Reason, State, Verdict
from kiosk.signals import Signals
from kiosk.signals.lights import (
    FAULT,
    PATTERNS,
    RGB_COLOURS,
    GpioSignals,
    LightsError,
    describe,
    mock_pin_factory,
    pattern_of,
)

GREEN, RED, AMBER, BUZZER, RELAY, BLUE = 17, 27, 22, 18, 24, 23
PINS = (GREEN, RED, AMBER, BUZZER, RELAY)
RELAY_S = 0.5
REASONS = {Phase.PASS: Reason.VALID, Phase.FAIL: Reason.EXPIRED, Phase.UNKNOWN: Reason.TIMEOUT}
OFF, ON = False, True


def state(phase: Phase, faults: frozenset[Fault] = frozenset()) -> State:
    verdict = None
    if phase in REASONS:
        verdict = Verdict(REASONS[phase], "age", CodeKind.BARCODE, "0123abcd")
    return State(phase, verdict, faults)


class Rig:
    """Three LEDs, an active buzzer and a relay on a mock factory of their own."""

    def __init__(self, **kwargs: object) -> None:
        self.factory = MockFactory()
        self.lights = GpioSignals(GREEN, RED, AMBER, BUZZER, relay_pin=RELAY,
                                  relay_seconds=RELAY_S, pin_factory=self.factory, **kwargs)  # type: ignore[arg-type]

    def pin(self, number: int):
        return self.factory.pin(number)

    def show_fresh(self, shown: State) -> None:
        """Show a state with every pin's history starting now, so times count from the show."""
        for number in PINS:
            self.pin(number).clear_states()
        self.lights.show(shown)

    def levels(self) -> dict[int, bool]:
        return {n: bool(self.pin(n).state) for n in PINS}

    def close(self) -> None:
        self.lights.close()
        self.factory.reset()


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    yield made
    made.close()


def assert_history(pin, expected: list[tuple[float, bool]], what: str) -> None:
    got = [(round(s.timestamp, 3), bool(s.state)) for s in pin.states]
    assert len(pin.states) == len(expected), f"{what}: {got}"
    pin.assert_states_and_times(expected)


# What each look does to each pin (pins not named stay as they were), counted up to the
# look's window: a time in the middle of a gap between changes, so timing jitter cannot move
# a change across it.
TIMELINE: dict[str, tuple[float, dict[int, list[tuple[float, bool]]]]] = {
    "idle": (1.0, {AMBER: [(0, OFF), (0, ON), (0.1, OFF)]}),  # heartbeat; next flash at 3 s
    "checking": (1.0, {AMBER: [(0, OFF), (0, ON)]}),
    "pass": (1.0, {
        GREEN: [(0, OFF), (0, ON)],
        BUZZER: [(0, OFF), (0, ON), (0.2, OFF)],  # the chirp's two notes are one beep here
        RELAY: [(0, OFF), (0, ON), (RELAY_S, OFF)],
    }),
    "fail": (1.0, {
        RED: [(0, OFF), (0, ON)],
        BUZZER: [(0, OFF), (0, ON), (0.1, OFF), (0.1, ON), (0.1, OFF), (0.1, ON), (0.1, OFF)],
    }),
    "unknown": (1.12, {
        AMBER: [(0, OFF), (0, ON), (0.25, OFF), (0.25, ON), (0.25, OFF), (0.25, ON)],
        BUZZER: [(0, OFF), (0, ON), (0.4, OFF), (0.2, ON), (0.4, OFF)],
    }),
    "attended_wait": (1.5, {AMBER: [(0, OFF), (0, ON), (1.0, OFF)]}),
    "fault": (1.5, {
        RED: [(0, OFF), (0, ON), (0.1, OFF), (0.9, ON), (0.1, OFF)],
        BUZZER: [(0, OFF), (0, ON), (0.6, OFF)],
    }),
}
SHOWN = {
    "idle": state(Phase.IDLE),
    "checking": state(Phase.CHECKING),
    "pass": state(Phase.PASS),
    "fail": state(Phase.FAIL),
    "unknown": state(Phase.UNKNOWN),
    "attended_wait": state(Phase.ATTENDED_WAIT),
    "fault": state(Phase.IDLE, frozenset({Fault.CAMERA})),
}


def until(pin, window: float) -> list:
    """The pin's changes up to `window` seconds after its history began."""
    kept, elapsed = [], 0.0
    for change in pin.states:
        elapsed += change.timestamp
        if elapsed > window:
            break
        kept.append(change)
    return kept


def test_every_pattern_sets_its_pins_in_its_rhythm() -> None:
    """All looks at once, each on its own mock board, so the suite waits 1.5 s, not 7."""
    rigs = {look: Rig() for look in TIMELINE}
    try:
        for look, made in rigs.items():
            made.show_fresh(SHOWN[look])
            assert made.lights.look == look
        time.sleep(max(window for window, _ in TIMELINE.values()) + 0.05)
        for look, made in rigs.items():
            window, pins = TIMELINE[look]
            for number in PINS:
                expected = pins.get(number, [(0, OFF)])
                changes = until(made.pin(number), window)
                got = [(round(c.timestamp, 3), bool(c.state)) for c in changes]
                assert len(changes) == len(expected), f"{look}, GPIO{number}: {got}"
                for (t, level), (want_t, want) in zip(changes, expected, strict=True):
                    assert isclose(t, want_t, abs_tol=0.05), f"{look}, GPIO{number}: {got}"
                    assert bool(level) == want, f"{look}, GPIO{number}: {got}"
    finally:
        for made in rigs.values():
            made.close()


def test_gpio_signals_satisfies_the_signals_port(rig: Rig) -> None:
    signals: Signals = rig.lights
    signals.tick(0.0)


def test_every_phase_and_the_fault_have_a_pattern() -> None:
    assert set(PATTERNS) == {*map(str, Phase), FAULT}


def test_no_two_patterns_differ_by_colour_alone() -> None:
    """Without colour, each pattern still has its own rhythm, sound or relay."""

    def colourless(steps: tuple) -> tuple:
        return tuple((value is not None, seconds) for value, seconds in steps)

    shapes = {(colourless(p.light), colourless(p.sound), p.relay) for p in PATTERNS.values()}
    assert len(shapes) == len(PATTERNS)


def test_nothing_is_green_before_a_pass() -> None:
    for look, pattern in PATTERNS.items():
        if look != Phase.PASS:
            assert all(colour != "green" for colour, _ in pattern.light), look


def test_a_fault_takes_the_lights_only_while_the_kiosk_rests() -> None:
    camera = frozenset({Fault.CAMERA})
    assert pattern_of(state(Phase.IDLE, camera)) == FAULT
    assert pattern_of(state(Phase.ATTENDED_WAIT, camera)) == FAULT
    for phase in (Phase.READING, Phase.CHECKING, Phase.PASS, Phase.FAIL, Phase.UNKNOWN):
        assert pattern_of(state(phase, camera)) == phase


@pytest.mark.parametrize("phase", [Phase.IDLE, Phase.READING])
def test_idle_and_reading_are_silent_and_dark_apart_from_the_heartbeat(
    rig: Rig, phase: Phase
) -> None:
    rig.lights.show(state(Phase.FAIL))
    time.sleep(0.6)  # let the fail beeps finish
    rig.show_fresh(state(phase))
    time.sleep(0.05)
    assert not any(rig.levels()[n] for n in (GREEN, RED, BUZZER, RELAY))
    assert [bool(s.state) for s in rig.pin(RED).states] == [ON, OFF]  # red went off
    assert len(rig.pin(BUZZER).states) == 1 and len(rig.pin(GREEN).states) == 1
    amber = [bool(s.state) for s in rig.pin(AMBER).states]
    assert amber == ([OFF, ON] if phase is Phase.IDLE else [OFF])


def test_the_amber_blink_stops_when_the_kiosk_checks(rig: Rig) -> None:
    rig.lights.show(state(Phase.UNKNOWN))
    time.sleep(0.1)
    rig.show_fresh(state(Phase.READING))
    time.sleep(0.6)
    amber = rig.pin(AMBER)
    assert [bool(s.state) for s in amber.states] == [ON, OFF]


def test_a_new_fault_during_a_result_neither_beeps_nor_changes_the_light(rig: Rig) -> None:
    rig.lights.show(state(Phase.PASS))
    time.sleep(RELAY_S + 0.05)  # the chirp and the relay pulse are over
    rig.show_fresh(state(Phase.PASS, frozenset({Fault.NETWORK})))
    time.sleep(0.2)
    for number in PINS:
        assert len(rig.pin(number).states) == 1, number


def test_a_fault_beeps_once_when_it_appears_not_each_time_the_kiosk_rests(rig: Rig) -> None:
    net = frozenset({Fault.NETWORK})
    rig.lights.show(state(Phase.PASS, net))  # appears during a result: heard when at rest
    rig.show_fresh(state(Phase.IDLE, net))
    time.sleep(0.05)
    assert rig.pin(BUZZER).state, "the fault is announced once the result is over"
    time.sleep(0.6)
    rig.lights.show(state(Phase.CHECKING, net))
    rig.show_fresh(state(Phase.IDLE, net))  # back at rest, the same fault: light only
    time.sleep(0.15)
    assert len(rig.pin(BUZZER).states) == 1
    assert [bool(s.state) for s in rig.pin(RED).states] == [OFF, ON, OFF]
    both = net | {Fault.CLOCK}
    rig.show_fresh(state(Phase.IDLE, both))  # a second fault is news: heard
    time.sleep(0.05)
    assert rig.pin(BUZZER).state


def test_no_relay_pulse_outside_a_pass(rig: Rig) -> None:
    for phase in (Phase.FAIL, Phase.UNKNOWN, Phase.CHECKING, Phase.ATTENDED_WAIT):
        rig.lights.show(state(phase))
    assert len(rig.pin(RELAY).states) == 1


def test_a_low_triggered_relay_rests_high_and_pulses_low() -> None:
    made = Rig(relay_active_high=False)
    try:
        assert made.pin(RELAY).state, "an active-low relay is released by a high pin"
        made.show_fresh(state(Phase.PASS))
        time.sleep(RELAY_S + 0.1)
        assert_history(made.pin(RELAY), [(0, ON), (0, OFF), (RELAY_S, ON)], "relay")
    finally:
        made.close()


def test_close_switches_everything_off_and_later_shows_are_ignored() -> None:
    made = Rig()
    made.lights.show(state(Phase.PASS))
    made.lights.close()
    assert made.levels() == dict.fromkeys(PINS, False)
    made.lights.show(state(Phase.FAIL))
    made.lights.close()
    assert not made.pin(RED).state
    made.factory.reset()


def test_a_pin_already_in_use_raises_lights_error() -> None:
    factory = MockFactory()
    with pytest.raises(LightsError):
        GpioSignals(GREEN, GREEN, AMBER, BUZZER, pin_factory=factory)
    # the LED opened before the failure was released again
    GpioSignals(GREEN, RED, AMBER, BUZZER, pin_factory=factory).close()


def test_a_pin_another_process_holds_is_a_lights_error_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # lgpio's own exception (lgpio.py: `class error(Exception)`, raised by _u2i on a negative
    # status such as LG_GPIO_BUSY): neither GPIOZeroError nor OSError. gpiozero's lgpio pin
    # lets it through from gpio_claim_*; lgpio is imported then, so it is in sys.modules.
    lgpio = types.ModuleType("lgpio")

    class error(Exception):
        pass

    lgpio.error = error  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lgpio", lgpio)

    class ClaimedElsewhere(MockPWMPin):
        def __init__(self, factory: MockFactory, info: object) -> None:
            if RED in info.names:  # type: ignore[attr-defined]
                raise lgpio.error("GPIO busy")  # type: ignore[attr-defined]
            super().__init__(factory, info)

    factory = MockFactory(pin_class=ClaimedElsewhere)
    with pytest.raises(LightsError, match="GPIO busy"):
        GpioSignals(GREEN, RED, AMBER, BUZZER, pin_factory=factory)
    config = parse_config({"signals": {"gpio": "mock", "screen": "off", "events": "off"}})
    assert build_signals(config, pin_factory=factory) == []  # the kiosk runs on without LEDs
    factory.reset()


# -- RGB LED ---------------------------------------------------------------------------------


@pytest.fixture
def pwm_factory() -> Iterator[MockFactory]:
    factory = MockFactory(pin_class=MockPWMPin)  # an RGB LED dims its legs with PWM
    yield factory
    factory.reset()


def rgb_levels(factory: MockFactory) -> tuple[float, float, float]:
    return tuple(float(factory.pin(n).state) for n in (RED, GREEN, BLUE))  # type: ignore[return-value]


@pytest.mark.parametrize("active_high", [True, False], ids=["common-cathode", "common-anode"])
def test_an_rgb_led_mixes_each_colour(pwm_factory: MockFactory, active_high: bool) -> None:
    lights = GpioSignals(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, leds="rgb",
                         led_active_high=active_high, pin_factory=pwm_factory)
    try:
        for phase, colour in ((Phase.PASS, "green"), (Phase.FAIL, "red"),
                              (Phase.CHECKING, "amber")):
            lights.show(state(phase))
            expected = RGB_COLOURS[colour]
            if not active_high:  # the common leg is at 3.3 V: a lit leg is pulled low
                expected = tuple(1 - v for v in expected)  # type: ignore[assignment]
            assert all(isclose(a, b) for a, b in zip(rgb_levels(pwm_factory), expected,
                                                         strict=True)), colour
        lights.show(state(Phase.READING))
        assert rgb_levels(pwm_factory) == ((0.0,) * 3 if active_high else (1.0,) * 3)
    finally:
        lights.close()


def test_the_rgb_led_blinks_unknown_in_the_same_rhythm(pwm_factory: MockFactory) -> None:
    lights = GpioSignals(red_pin=RED, green_pin=GREEN, blue_pin=BLUE, leds="rgb",
                         pin_factory=pwm_factory)
    try:
        red = pwm_factory.pin(RED)
        red.clear_states()
        lights.show(state(Phase.UNKNOWN))
        time.sleep(0.6)
        assert_history(red, [(0, OFF), (0, ON), (0.25, OFF), (0.25, ON)], "red leg")
        assert not pwm_factory.pin(BLUE).state
    finally:
        lights.close()


# -- tonal buzzer ----------------------------------------------------------------------------


class RecordingPWMPin(MockPWMPin):
    """A PWM mock pin that also records the frequencies it was set to, with times."""

    def __init__(self, factory: MockFactory, info: object) -> None:
        self.tones: list[tuple[float, float | None]] = []
        self._tone_at = time.monotonic()
        super().__init__(factory, info)

    def _set_frequency(self, value: float | None) -> None:
        super()._set_frequency(value)
        now = time.monotonic()
        if not self.tones or self.tones[-1][1] != value:
            self.tones.append((now - self._tone_at, value))
            self._tone_at = now


def assert_tones(pin: RecordingPWMPin, expected: list[tuple[float, str | None]]) -> None:
    got = [(round(t, 3), f and round(f)) for t, f in pin.tones]
    assert len(pin.tones) == len(expected), got
    for (t, frequency), (want_t, note) in zip(pin.tones, expected, strict=True):
        assert isclose(t, want_t, abs_tol=0.05), got
        want = None if note is None else Tone(note).frequency
        assert frequency == want or isclose(frequency or 0, want or 0, rel_tol=1e-3), got


@pytest.mark.parametrize(
    ("phase", "tune"),
    [
        (Phase.PASS, [(0, "C6"), (0.08, "G6"), (0.12, None)]),  # rising: good news
        (Phase.FAIL, [(0, "A4"), (0.1, None), *[(0.1, "A4"), (0.1, None)] * 2]),
        (Phase.UNKNOWN, [(0, "E5"), (0.4, None), (0.2, "E5"), (0.4, None)]),
    ],
)
def test_a_tonal_buzzer_plays_each_result_in_its_own_pitch(
    phase: Phase, tune: list[tuple[float, str | None]]
) -> None:
    factory = MockFactory(pin_class=RecordingPWMPin)
    lights = GpioSignals(buzzer="tonal", pin_factory=factory)
    try:
        buzzer = factory.pin(BUZZER)
        buzzer.tones.clear()
        buzzer._tone_at = time.monotonic()
        lights.show(state(phase))
        time.sleep(tune_length(tune) + 0.1)
        assert_tones(buzzer, tune)
        assert buzzer.frequency is None and not buzzer.state  # silent after the tune
    finally:
        lights.close()
        factory.reset()


def tune_length(tune: list[tuple[float, str | None]]) -> float:
    return sum(t for t, _ in tune)


def test_tonal_notes_are_within_the_buzzer_range() -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    lights = GpioSignals(buzzer="tonal", pin_factory=factory)
    try:
        notes = {note for p in PATTERNS.values() for note, _ in p.sound if note}
        for note in notes:  # TonalBuzzer.play raises ValueError for a note out of range
            lights._sound._apply(note)
    finally:
        lights.close()
        factory.reset()


# -- words and wiring ------------------------------------------------------------------------


def test_describe_says_what_an_installer_should_see_and_hear() -> None:
    assert describe(PATTERNS[Phase.PASS], 1.5) == (
        "light green steady, 1 beep (0.2 s), relay on 1.5 s"
    )
    assert describe(PATTERNS[Phase.PASS]) == "light green steady, 1 beep (0.2 s)"  # no relay
    assert describe(PATTERNS[Phase.FAIL]) == "light red steady, 3 beeps (0.1 s)"
    assert describe(PATTERNS[Phase.IDLE]) == "light amber 0.1 s on / 2.9 s off, silent"
    assert describe(PATTERNS[Phase.READING]) == "light dark, silent"


def test_mock_pin_factory_drives_every_kind_of_device() -> None:
    factory = mock_pin_factory()
    try:
        lights = GpioSignals(leds="rgb", buzzer="tonal", relay_pin=RELAY, pin_factory=factory)
        lights.show(state(Phase.PASS))
        assert factory.pin(GREEN).state == 1.0 and factory.pin(RELAY).state
        lights.close()
    finally:
        factory.reset()


def test_show_is_safe_from_several_threads(rig: Rig) -> None:
    """The app shows from its loop; a fault may arrive from a watcher thread."""
    phases = [Phase.CHECKING, Phase.UNKNOWN, Phase.IDLE, Phase.FAIL] * 10
    threads = [threading.Thread(target=rig.lights.show, args=(state(p),)) for p in phases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rig.lights.show(state(Phase.READING))
    time.sleep(0.05)
    assert not any(rig.levels()[n] for n in (GREEN, RED, AMBER))


# -- wiring from the config ------------------------------------------------------------------


def test_two_devices_on_one_pin_are_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"signals": {"relay_pin": 17}})
    assert err.value.key == "signals.relay_pin" and "signals.green_pin" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config({"signals": {"leds": "rgb", "blue_pin": 27}})
    assert err.value.key == "signals.blue_pin"
    # amber_pin is unused with an RGB LED, and a missing relay or button takes no pin
    parse_config({"signals": {"leds": "rgb", "blue_pin": 22, "amber_pin": 22, "relay_pin": -1,
                              "staff_pin": -1}})


def test_build_signals_wires_the_configured_kinds() -> None:
    signals = {"gpio": "mock", "screen": "off", "events": "off", "leds": "rgb", "blue_pin": 5,
               "buzzer": "tonal", "relay_pin": RELAY, "relay_active_high": False}
    config = parse_config({"signals": signals})
    factory = mock_pin_factory()
    (lights,) = build_signals(config, pin_factory=factory)
    try:
        assert isinstance(lights, GpioSignals)
        assert factory.pin(RELAY).state, "an active-low relay rests high"
        lights.show(state(Phase.PASS))
        assert factory.pin(GREEN).state == 1.0 and factory.pin(5).state == 0.0
        assert factory.pin(BUZZER).frequency is not None, "the tonal buzzer plays a note"
        assert not factory.pin(RELAY).state, "the relay pulled in for the pass"
    finally:
        lights.close()
        factory.reset()


def test_mock_pins_remember_a_bounded_history() -> None:
    from kiosk.signals.lights import MOCK_PIN_HISTORY

    factory = mock_pin_factory()
    try:
        pin = factory.pin(5)
        pin.function = "output"
        for i in range(MOCK_PIN_HISTORY * 3):
            pin.state = i % 2
        assert len(pin.states) == MOCK_PIN_HISTORY
        assert bool(pin.states[-1].state) == bool((MOCK_PIN_HISTORY * 3 - 1) % 2)
    finally:
        factory.close()
