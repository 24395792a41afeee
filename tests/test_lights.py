"""GpioSignals on gpiozero's own mock pins: each phase's light and sound, with timing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from kiosk.model import CodeKind, Fault, Outcome, Phase, State, Verdict
from kiosk.signals import Signals
from kiosk.signals.lights import PATTERNS, GpioSignals, LightsError, mock_pin_factory

GREEN, RED, AMBER, BUZZER = 17, 27, 22, 18


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()  # pins and reservations are cached per factory


@pytest.fixture
def lights(factory: MockFactory) -> Iterator[GpioSignals]:
    signals = GpioSignals(GREEN, RED, AMBER, BUZZER, pin_factory=factory)
    yield signals
    signals.close()


OUTCOMES = {Phase.PASS: Outcome.PASS, Phase.FAIL: Outcome.FAIL, Phase.UNKNOWN: Outcome.UNKNOWN}


def state(phase: Phase, faults: frozenset[Fault] = frozenset()) -> State:
    verdict = None
    if phase in OUTCOMES:
        verdict = Verdict(OUTCOMES[phase], "valid", "age", CodeKind.BARCODE, "0123abcd")
    return State(phase, verdict, faults)


def show_fresh(lights: GpioSignals, factory: MockFactory, phase: Phase) -> None:
    """Show `phase` with every pin's history starting now, so times count from the show."""
    for number in (GREEN, RED, AMBER, BUZZER):
        factory.pin(number).clear_states()
    lights.show(state(phase))


def levels(factory: MockFactory) -> dict[int, bool]:
    return {n: factory.pin(n).state for n in (GREEN, RED, AMBER, BUZZER)}


def test_gpio_signals_satisfies_the_signals_port(lights: GpioSignals) -> None:
    signals: Signals = lights
    signals.tick(0.0)


def test_every_phase_has_a_pattern() -> None:
    assert set(PATTERNS) == set(Phase)


def test_patterns_differ_in_colour_rhythm_or_sound_between_all_shown_phases() -> None:
    visible = [p for p in PATTERNS.values() if p.led or p.beeps]
    assert len(set(visible)) == len(visible)


def test_nothing_is_green_before_a_pass() -> None:
    for phase in (Phase.IDLE, Phase.READING, Phase.CHECKING, Phase.FAIL, Phase.UNKNOWN):
        assert PATTERNS[phase].led != "green"


@pytest.mark.parametrize("phase", [Phase.IDLE, Phase.READING])
def test_idle_and_reading_are_dark_and_silent(
    lights: GpioSignals, factory: MockFactory, phase: Phase
) -> None:
    lights.show(state(Phase.FAIL))
    time.sleep(0.7)  # let the fail beeps finish
    show_fresh(lights, factory, phase)
    time.sleep(0.1)
    assert levels(factory) == {GREEN: False, RED: False, AMBER: False, BUZZER: False}
    # red went off, nothing else moved
    assert [s.state for s in factory.pin(RED).states] == [True, False]
    for number in (GREEN, AMBER, BUZZER):
        assert len(factory.pin(number).states) == 1


def test_checking_is_amber_solid_and_silent(lights: GpioSignals, factory: MockFactory) -> None:
    show_fresh(lights, factory, Phase.CHECKING)
    time.sleep(0.3)
    amber = factory.pin(AMBER)
    amber.assert_states_and_times([(0.0, False), (0.0, True)])
    assert len(amber.states) == 2
    assert levels(factory) == {GREEN: False, RED: False, AMBER: True, BUZZER: False}
    assert len(factory.pin(BUZZER).states) == 1


