"""The staff button on gpiozero's mock pins: a press is queued for the loop, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory
from PIL import Image

from kiosk.bootstrap import attended_checks, bootstrap, build_staff, staff_at_the_till
from kiosk.config import Config, ConfigError, Credentials, parse_config
from kiosk.model import StaffCommand
from kiosk.staff import GpioStaffButton, QueuedStaffInput, StaffInputError

PIN = 23


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def button(factory: MockFactory) -> Iterator[GpioStaffButton]:
    made = GpioStaffButton(PIN, pin_factory=factory)
    yield made
    made.close()


def press(factory: MockFactory) -> None:
    pin = factory.pin(PIN)
    pin.drive_low()  # the button joins the pin to ground
    pin.drive_high()  # released: the pull-up lifts it again


def test_the_pin_rests_high_on_its_pull_up(button: GpioStaffButton, factory: MockFactory) -> None:
    assert factory.pin(PIN).state is True
    assert factory.pin(PIN).pull == "up"
    assert button.take() == []


def test_each_press_is_taken_once(button: GpioStaffButton, factory: MockFactory) -> None:
    press(factory)
    assert button.take() == [StaffCommand.PRESS]
    assert button.take() == []
    press(factory)
    press(factory)
    assert button.take() == [StaffCommand.PRESS, StaffCommand.PRESS]


def test_holding_the_button_down_is_one_press(
    button: GpioStaffButton, factory: MockFactory
) -> None:
    pin = factory.pin(PIN)
    pin.drive_low()
    pin.drive_low()  # still down: no new edge
    assert button.take() == [StaffCommand.PRESS]
    pin.drive_high()
    assert button.take() == [], "letting go is not a press"


def test_a_pin_in_use_is_a_clear_error(factory: MockFactory) -> None:
    first = GpioStaffButton(PIN, pin_factory=factory)
    try:
        with pytest.raises(StaffInputError, match="GPIO23"):
            GpioStaffButton(PIN, pin_factory=factory)
    finally:
        first.close()


def test_close_releases_the_pin_and_is_safe_twice(factory: MockFactory) -> None:
    button = GpioStaffButton(PIN, pin_factory=factory)
    button.close()
    button.close()
    GpioStaffButton(PIN, pin_factory=factory).close()  # the pin is free again


def test_commands_from_another_thread_arrive_in_order() -> None:
    """The POS will put explicit commands from its own thread."""
    staff = QueuedStaffInput()
    sent = [StaffCommand.ARM, StaffCommand.ACKNOWLEDGE] * 50
    worker = threading.Thread(target=lambda: [staff.put(c) for c in sent])
    worker.start()
    worker.join()
    assert staff.take() == sent


# -- wiring from the config (the composition root) --------------------------------------------


def config_with(tmp_path: Path, **sections: dict[str, object]) -> Config:
    """A config that builds without devices: images from an empty folder, no screen."""
    base: dict[str, dict[str, object]] = {
        "source": {"kind": "images", "path": str(tmp_path)},
        "signals": {"gpio": "mock", "screen": "off", "events": "off"},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return parse_config(base)


def test_attended_applies_to_age_checks_only(tmp_path: Path) -> None:
    assert attended_checks(config_with(tmp_path))  # the defaults: age, attended
    assert not attended_checks(config_with(tmp_path, kiosk={"mode": "validate"}))
    assert not attended_checks(config_with(tmp_path, kiosk={"attended": False}))
    assert build_staff(config_with(tmp_path, kiosk={"mode": "name"})) is None


def test_attended_age_checks_without_a_button_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        build_staff(config_with(tmp_path, signals={"gpio": "off"}))
    assert err.value.key == "kiosk.attended" and "GPIO23" in str(err.value)
    with pytest.raises(ConfigError) as err:
        build_staff(config_with(tmp_path, signals={"staff_pin": -1}), MockFactory())
    assert err.value.key == "signals.staff_pin"


def test_the_appliance_is_built_attended_with_its_button(tmp_path: Path) -> None:
    Image.new("L", (64, 64), 255).save(tmp_path / "empty.png")  # the camera sees nothing
    config = config_with(tmp_path)
    appliance = bootstrap(config, credentials=Credentials("acquirer", "auth"))
    try:
        assert appliance.kiosk.attended and appliance.kiosk.arm_seconds == 120.0
        assert isinstance(appliance.staff, GpioStaffButton) and appliance.staff.pin == 23
        assert appliance.kiosk.staff is appliance.staff
    finally:
        appliance.close()
    unattended = bootstrap(config_with(tmp_path, kiosk={"attended": False}),
                           credentials=Credentials("acquirer", "auth"))
    assert not unattended.kiosk.attended and unattended.staff is None
    unattended.close()


def test_the_screen_knows_when_the_till_is_the_staff_step(tmp_path: Path) -> None:
    lan = {"listen": "127.0.0.1:8765"}
    assert staff_at_the_till(config_with(tmp_path, signals={"gpio": "off"}, api=lan))
    assert not staff_at_the_till(config_with(tmp_path, signals={"gpio": "mock"}, api=lan))
    assert not staff_at_the_till(config_with(tmp_path, kiosk={"attended": False},
                                             signals={"gpio": "off"}, api=lan))
