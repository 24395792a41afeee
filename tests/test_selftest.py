"""`kiosk selftest` on mock pins and the dummy display: every state reaches every signal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from gpiozero.pins.mock import MockFactory, MockPWMPin

from kiosk.config import Config, SignalsSection, parse_config
from kiosk.model import Fault, Phase
from kiosk.selftest import run_selftest, selftest, selftest_steps, wait_for_press, wiring
from kiosk.signals.lights import GpioSignals
from kiosk.signals.screen import PygameScreen
from kiosk.staff import GpioStaffButton
from tests.fakes.signals import RecordingSignals

GREEN, RED, AMBER, BUZZER, RELAY, STAFF = 17, 27, 22, 18, 24, 23


def test_the_steps_cover_every_phase_every_fault_and_a_held_verdict() -> None:
    steps = selftest_steps()
    assert {step.state.phase for step in steps} == set(Phase)
    assert {f for step in steps for f in step.state.faults} == set(Fault)
    assert any(step.state.awaiting_staff for step in steps)
    assert all(step.state.verdict.mode == "age" for step in steps if step.state.verdict)


def test_every_step_reaches_every_signal_and_is_explained(tmp_path: Path) -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    lights = GpioSignals(relay_pin=RELAY, relay_seconds=0.1, pin_factory=factory)
    screen = PygameScreen(size=(480, 320), screenshot_dir=tmp_path)
    recorder = RecordingSignals()
    out = io.StringIO()
    try:
        run_selftest([lights, screen, recorder], out, step_seconds=0.02, relay_seconds=0.1)
    finally:
        lights.close()
        screen.close()
    steps = selftest_steps()
    lines = out.getvalue().splitlines()
    assert len(lines) == len(steps)
    for number, (line, step) in enumerate(zip(lines, steps, strict=True), 1):
        assert line.startswith(f"[{number}/{len(steps)}] {step.name}: light "), line
    assert "relay on 0.1 s" in lines[3] and "«Вік підтверджено»" in lines[3]
    assert [s.phase for s in recorder.states] == [s.state.phase for s in steps]
    assert recorder.ticks >= len(steps), "animations were driven during each step"
    for pin in (GREEN, RED, AMBER, BUZZER, RELAY):  # each wire was driven at least once
        assert any(change.state for change in factory.pin(pin).states), pin
    assert len(list(tmp_path.glob("*.png"))) == len(steps), "each step looks different"
    factory.reset()


def test_wait_for_press_hears_the_real_button() -> None:
    factory = MockFactory()
    button = GpioStaffButton(STAFF, pin_factory=factory)
    pin = factory.pin(STAFF)
    pin.drive_low()  # pressed before the question: not counted
    pin.drive_high()
    out = io.StringIO()
    try:
        assert not wait_for_press(button, out, 0.05)
        assert "NOT pressed" in out.getvalue()
        out = io.StringIO()
        assert wait_for_press(button, out, 5.0, press=lambda: (pin.drive_low(), pin.drive_high()))
        assert "pressed, OK" in out.getvalue()
    finally:
        button.close()
        factory.reset()


def test_selftest_on_a_laptop_with_mock_pins_passes() -> None:
    config = Config(signals=SignalsSection(gpio="mock", relay_pin=RELAY))
    out = io.StringIO()
    assert selftest(config, out, step_seconds=0.01, wait_press_s=2.0)
    text = out.getvalue()
    assert text.startswith("GPIO: mock (mock pins); LEDs: green GPIO17, red GPIO27, amber GPIO22")
    assert "staff button: pressed, OK" in text
    assert "selftest: all signals were shown" in text


def test_selftest_without_gpio_says_what_it_could_not_test() -> None:
    config = Config(signals=SignalsSection(gpio="off"))
    out = io.StringIO()
    assert selftest(config, out, step_seconds=0.01)
    assert "not tested (no GPIO here" in out.getvalue()
    assert "staff button" not in out.getvalue().split("\n", 1)[1]


def test_the_wiring_line_follows_the_led_kind() -> None:
    config = parse_config({"signals": {"leds": "rgb", "blue_pin": 5, "buzzer": "tonal",
                                       "staff_pin": -1}})
    assert wiring(config) == (
        "RGB LED: red GPIO27, green GPIO17, blue GPIO5, tonal buzzer GPIO18"
    )


def test_the_command_runs_the_test_and_writes_no_event(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[signals]\nevents = "stdout"\nrelay_pin = 24\n')
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run(
        [sys.executable, "-m", "kiosk", "selftest", "--config", str(config), "--gpio", "mock",
         "--seconds", "0.01", "--wait-press", "2"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    steps = len(selftest_steps())  # the phases, then each fault banner
    assert f"[{steps}/{steps}] fault: {list(Fault)[-1]}" in result.stdout
    assert not any(line.startswith("{") for line in result.stdout.splitlines())


def test_the_screen_colours_it_names_are_the_readme_s() -> None:
    from kiosk.selftest import SCREEN_LOOKS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for phase in (Phase.PASS, Phase.FAIL, Phase.UNKNOWN, Phase.ATTENDED_WAIT):
        row = next(line for line in readme.splitlines() if line.startswith(f"| {phase} |"))
        colour = SCREEN_LOOKS[phase].split(",")[0]  # "dark teal", not "green"
        assert f"| {colour}, " in row, (phase, colour, row)
