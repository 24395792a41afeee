"""`kiosk demo`: the whole loop on a laptop, against the embedded Diia sandbox.

Codes are minted by the sandbox, drawn as the Diia app draws them, photographed by a
simulated camera and fed to the real decoder, checker, client and signals. The code images
live in memory only: no code is ever written to disk. A last scene shows attended mode: a
cashier presses the staff button (a gpiozero Button on mock pins) to arm the kiosk and to
clear the verdict.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from PIL import Image

from kiosk.bootstrap import Parts, bootstrap
from kiosk.config import Config, DiiaSection, KioskSection, SignalsSection, SourceSection
from kiosk.decoding import code_images
from kiosk.diia.codes import ean13_check_digit
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.messages import CUSTOMER_FAULTS, one_line, text_for
from kiosk.model import RESULT_PHASES, Fault, Frame, State
from kiosk.signals.lights import mock_pin_factory
from kiosk.signals.screen import SCREEN_SIZES
from kiosk.sources.images import ImageFrames

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory, MockPin

HOLD_FRAMES = 3
# A shop's EAN-13 (Ukraine's 482 prefix) is also a well-formed Diia code: it is sent, and
# Diia's "not found" asks the customer for the code from Diia.
PRODUCT_LIKE_DIIA = "482000012345" + str(ean13_check_digit("482000012345"))
ATTENDED_CODES = 1  # the attended scene shows one more code after the main scenes
ARMED_AFTER_FRAMES = 6  # the cashier presses the button while the customer holds the phone
CASHIER_REACTS_S = 1.2  # then reads the verdict before clearing it


@dataclass(frozen=True)
class Scene:
    title: str
    image: Image.Image


def demo_scenes(sandbox: DiiaSandbox) -> list[Scene]:
    """One presentation per outcome worth seeing, with a blank camera view between them."""
    adult = sandbox.mint("valid", age=30)
    scenes = [
        ("Android barcode, adult holder", code_images.render_ean13(adult)),
        ("iPhone barcode (Code 128), adult",
         code_images.render_code128(sandbox.mint("valid", age=41))),
        ("QR code, adult", code_images.render_qr(sandbox.mint("valid", age=25, kind="qr"))),
        ("holder under 18", code_images.render_ean13(sandbox.mint("valid", age=16))),
        ("code expired", code_images.render_ean13(sandbox.mint("expired"))),
        ("code already used", code_images.render_ean13(sandbox.mint("used"))),
        ("document not valid: age not confirmed",
         code_images.render_ean13(sandbox.mint("not_valid"))),
        ("a product barcode, not Diia: ignored", code_images.product_ean13("003600029145")),
        ("a product barcode that could be Diia's (13 digits, valid check digit): Diia does "
         "not know it", code_images.render_ean13(PRODUCT_LIKE_DIIA, caption="")),
        ("Diia down (503)", code_images.render_ean13(sandbox.mint("valid", fault="unavailable"))),
        ("first code shown again: from memory", code_images.render_ean13(adult)),
    ]
    out: list[Scene] = []
    for title, screen in scenes:
        out.append(Scene(title, code_images.phone_photo(screen, angle=4.0, blur=0.6)))
        out.append(Scene("", code_images.phone_photo(BLANK)))
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


# Each fault once, over the idle screen: a banner for the customer, or for staff only a
# mark in the corner (`messages.CUSTOMER_FAULTS`). The demo raises and clears them itself, as
# the camera, the network, the clock check and the remote config would. Fault.OUTPUT is left
# out: the loop raises and clears it from its outputs' own health, at once.
FAULT_SCENES: tuple[tuple[Fault, str], ...] = (
    (Fault.CAMERA, "the camera stops answering"),
    (Fault.NETWORK, "Diia cannot be reached"),
    (Fault.CLOCK, "the clock is not synchronised"),
    (Fault.CONFIG, "a remote config is rejected"),
)


class FaultBanners:
    """After the scenes, each fault banner in turn, with nothing in front of the camera."""

    def __init__(self, scenes: NarratedFrames, narration: TextIO) -> None:
        self._scenes = scenes
        self._narration = narration
        self.set_fault: Callable[[Fault, bool], None] | None = None  # the kiosk's, once built

    def frames(self) -> Iterator[Frame]:
        yield from self._scenes.frames()
        assert self.set_fault is not None
        for fault, what in FAULT_SCENES:
            shown = ("a banner over whatever is shown" if fault in CUSTOMER_FAULTS
                     else "for staff: a warning sign in the corner, no words")
            self._narration.write(f"fault: {what}: {shown}\n")
            self.set_fault(fault, True)
            blank = [code_images.phone_photo(BLANK)]
            yield from ImageFrames(blank, hold_frames=HOLD_FRAMES).frames()
            self.set_fault(fault, False)


class DemoCashier:
    """The member of staff of the attended scene: presses the staff button on its mock pin,
    saying so; clears a verdict `CASHIER_REACTS_S` after it is shown. A `Signals`."""

    def __init__(self, pin: MockPin, narration: TextIO) -> None:
        self._pin = pin
        self._narration = narration
        self._due: float | None = None

    def press(self, what: str) -> None:
        self._narration.write(f"  cashier presses the staff button: {what}\n")
        self._pin.drive_low()
        self._pin.drive_high()

    def show(self, state: State) -> None:
        if state.awaiting_staff:
            self._due = time.monotonic() + CASHIER_REACTS_S

    def tick(self, now: float) -> None:
        if self._due is not None and time.monotonic() >= self._due:
            self._due = None
            self.press("verdict seen, screen cleared")

    def close(self) -> None:
        pass


class ArmingFrames:
    """A code held to the camera before the kiosk is armed; `arm` is called part-way."""

    def __init__(self, image: Image.Image, arm: Callable[[], None], narration: TextIO) -> None:
        self._image = image
        self._arm = arm
        self._narration = narration

    def frames(self) -> Iterator[Frame]:
        self._narration.write("attended mode (age checks): adult holder's barcode shown "
                              "before staff armed the kiosk: not sent yet\n")
        held = ImageFrames([self._image], hold_frames=ARMED_AFTER_FRAMES + HOLD_FRAMES * 2)
        for i, frame in enumerate(held.frames()):
            if i == ARMED_AFTER_FRAMES:
                self._arm()
            yield frame
        blank = [code_images.phone_photo(BLANK)]
        yield from ImageFrames(blank, hold_frames=HOLD_FRAMES).frames()


BLANK = Image.new("L", (540, 960), 235)


def run_attended_scene(
    sandbox: DiiaSandbox,
    config: Config,
    first: Parts,
    pin_factory: MockFactory,
    narration: TextIO,
) -> Parts:
    """The same outputs and checker as the `first` kiosk, now attended, with a cashier at the
    staff button (on the same mock pins as the lights)."""
    attended_config = replace(config, kiosk=replace(config.kiosk, attended=True))
    cashier = DemoCashier(pin_factory.pin(config.signals.staff_pin), narration)
    image = code_images.phone_photo(code_images.render_ean13(sandbox.mint("valid", age=35)),
                               angle=4.0, blur=0.6)
    frames = ArmingFrames(image, lambda: cashier.press("the kiosk is armed"), narration)
    attended = bootstrap(attended_config, frames=frames, checker=first.kiosk.checker,
                         outputs=first.outputs, extra_signals=[cashier],
                         pin_factory=pin_factory)
    try:
        attended.kiosk.run()
    finally:
        if attended.staff is not None:
            attended.staff.close()
    return attended


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
            f"  -> {v.outcome:<7} {v.reason!s:<17}{cached} {headline}. {one_line(detail)}\n"
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
            f"{sum(1 for s in scenes if s.title) + ATTENDED_CODES} codes shown to the camera\n"
        )
        frames = FaultBanners(NarratedFrames(scenes, narration), narration)
        pin_factory = mock_pin_factory()  # the lights and the staff button share the board
        first = bootstrap(config, credentials=sandbox.credentials, frames=frames,
                          extra_signals=[ConsoleNarrator(narration, language)],
                          pin_factory=pin_factory, screenshot_dir=screenshot_dir,
                          screenshot_sizes=SCREEN_SIZES)
        frames.set_fault = first.kiosk.set_fault
        try:
            first.kiosk.run()
            attended = run_attended_scene(sandbox, config, first, pin_factory, narration)
        finally:
            first.close()
        verdicts = first.kiosk.verdicts + attended.kiosk.verdicts
        narration.write(f"{verdicts} verdicts, {sandbox.logins} Diia login(s)\n")
        if screenshot_dir is not None:
            narration.write(f"screens saved in {screenshot_dir}/\n")
    return 0
