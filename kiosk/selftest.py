"""`kiosk selftest`: every signal through every state, so an installer can check the wiring.

Each step shows one state on the LEDs, the buzzer, the relay and the screen at once, and
prints what a person should see and hear, so a swapped wire or a silent buzzer shows up as a
difference. Then it asks for a press of the staff button. Nothing is sent to Diia and no
verdict event is written: the POS never hears of a test. With `signals.gpio = "mock"` it runs
on a laptop, and presses the mock staff button itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kiosk.config import Config, ConfigError, gpio_pins
from kiosk.messages import FAULTS, banner_for, text_for
from kiosk.model import (
    RESULT_PHASES,
    Code,
    CodeKind,
    Fault,
    Outcome,
    Phase,
    Reason,
    StaffCommand,
    State,
    Verdict,
)
from kiosk.signals import TICK_S, Signals
from kiosk.signals.lights import PATTERNS, describe, pattern_of
from kiosk.staff import StaffInput

if TYPE_CHECKING:
    from kiosk.bootstrap import Parts
    from kiosk.model import CheckTerms

# What the screen shows in each phase, besides its words.
SCREEN_LOOKS: dict[Phase, str] = {
    Phase.IDLE: "dark slate, a phone with a barcode, a red line sweeping it",
    Phase.READING: "slate blue, the phone inside viewfinder corners",
    Phase.CHECKING: "blue, a ring of dots turning",
    Phase.PASS: "dark teal, a check mark",
    Phase.FAIL: "deep red, a cross",
    Phase.UNKNOWN: "bright amber, an exclamation mark",
    Phase.ATTENDED_WAIT: "purple, a member of staff",
}
_REASONS = {Outcome.PASS: Reason.VALID, Outcome.FAIL: Reason.EXPIRED,
            Outcome.UNKNOWN: Reason.DIIA_UNAVAILABLE}


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    state: State


def selftest_steps(mode: str = "age") -> list[Step]:
    """Every phase once, a verdict held for staff, then each fault over the idle screen."""
    steps = []
    outcome_of = {phase: outcome for outcome, phase in RESULT_PHASES.items()}
    for phase in (Phase.IDLE, Phase.READING, Phase.CHECKING, Phase.PASS, Phase.FAIL,
                  Phase.UNKNOWN, Phase.ATTENDED_WAIT):
        verdict = None
        if phase in outcome_of:
            outcome = outcome_of[phase]
            verdict = Verdict(_REASONS[outcome], mode, CodeKind.BARCODE, "selftest")
        steps.append(Step(str(phase), State(phase, verdict)))
    held = steps[3].state
    steps.append(Step("pass, held for staff", replace(held, awaiting_staff=True)))
    for fault in Fault:
        steps.append(Step(f"fault: {fault}", State(Phase.IDLE, faults=frozenset({fault}))))
    return steps


def expectation(step: Step, language: str, relay_seconds: float | None) -> str:
    """What the installer should see and hear during `step`."""
    state = step.state
    headline, _ = text_for(state, language)
    banner = banner_for(state.faults, language)
    lights = describe(PATTERNS[pattern_of(state)], relay_seconds)
    if banner:
        screen = f"a dark strip on top, «{banner}», over the {state.phase} screen"
    elif state.faults:  # for staff only: no words for the customer
        said = " · ".join(FAULTS[language if language in FAULTS else "uk"][f]
                          for f in sorted(state.faults))
        screen = (f"the {state.phase} screen with a small warning sign in its top right "
                  f"corner, no words (for staff: {said})")
    else:
        screen = f"{SCREEN_LOOKS[state.phase]}: «{headline}»"
    if state.awaiting_staff:
        screen += ", a staff note at the foot"
    return f"{lights}; screen {screen}"


def run_selftest(
    signals: Sequence[Signals],
    out: TextIO,
    *,
    steps: Sequence[Step] | None = None,
    step_seconds: float = 2.0,
    language: str = "uk",
    relay_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Show each step on every signal for `step_seconds`, saying what to expect."""
    steps = list(steps if steps is not None else selftest_steps())
    for number, step in enumerate(steps, 1):
        out.write(f"[{number}/{len(steps)}] {step.name}: "
                  f"{expectation(step, language, relay_seconds)}\n")
        out.flush()
        state = replace(step.state, since=clock())
        for signal in signals:
            signal.show(state)
        until = clock() + step_seconds
        while clock() < until:
            sleep(min(TICK_S, max(0.0, until - clock())))
            for signal in signals:
                signal.tick(clock())


