"""Real signals: the GPIO pins of a Raspberry Pi and the screen on the KMS/DRM console.

Both skip where the hardware is absent. For what a person sees and hears, run
`kiosk selftest` on the kiosk: these tests only prove the devices open and take a state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.bootstrap import on_raspberry_pi
from kiosk.model import Phase, State


@pytest.mark.skipif(not on_raspberry_pi(), reason="not a Raspberry Pi: no GPIO pins to open")
def test_the_default_pins_open_through_gpiozero_s_own_factory() -> None:
    from kiosk.signals.lights import GpioSignals
    from kiosk.staff import GpioStaffButton

    lights = GpioSignals(buzzer="tonal", relay_pin=24)  # lgpio on a Pi 5, software PWM
    button = GpioStaffButton(23)
    try:
        lights.show(State(Phase.CHECKING))
        assert lights.look == "checking"
        assert button.take() == []
    finally:
        lights.close()
        button.close()


def _console_available() -> str | None:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return "a desktop is running: it holds the display"
    if not any(Path("/dev/dri").glob("card*")):
        return "no /dev/dri/card*: no KMS/DRM display"
    return None


@pytest.mark.skipif(_console_available() is not None, reason=str(_console_available()))
def test_the_screen_opens_fullscreen_on_the_console() -> None:
    code = (
        "import os; from kiosk.signals.display import prepare_video;"
        "prepare_video(os.environ, True);"
        "from kiosk.signals.screen import PygameScreen; from kiosk.model import State, Phase;"
        "s = PygameScreen(fullscreen=True); s.show(State(Phase.PASS));"
        "print(s.driver, *s.size); s.close()"
    )
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    driver, width, height = result.stdout.split()
    assert driver.lower() == "kmsdrm" and int(width) > 0 and int(height) > 0
