"""`kiosk demo`: the whole loop on a laptop, against the embedded Diia sandbox.

Codes are minted by the sandbox, drawn as the Diia app draws them, photographed by a
simulated camera and fed to the real decoder, checker, client and signals. The code images
live in memory only: no code is ever written to disk.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from PIL import Image

from kiosk import render
from kiosk.app import Kiosk, frame_readings
from kiosk.bootstrap import build_checker, build_client, build_signals
from kiosk.config import Config, DiiaSection, KioskSection, SignalsSection, SourceSection
from kiosk.decode import make_decoder
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.messages import text_for
from kiosk.model import RESULT_PHASES, Frame, State
from kiosk.sources.images import ImageFrames

HOLD_FRAMES = 3


@dataclass(frozen=True)
class Scene:
    title: str
    image: Image.Image


def demo_scenes(sandbox: DiiaSandbox) -> list[Scene]:
    """One presentation per outcome worth seeing, with a blank camera view between them."""
    adult = sandbox.mint("valid", age=30)
    scenes = [
        ("Android barcode, adult holder", render.render_ean13(adult)),
        ("iPhone barcode (Code 128), adult", render.render_code128(sandbox.mint("valid", age=41))),
        ("QR code, adult", render.render_qr(sandbox.mint("valid", age=25, kind="qr"))),
        ("holder under 18", render.render_ean13(sandbox.mint("valid", age=16))),
        ("code expired", render.render_ean13(sandbox.mint("expired"))),
        ("code already used", render.render_ean13(sandbox.mint("used"))),
        ("document not valid: age not confirmed",
         render.render_ean13(sandbox.mint("not_valid"))),
        ("a product barcode, not Diia: ignored", render.product_ean13("003600029145")),
        ("Diia down (503)", render.render_ean13(sandbox.mint("valid", fault="unavailable"))),
        ("first code shown again: from memory", render.render_ean13(adult)),
    ]
    blank = Image.new("L", (540, 960), 235)
    out: list[Scene] = []
    for title, screen in scenes:
        out.append(Scene(title, render.phone_photo(screen, angle=4.0, blur=0.6)))
        out.append(Scene("", render.phone_photo(blank)))
    return out


class NarratedFrames:
    """Shows each scene to the camera, saying first what it is."""

    def __init__(self, scenes: list[Scene], narration: TextIO) -> None:
        self._scenes = scenes
        self._narration = narration

    def frames(self) -> Iterator[Frame]:
        for scene in self._scenes:
            if scene.title:
                self._narration.write(f"{scene.title}\n")
            yield from ImageFrames([scene.image], hold_frames=HOLD_FRAMES).frames()


class ConsoleNarrator:
    """A `Signals` that tells a person at a terminal what the kiosk just showed."""

    def __init__(self, stream: TextIO, language: str) -> None:
        self._stream = stream
        self._language = language

    def show(self, state: State) -> None:
        if state.verdict is None or state.phase not in RESULT_PHASES.values():
            return
        headline, detail = text_for(state, self._language)
        v = state.verdict
        cached = " (cached)" if v.cached else ""
        self._stream.write(
            f"  -> {v.outcome:<7} {v.reason:<17}{cached} {headline}. {detail}\n"
        )
        self._stream.flush()

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass


def run_demo(
    *,
    screenshot_dir: Path | None = None,
    language: str = "uk",
    result_seconds: float = 1.0,
    narration: TextIO = sys.stderr,
) -> int:
    with DiiaSandbox() as sandbox:
        config = Config(
            kiosk=KioskSection(mode="age", min_age=18, language=language,
                               result_seconds=result_seconds, attended=False),
            diia=DiiaSection(base_url=sandbox.base_url, branch_id=sandbox.branch_id,
                             timeout_s=2.0),
            source=SourceSection(kind="images", hold_frames=HOLD_FRAMES),
            signals=SignalsSection(gpio="mock", events="stdout"),
        )
        scenes = demo_scenes(sandbox)
        narration.write(
            f"Diia sandbox on {sandbox.base_url}; mode: age >= 18; "
            f"{sum(1 for s in scenes if s.title)} codes shown to the camera\n"
        )
        frames = NarratedFrames(scenes, narration)
        client = build_client(config, sandbox.credentials)
        signals = [*build_signals(config, screenshot_dir=screenshot_dir),
                   ConsoleNarrator(narration, language)]
        kiosk = Kiosk(
            readings=frame_readings(frames, make_decoder("zxing")),
            checker=build_checker(config, client),
            signals=signals,
            result_seconds=result_seconds,
            gone_frames=HOLD_FRAMES,
        )
        try:
            kiosk.run()
        finally:
            for signal in signals:
                signal.close()
            client.close()
        narration.write(f"{kiosk.verdicts} verdicts, {sandbox.logins} Diia login(s)\n")
        if screenshot_dir is not None:
            narration.write(f"screens saved in {screenshot_dir}/\n")
    return 0
