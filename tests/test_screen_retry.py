"""A screen that could not open at start (no panel yet, a desktop holding the display) is
tried again with a growing pause, through the loop's isolated outputs; meanwhile the LEDs
show the fault, and once it opens the screen shows the kiosk's state."""

from __future__ import annotations

import contextlib

import pytest

from kiosk.app import Kiosk, Reading
from kiosk.model import Fault, Phase, State
from kiosk.signals.lights import GpioSignals, mock_pin_factory
from kiosk.signals.screen import PygameScreen, ScreenError
from kiosk.signals.screen_retry import ReopeningScreen
from tests.fakes.clock import FakeClock
from tests.fakes.signals import RecordingSignals


class Panel:
    """Opens the real screen (SDL dummy driver) once it is "connected"."""

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.tries = 0
        self.opened: list[PygameScreen] = []

    def __call__(self) -> PygameScreen:
        self.tries += 1
        if self.tries <= self.fails:
            raise ScreenError("cannot open the screen (video driver kmsdrm): No such device")
        screen = PygameScreen(size=(480, 320))
        self.opened.append(screen)
        return screen


def test_tries_again_with_a_growing_pause_and_says_why_meanwhile():
    clock = FakeClock()
    panel = Panel(fails=1)  # after the failed open at start, as bootstrap makes it
    screen = ReopeningScreen(panel, "No such device", clock=clock, retry_s=(5.0, 60.0))
    idle = State(Phase.IDLE)
    with pytest.raises(ScreenError, match=r"no screen \(No such device\); next try in 5 s"):
        screen.show(idle)
    assert panel.tries == 0  # no try before the pause is over
    clock.sleep(5)
    with pytest.raises(ScreenError):
        screen.show(idle)  # the 2nd try fails: the pause doubles
    clock.sleep(9)
    with pytest.raises(ScreenError, match="next try in 1 s"):
        screen.show(idle)
    clock.sleep(1)
    screen.show(idle)
    assert panel.tries == 2 and screen.tries == 3 and screen.screen is panel.opened[0]
    screen.tick(clock.now)
    screen.close()


def test_a_screen_that_fails_after_opening_is_opened_anew():
    clock = FakeClock()
    panel = Panel(fails=0)
    screen = ReopeningScreen(panel, "no output", clock=clock, retry_s=(5.0, 60.0))
    clock.sleep(5)
    screen.show(State(Phase.IDLE))
    first = panel.opened[0]
    first.show = lambda state: (_ for _ in ()).throw(ScreenError("display gone"))
    with pytest.raises(ScreenError, match="display gone"):
        screen.show(State(Phase.IDLE))
    assert screen.screen is None
    clock.sleep(5)
    screen.show(State(Phase.IDLE))
    assert len(panel.opened) == 2 and screen.screen is panel.opened[1]
    screen.close()


def test_the_pause_stops_growing_at_a_minute():
    clock = FakeClock()
    panel = Panel(fails=100)
    screen = ReopeningScreen(panel, "no output", clock=clock)
    for _ in range(600):  # ten minutes, a show every second
        clock.sleep(1)
        with contextlib.suppress(ScreenError):
            screen.show(State(Phase.IDLE))
    assert 10 <= panel.tries <= 15  # 5, 10, 20, 40, then every 60 s


def test_the_loop_shows_the_fault_on_the_leds_until_the_screen_opens():
    clock = FakeClock()
    panel = Panel(fails=1)
    screen = ReopeningScreen(panel, "no output", clock=clock, retry_s=(5.0, 60.0))
    lights = GpioSignals(pin_factory=mock_pin_factory())
    recorder = RecordingSignals()
    seen: list[tuple[str | None, bool]] = []

    def readings():
        for _ in range(40):  # 40 turns of 1 s with nothing in view
            clock.sleep(1.0)
            seen.append((lights.look, screen.screen is not None))
            yield Reading([], [], clock.now)

    kiosk = Kiosk(readings=readings(), checker=None, signals=[screen, lights, recorder],
                  clock=clock, sleep=clock.sleep)
    kiosk.run()
    assert seen[1] == ("fault", False)  # no screen: the LEDs say so
    assert seen[-1] == ("idle", True)  # opened at the 2nd try; the fault is gone
    assert Fault.OUTPUT in recorder.states[1].faults
    assert Fault.OUTPUT not in recorder.states[-1].faults
    assert panel.opened[0].frames >= 1  # it drew the kiosk's state
    kiosk.close_outputs()


def test_bootstrap_keeps_a_screen_that_cannot_open_yet(monkeypatch):
    from kiosk.bootstrap import build_signals
    from kiosk.config import parse_config

    monkeypatch.setenv("SDL_VIDEODRIVER", "kmsdrm")  # no DRM device on this machine
    config = parse_config({"signals": {"screen": "pygame", "gpio": "off", "events": "off"}})
    signals = build_signals(config)
    assert [type(s).__name__ for s in signals] == ["ReopeningScreen"]
    with pytest.raises(ScreenError, match="no screen"):
        signals[0].show(State(Phase.IDLE))


def test_a_display_refused_by_the_device_policy_is_not_retried_but_ends_the_kiosk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Here SDL's KMS/DRM driver finds no card; on a Pi whose unit started before the DRM
    # core, the card is there and access(2) says EPERM: only a restart cures that.
    from kiosk.ops.devices import DeviceDenied
    from kiosk.signals import screen

    monkeypatch.setenv("SDL_VIDEODRIVER", "kmsdrm")
    monkeypatch.setattr(screen, "refused", lambda dev, patterns: [dev / "dri/card1"])
    with pytest.raises(DeviceDenied, match=r"the screen: /dev/dri/card1 refused"):
        PygameScreen(fullscreen=True)
    monkeypatch.setattr(screen, "refused", lambda dev, patterns: [])
    with pytest.raises(ScreenError, match="video driver kmsdrm"):  # retried, as before
        PygameScreen(fullscreen=True)