def test_pass_is_green_solid_with_one_short_beep(lights: GpioSignals, factory: MockFactory) -> None:
    show_fresh(lights, factory, Phase.PASS)
    time.sleep(0.35)
    green, buzzer = factory.pin(GREEN), factory.pin(BUZZER)
    green.assert_states_and_times([(0.0, False), (0.0, True)])
    assert len(green.states) == 2
    buzzer.assert_states_and_times([(0.0, False), (0.0, True), (0.1, False)])
    assert len(buzzer.states) == 3
    assert levels(factory) == {GREEN: True, RED: False, AMBER: False, BUZZER: False}


def test_fail_is_red_solid_with_three_short_beeps(
    lights: GpioSignals, factory: MockFactory
) -> None:
    show_fresh(lights, factory, Phase.FAIL)
    time.sleep(0.7)
    red, buzzer = factory.pin(RED), factory.pin(BUZZER)
    red.assert_states_and_times([(0.0, False), (0.0, True)])
    assert len(red.states) == 2
    buzzer.assert_states_and_times(
        [(0.0, False), (0.0, True), (0.1, False), (0.1, True), (0.1, False), (0.1, True),
         (0.1, False)]
    )  # fmt: skip
    assert len(buzzer.states) == 7
    assert levels(factory) == {GREEN: False, RED: True, AMBER: False, BUZZER: False}


def test_unknown_is_amber_blinking_with_two_long_beeps(
    lights: GpioSignals, factory: MockFactory
) -> None:
    show_fresh(lights, factory, Phase.UNKNOWN)
    time.sleep(1.15)  # beeps end at 1.0 s; the amber LED is mid-way through its 5th on
    amber, buzzer = factory.pin(AMBER), factory.pin(BUZZER)
    amber.assert_states_and_times(
        [(0.0, False), (0.0, True), (0.25, False), (0.25, True), (0.25, False), (0.25, True)]
    )
    assert len(amber.states) == 6
    buzzer.assert_states_and_times(
        [(0.0, False), (0.0, True), (0.4, False), (0.2, True), (0.4, False)]
    )
    assert len(buzzer.states) == 5
    assert not factory.pin(GREEN).state and not factory.pin(RED).state


def test_the_amber_blink_stops_when_the_kiosk_goes_idle(
    lights: GpioSignals, factory: MockFactory
) -> None:
    lights.show(state(Phase.UNKNOWN))
    time.sleep(0.1)
    show_fresh(lights, factory, Phase.IDLE)
    time.sleep(0.6)
    amber = factory.pin(AMBER)
    assert [s.state for s in amber.states] == [True, False]
    assert not amber.state


def test_a_new_fault_in_the_same_phase_does_not_beep_again(
    lights: GpioSignals, factory: MockFactory
) -> None:
    lights.show(state(Phase.PASS))
    time.sleep(0.3)
    factory.pin(BUZZER).clear_states()
    lights.show(state(Phase.PASS, frozenset({Fault.NETWORK})))
    time.sleep(0.2)
    assert len(factory.pin(BUZZER).states) == 1


def test_close_switches_everything_off_and_later_shows_are_ignored(
    factory: MockFactory,
) -> None:
    lights = GpioSignals(GREEN, RED, AMBER, BUZZER, pin_factory=factory)
    lights.show(state(Phase.PASS))
    lights.close()
    assert not factory.pin(GREEN).state and not factory.pin(BUZZER).state
    lights.show(state(Phase.FAIL))
    lights.close()
    assert not factory.pin(RED).state


def test_a_pin_already_in_use_raises_lights_error(factory: MockFactory) -> None:
    with pytest.raises(LightsError):
        GpioSignals(GREEN, GREEN, AMBER, BUZZER, pin_factory=factory)
    # the LED opened before the failure was released again
    GpioSignals(GREEN, RED, AMBER, BUZZER, pin_factory=factory).close()


def test_mock_pin_factory_drives_mock_pins() -> None:
    factory = mock_pin_factory()
    try:
        lights = GpioSignals(pin_factory=factory)
        lights.show(state(Phase.CHECKING))
        assert factory.pin(22).state
        lights.close()
    finally:
        factory.reset()
