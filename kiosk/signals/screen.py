"""The screen: one big colour, one big picture and a few words per phase (pygame / SDL).

Readable from a step away and without colour vision: each result has its own shape (check
mark, cross, exclamation mark) as well as its colour, and every text colour keeps a WCAG
contrast of at least 4.5:1 with its background. One layout (`layout`) scales with
min(width, height) from 480×320 to 1280×720. A fault banner (camera, network, clock, config)
sits on top of any phase; a verdict held for staff says at its foot how it goes away. The
pictures are drawn by `shapes`.

pygame is imported inside `PygameScreen`, so `import kiosk` needs no display. The video
driver is SDL's, chosen from the environment (`display.prepare_video`): a window under X or
Wayland, the console through KMS/DRM, or the off-screen dummy driver. The customer's code is
never drawn.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.messages import (
    banner_for,
    hint_for,
    staff_faults,
    staff_hint,
    text_for,
    verdict_texts,
)
from kiosk.model import Phase, State
from kiosk.ops.devices import SCREEN_NODES, denied, refused
from kiosk.signals import TICK_S
from kiosk.signals.layout import MARGIN, MIN_TEXT_PX, Layout, lines_needed, plan
from kiosk.signals.panels import PANELS, detail_px, headline_px
from kiosk.signals.shapes import (
    BLACK,
    RESULTS,
    WHITE,
    Colour,
    Palette,
    Sprites,
    draw_icon,
    mix,
    rgb,
)

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).with_name("fonts")
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"

PALETTES: dict[Phase, Palette] = {
    phase: Palette(*(rgb(c) for c in colours)) for phase, colours in {
        #                    background  headline   detail     disc       mark       accent
        Phase.IDLE:          ("#1C2530", "#FFFFFF", "#C9D3DD", "#FFFFFF", "#FFFFFF", "#FF5252"),
        Phase.READING:       ("#1F3A4D", "#FFFFFF", "#C9D3DD", "#FFFFFF", "#FFFFFF", "#4FC3F7"),
        Phase.CHECKING:      ("#0D47A1", "#FFFFFF", "#DCE6F5", "#FFFFFF", "#FFFFFF", "#FFFFFF"),
        Phase.PASS:          ("#00766C", "#FFFFFF", "#EEF7F5", "#FFFFFF", "#00766C", "#FFFFFF"),
        Phase.FAIL:          ("#C42008", "#FFFFFF", "#FFFFFF", "#FFFFFF", "#C42008", "#FFFFFF"),
        Phase.UNKNOWN:       ("#FFC107", "#000000", "#1A1A1A", "#000000", "#FFC107", "#000000"),
        Phase.ATTENDED_WAIT: ("#4A148C", "#FFFFFF", "#E6DAF2", "#FFFFFF", "#4A148C", "#FFFFFF"),
    }.items()
}
# The verdicts' three backgrounds (a dark teal, a deep red, a bright amber) stay apart for
# colour-blind customers too: simulated protanopia, deuteranopia and tritanopia (Machado et
# al. 2009, severity 1) keep every pair at least 40 CIE76 units apart (tests/test_palette.py).
BANNER_BACKGROUND = rgb("#111111")
BANNER_TEXT = rgb("#FFB300")

# The layouts designed for (one design, scaled): a 3.5" HAT, the official 7" display, a 7"
# HDMI panel, a 720p monitor; each with its reading distance (`panels`).
SCREEN_SIZES = tuple(PANELS)
# A verdict's picture is the same size whatever its words and whether the note to staff shows:
# each leaves room for the most lines any verdict's words take, and for the note.
STAFF_MARK = 0.07  # the corner mark of a staff-only fault, as a share of the shorter side
ANIMATED = frozenset({Phase.IDLE, Phase.READING, Phase.CHECKING, Phase.ATTENDED_WAIT})
FRAME_S = TICK_S  # no more than one redraw per loop turn
QR_QUIET_MODULES = 4


class ScreenError(RuntimeError):
    """The display or the shipped font cannot be opened."""


def footer_colour(palette: Palette) -> Colour:
    """The hint's strip: the background moved away from the text colour, so the hint reads as
    a note apart from the answer and keeps (improves) its contrast."""
    light_text = sum(palette.detail) > sum(palette.background)
    return mix(palette.background, BLACK if light_text else WHITE, 0.3)


def _file_part(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"


def look_of(state: State) -> tuple[object, ...]:
    """What makes two states look different on screen (not when they began)."""
    reason = state.verdict.reason if state.verdict is not None else None
    return (state.phase, reason, tuple(sorted(state.faults)), state.awaiting_staff,
            bool(state.offer_link))


def look_name(state: State) -> str:
    """A file name part for a look: ``pass-valid``, ``idle-camera``, ``fail-used-staff``."""
    parts = [state.phase.value]
    if state.verdict is not None and state.phase in RESULTS:
        parts.append(_file_part(str(state.verdict.reason)))
    parts += sorted(fault.value for fault in state.faults)
    if state.awaiting_staff:
        parts.append("staff")
    if state.offer_link:
        parts.append("offer")
    return "-".join(parts)


class Painter:
    """Draws a state onto any surface of any size: the display, or an off-screen picture."""

    def __init__(self, pygame: Any, language: str, till_staff: bool = False) -> None:
        self._pg = pygame
        self.language = language
        self.till_staff = till_staff  # the note to staff points at the till, not a button
        self.sprites = Sprites(pygame)
        self._fonts: dict[tuple[bool, int], Any] = {}
        self._reserves: dict[tuple[tuple[int, int], int], tuple[int, int]] = {}

    def font(self, bold: bool, px: int) -> Any:
        key = (bold, px)
        if key not in self._fonts:
            self._fonts[key] = self._pg.font.Font(str(BOLD_FONT if bold else REGULAR_FONT), px)
        return self._fonts[key]

    def paint(self, surface: Any, state: State) -> Layout:
        """The whole frame for `state`, the first moment of its animation included."""
        if state.offer_link:
            return self._paint_offer(surface, state)
        return self._paint_words(surface, state)

    def _paint_offer(self, surface: Any, state: State) -> Layout:
        """An online share: the deeplink's QR as large as the screen allows, on the left (on
        the top of a portrait screen), the words beside it. The returned layout's icon box is
        the QR's, quiet zone included."""
        width, height = size = surface.get_size()
        margin = round(MARGIN * min(size))
        side = qr_side(state.offer_link, min(height, width) - 2 * margin)
        surface.fill(PALETTES[state.phase].background)
        qr_box = (margin, (height - side) // 2) if width >= height else ((width - side) // 2,
                                                                         margin)
        if width >= height:
            words_box = (side + margin, 0, width - side - margin, height)
        else:
            words_box = (0, side + margin, width, height - side - margin)
        draw_qr(self._pg, surface, state.offer_link, (*qr_box, side))
        words_surface = surface.subsurface(words_box)
        px = self._fitting_px(text_for(state, self.language)[0], headline_px(size),
                              words_box[2] - 2 * round(MARGIN * min(words_box[2:])))
        words = self._paint_words(words_surface, state, icon=False, headline=px)
        dx, dy = words_box[0], words_box[1]
        lines = tuple(replace(line, box=(line.box[0] + dx, line.box[1] + dy, *line.box[2:]))
                      for line in words.lines)
        return Layout(size, None, (*qr_box, side, side), lines)

    def _fitting_px(self, text: str, px: int, width: int) -> int:
        """The largest bold size up to `px` at which every word of `text` fits `width`."""
        while px > MIN_TEXT_PX and any(self.font(True, px).size(word)[0] > width
                                       for word in text.split()):
            px -= 1
        return px

    def _paint_words(self, surface: Any, state: State, icon: bool = True,
                     headline: int | None = None) -> Layout:
        palette = PALETTES[state.phase]
        headline_text, detail = text_for(state, self.language)
        size = surface.get_size()
        head_px, least_px = headline or headline_px(size), detail_px(size)
        verdict = state.phase in RESULTS
        layout = plan(size, self.font, headline_text, detail,
                      banner_for(state.faults, self.language),
                      hint_for(state, self.language, self.till_staff),
                      headline_px=head_px, detail_px=least_px,
                      reserve_lines=self._reserve(size, head_px) if verdict else (0, 0),
                      hint_room=staff_hint(self.language, self.till_staff) if verdict
                      else None)
        surface.fill(palette.background)
        if layout.banner is not None:
            surface.fill(BANNER_BACKGROUND, layout.banner)
            edge = max(2, layout.banner[3] // 16)  # an amber rule sets the strip apart
            surface.fill(BANNER_TEXT, (0, layout.banner[3] - edge, size[0], edge))
        if layout.footer is not None:
            surface.fill(footer_colour(palette), layout.footer)
        colours = {"banner": BANNER_TEXT, "headline": palette.headline,
                   "detail": palette.detail, "hint": palette.detail}
        for i, line in enumerate(layout.lines):
            x, y, _, h = line.box
            if i == 0 and line.role == "banner":
                sign, pad = round(h * 0.8), round(0.02 * min(size))
                warning = self.sprites.mark(
                    "warning", sign, BANNER_TEXT, BANNER_BACKGROUND, triangle=True
                )
                surface.blit(warning, (x - sign - pad, y + (h - sign) // 2))
            font = self.font(line.role in ("banner", "headline"), line.px)
            surface.blit(font.render(line.text, True, colours[line.role]), (x, y))
        if icon:
            self.icon(surface, layout, state.phase, 0.0)
        if staff_faults(state.faults):
            self._staff_mark(surface, palette, layout)
        return layout

    def _staff_mark(self, surface: Any, palette: Palette, layout: Layout) -> None:
        """A fault for staff only: a small warning sign in the top right corner, under the
        banner if there is one; the words are in the log and the till's health."""
        width = surface.get_width()
        side = round(STAFF_MARK * min(surface.get_size()))
        pad = round(0.02 * min(surface.get_size()))
        top = layout.banner[3] if layout.banner is not None else 0
        sign = self.sprites.mark("warning", side, palette.detail, palette.background,
                                 triangle=True)
        surface.blit(sign, (width - side - pad, top + pad))

    def _reserve(self, size: tuple[int, int], head_px: int) -> tuple[int, int]:
        """The lines every verdict's words may take at `size`: one picture size for all."""
        key = (size, head_px)
        if key not in self._reserves:
            self._reserves[key] = lines_needed(size, self.font, verdict_texts(self.language),
                                               head_px, detail_px(size))
        return self._reserves[key]

    def icon(self, surface: Any, layout: Layout, phase: Phase, t: float) -> None:
        draw_icon(self._pg, surface, self.sprites, phase, PALETTES[phase], layout.icon, t)


def qr_side(text: str, room: int) -> int:
    """The side in pixels of `text`'s QR (quiet zone included) drawn in at most `room`."""
    import segno

    modules = len(segno.make(text, error="m", micro=False).matrix) + 2 * QR_QUIET_MODULES
    return max(1, room // modules) * modules


def draw_qr(pygame: Any, surface: Any, text: str, box: tuple[int, int, int]) -> None:
    """`text` as a QR code in the square `box` (x, y, side): black on white, whole pixels per
    module (a blurred module edge is what makes a phone's camera hesitate), the quiet zone of
    4 modules the standard asks for, centred."""
    import segno

    matrix = segno.make(text, error="m", micro=False).matrix
    modules = len(matrix) + 2 * QR_QUIET_MODULES
    x, y, side = box
    px = max(1, side // modules)
    drawn = px * modules
    x0, y0 = x + (side - drawn) // 2, y + (side - drawn) // 2
    surface.fill(WHITE, (x0, y0, drawn, drawn))
    quiet = QR_QUIET_MODULES * px
    for row, bits in enumerate(matrix):
        for col, bit in enumerate(bits):
            if bit:
                surface.fill(BLACK, (x0 + quiet + col * px, y0 + quiet + row * px, px, px))


class PygameScreen:
    """The kiosk screen, a window or the whole display; implements `Signals`.

    `screenshot_dir`: save a PNG of each distinct look shown (phase, reason, faults, held for
    staff), named like ``01-idle.png``, ``03-pass-valid.png``. With `screenshot_sizes`, each
    look is also drawn off-screen at each of those sizes, named ``03-pass-valid-480x320.png``.
    `layout` describes the last render. One screen per process: SDL has one display.
    On the KMS/DRM console the screen is always the whole display, without a mouse pointer.
    Raises `ScreenError` if SDL cannot open a display.
    """

    def __init__(
        self,
        size: tuple[int, int] = (800, 480),
        language: str = "uk",
        fullscreen: bool = False,
        screenshot_dir: Path | None = None,
        screenshot_sizes: Sequence[tuple[int, int]] = (),
        till_staff: bool = False,
    ) -> None:
        # pygame prints a greeting on stdout at import, where the JSON events go.
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
        import pygame.gfxdraw

        self._pg: Any = pygame
        self.language = language
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir is not None else None
        self.screenshot_sizes = tuple(screenshot_sizes)
        self.frames = 0  # frames drawn so far: shows that tick() keeps to its frame rate
        try:
            pygame.display.init()
            pygame.font.init()
            self.driver: str = pygame.display.get_driver()
            if fullscreen or self.driver.lower() == "kmsdrm":
                self._surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
                pygame.mouse.set_visible(False)  # after set_mode, or SDL shows it again
            else:
                self._surface = pygame.display.set_mode(size)
            pygame.display.set_caption("Diia kiosk")
            self._painter = Painter(pygame, language, till_staff)
            self._painter.font(True, 12)
            self._painter.font(False, 12)
        except (pygame.error, OSError) as exc:
            pygame.display.quit()
            # KMS/DRM cards refused by the unit's device policy: only a restart cures that.
            nodes = refused(Path("/dev"), SCREEN_NODES) \
                if os.environ.get("SDL_VIDEODRIVER", "").lower() == "kmsdrm" else []
            if nodes:
                raise denied("the screen", nodes) from exc
            raise ScreenError(_open_error(exc)) from exc
        self.size: tuple[int, int] = self._surface.get_size()
        self.layout: Layout | None = None
        self._state: State | None = None
        self._base: Any = None  # the frame without its animated part
        self._last_frame: float | None = None
        self._shown = 0
        self._saved_looks: set[tuple[object, ...]] = set()
        self._closed = False
        self._surface.fill(BLACK)
        pygame.display.flip()
        log.info("screen %dx%d on SDL video driver %s", *self.size, self.driver)

    # -- the Signals port ------------------------------------------------------------------

    def show(self, state: State) -> None:
        if self._closed:
            return
        self._state = state
        self.layout = self._painter.paint(self._surface, state)
        self._base = self._surface.copy()
        if _animated(state):  # the base keeps the icon box empty for tick() to fill
            self._base.fill(PALETTES[state.phase].background, self.layout.icon)
        self._pg.display.flip()
        self.frames += 1
        self._last_frame = None
        look = look_of(state)
        if self.screenshot_dir is not None and look not in self._saved_looks:
            self._saved_looks.add(look)
            self._shown += 1
            self._save_screenshots(f"{self._shown:02d}-{look_name(state)}", state)

    def animates(self, state: State) -> bool:
        """Whether `state` moves on screen: then the loop turns for every frame."""
        return not self._closed and _animated(state)

    def tick(self, now: float) -> None:
        if self._closed:
            return
        self._pg.event.get()  # keeps the window responsive; closing it stops nothing
        state = self._state
        if state is None or not _animated(state) or self.layout is None:
            return
        last = self._last_frame
        if last is not None and 0 <= now - last < FRAME_S * 0.8:
            return  # at most ~30 frames a second, whatever the loop's pace
        self._last_frame = now
        x, y, s, _ = self.layout.icon
        self._surface.blit(self._base, (x, y), (x, y, s, s))
        self._painter.icon(self._surface, self.layout, state.phase, max(0.0, now - state.since))
        self._pg.display.update((x, y, s, s))
        self.frames += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pg.display.quit()

    # -- pictures --------------------------------------------------------------------------

    def render_png(self, path: str | Path) -> None:
        """Save what the screen shows now as a PNG."""
        self._pg.image.save(self._surface, str(path))

    def render_state_png(self, state: State, size: tuple[int, int], path: str | Path) -> Layout:
        """Draw `state` off-screen at `size` (the display is left alone) and save it."""
        surface = self._pg.Surface(size)
        layout = self._painter.paint(surface, state)
        self._pg.image.save(surface, str(path))
        return layout

    def _save_screenshots(self, name: str, state: State) -> None:
        assert self.screenshot_dir is not None
        try:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            if not self.screenshot_sizes:
                self.render_png(self.screenshot_dir / f"{name}.png")
            for width, height in self.screenshot_sizes:
                path = self.screenshot_dir / f"{name}-{width}x{height}.png"
                self.render_state_png(state, (width, height), path)
        except (OSError, self._pg.error) as exc:  # a full disk must not stop the kiosk
            log.warning("screenshot %s not saved: %s", name, exc)


def _animated(state: State) -> bool:
    return state.phase in ANIMATED and not state.offer_link  # a QR stays still to be read


def _open_error(exc: BaseException) -> str:
    driver = os.environ.get("SDL_VIDEODRIVER", "SDL's choice")
    advice = "set SDL_VIDEODRIVER=dummy to run without a display"
    if driver.lower() == "kmsdrm":
        advice = (
            "the PyPI pygame wheel has no KMS/DRM support: use Debian's python3-pygame or "
            "pygame-ce; stop any desktop (it holds the display); the kiosk user needs the "
            "video, render and input groups"
        )
    return f"cannot open the screen (video driver {driver}): {exc}; {advice}"
