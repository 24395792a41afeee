"""The composition root: the one place that turns a config into real devices and clients.

Everything else receives its I/O through constructors, so tests and the demo build the same
objects with fakes only at the outermost seam (the sandbox, mock pins, the dummy display).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.app import Kiosk, Reading, frame_readings, scanner_readings
from kiosk.checker import DiiaChecker
from kiosk.config import Config, ConfigError, Credentials
from kiosk.decode import make_decoder
from kiosk.diia.client import DiiaClient
from kiosk.signals import Signals
from kiosk.signals.events import JsonLinesEvents

log = logging.getLogger(__name__)

CAMERA_GONE_FRAMES = 8  # about half a second at 15 fps: tolerates frames where a read misses


def on_raspberry_pi() -> bool:
    try:
        return "Raspberry Pi" in Path("/proc/device-tree/model").read_text(errors="replace")
    except OSError:
        return False


def screen_size(config: Config) -> tuple[int, int]:
    width, _, height = config.signals.screen_size.partition("x")
    return int(width), int(height)


def build_signals(
    config: Config, *, screenshot_dir: Path | None = None, pin_factory: Any = None
) -> list[Signals]:
    """Every configured output. One that cannot open is logged and left out: a kiosk with a
    dead screen still lights its LEDs and tells the POS, and the reverse."""
    signals: list[Signals] = []
    gpio = config.signals.gpio
    if gpio != "off" and (gpio == "mock" or pin_factory is not None or on_raspberry_pi()):
        from kiosk.signals.lights import GpioSignals, LightsError, mock_pin_factory

        if gpio == "mock" and pin_factory is None:
            pin_factory = mock_pin_factory()
        s = config.signals
        try:
            signals.append(
                GpioSignals(
                    green_pin=s.green_pin,
                    red_pin=s.red_pin,
                    amber_pin=s.amber_pin,
                    buzzer_pin=s.buzzer_pin,
                    pin_factory=pin_factory,
                )
            )
        except LightsError as exc:
            log.error("no LEDs or buzzer: %s", exc)
    elif gpio == "auto":
        log.info("not a Raspberry Pi: no LEDs or buzzer (signals.gpio = \"mock\" to simulate)")
    if config.signals.screen == "pygame":
        from kiosk.signals.screen import PygameScreen, ScreenError

        try:
            signals.append(
                PygameScreen(
                    size=screen_size(config),
                    language=config.kiosk.language,
                    fullscreen=config.signals.fullscreen,
                    screenshot_dir=screenshot_dir,
                )
            )
        except ScreenError as exc:
            log.error("no screen: %s", exc)
    if config.signals.events != "off":
        signals.append(JsonLinesEvents.open(config.signals.events))
    return signals


def build_client(config: Config, credentials: Credentials, transport: Any = None) -> DiiaClient:
    d = config.diia
    if d.ca_file and not Path(d.ca_file).is_file():
        raise ConfigError("diia.ca_file", f"{d.ca_file} is not a readable file")
    return DiiaClient(
        d.base_url,
        credentials,
        d.branch_id,
        timeout_s=d.timeout_s,
        qr_field=d.qr_field,
        age_field=d.age_field,
        ca_file=d.ca_file,
        transport=transport,
    )


def build_checker(config: Config, client: DiiaClient) -> DiiaChecker:
    return DiiaChecker(
        client, mode=config.kiosk.mode, min_age=config.kiosk.min_age, send_qr=config.diia.send_qr
    )


def build_readings(config: Config) -> tuple[Iterable[Reading], int]:
    """The readings of the configured source, and how many empty frames mean "gone"."""
    source = config.source
    if source.kind == "images":
        from kiosk.sources.images import ImageFrames

        frames = ImageFrames.from_paths(
            [source.path], hold_frames=source.hold_frames, fps=source.fps
        )
        # One whole image without a code means the code was taken away.
        return frame_readings(frames, make_decoder(config.decode.backend)), source.hold_frames
    if source.kind == "stdin":
        from kiosk.sources.stdin import StdinCodes

        return scanner_readings(StdinCodes()), 0
    raise ConfigError("source.kind", f'"{source.kind}" is not available in this version yet')


@dataclass
class Appliance:
    """A built kiosk with what must be closed after it."""

    kiosk: Kiosk
    client: DiiaClient
    signals: list[Signals] = field(default_factory=list)

    def run(self) -> None:
        try:
            self.kiosk.run()
        finally:
            self.close()

    def close(self) -> None:
        for signal in self.signals:
            signal.close()
        self.client.close()


def build_appliance(
    config: Config, credentials: Credentials, *, screenshot_dir: Path | None = None
) -> Appliance:
    readings, gone_frames = build_readings(config)  # first: a bad source is a config error
    client = build_client(config, credentials)
    signals = build_signals(config, screenshot_dir=screenshot_dir)
    kiosk = Kiosk(
        readings=readings,
        checker=build_checker(config, client),
        signals=signals,
        result_seconds=config.kiosk.result_seconds,
        gone_frames=gone_frames,
    )
    return Appliance(kiosk, client, signals)


def use_headless_display_if_needed() -> None:
    """With no desktop and no console driver chosen, draw off-screen (SDL's dummy driver)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