def wait_for_press(
    staff: StaffInput,
    out: TextIO,
    wait_seconds: float,
    press: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Ask for a press of the staff button; `press` simulates one (mock pins)."""
    staff.take()  # forget presses made before the question
    out.write(f"staff button: press it now (waiting {wait_seconds:g} s)\n")
    out.flush()
    if press is not None:
        out.write("  (mock pins: pressing it for you)\n")
        press()
    until = clock() + wait_seconds
    while True:
        if StaffCommand.PRESS in staff.take():
            out.write("staff button: pressed, OK\n")
            return True
        if clock() >= until:
            out.write("staff button: NOT pressed - check its wiring (pin to ground)\n")
            return False
        sleep(TICK_S)


def wiring(config: Config) -> str:
    """The pins in use, for the first line of the test."""
    s = config.signals
    pins = gpio_pins(s)
    names = {"green_pin": "green", "red_pin": "red", "amber_pin": "amber", "blue_pin": "blue",
             "buzzer_pin": f"{s.buzzer} buzzer", "relay_pin": "relay",
             "staff_pin": "staff button"}
    led = "RGB LED" if s.leds == "rgb" else "LEDs"
    parts = [f"{names[key]} GPIO{pin}" for key, pin in pins.items()]
    return f"{led}: " + ", ".join(parts)


class _NoChecks:
    """The selftest's checker: it reads no code, so none is ever checked."""

    def check(self, code: Code, terms: CheckTerms | None = None) -> Verdict:
        raise AssertionError("the selftest never checks a code")


def selftest(
    config: Config,
    out: TextIO,
    *,
    step_seconds: float = 2.0,
    wait_press_s: float = 15.0,
    screenshot_dir: Path | None = None,
) -> bool:
    """Build the configured signals and staff button, run the test; True if all worked."""
    from kiosk.bootstrap import bootstrap, on_raspberry_pi
    from kiosk.signals.lights import mock_pin_factory

    s = config.signals
    gpio = s.gpio == "mock" or (s.gpio == "auto" and on_raspberry_pi())
    pin_factory = mock_pin_factory() if s.gpio == "mock" else None
    ok = True
    out.write(f"GPIO: {s.gpio}{' (mock pins)' if s.gpio == 'mock' else ''}; {wiring(config)}\n")

    def build(staff: bool) -> Parts:
        # Only the outputs and the staff button: no source, no Diia, never a verdict event.
        quiet = replace(config, signals=replace(s, events="off"),
                        kiosk=replace(config.kiosk, attended=staff, mode="age"))
        return bootstrap(quiet, readings=(), checker=_NoChecks(), pin_factory=pin_factory,
                         screenshot_dir=screenshot_dir)

    try:
        appliance = build(staff=gpio and s.staff_pin >= 0)
    except ConfigError as exc:  # the staff button could not be opened
        out.write(f"staff button: could NOT be opened: {exc}\n")
        ok = False
        appliance = build(staff=False)
    signals, staff = appliance.outputs, appliance.staff
    kinds = {type(signal).__name__ for signal in signals}
    if gpio and "GpioSignals" not in kinds:
        out.write("LEDs, buzzer, relay: could NOT be opened (see the error above)\n")
        ok = False
    elif not gpio:
        out.write("LEDs, buzzer, relay: not tested (no GPIO here; signals.gpio = \"mock\" "
                  "simulates them)\n")
    if s.screen == "pygame" and "PygameScreen" not in kinds:
        out.write("screen: could NOT be opened (see the error above)\n")
        ok = False
    try:
        run_selftest(
            signals,
            out,
            steps=selftest_steps(config.kiosk.mode),
            step_seconds=step_seconds,
            language=config.kiosk.language,
            relay_seconds=s.relay_seconds if s.relay_pin >= 0 else None,
        )
        if staff is not None:
            press = None
            if pin_factory is not None:  # mock pins: nobody is there to press
                pin = pin_factory.pin(s.staff_pin)

                def press() -> None:
                    pin.drive_low()
                    pin.drive_high()

            ok = wait_for_press(staff, out, wait_press_s, press) and ok
    finally:
        appliance.close()
    out.write("selftest: all signals were shown; compare each step with its line above\n"
              if ok else "selftest: something could not be tested (see above)\n")
    return ok
