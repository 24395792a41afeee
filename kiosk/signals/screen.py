"""The screen: one big colour, one big shape and a few words per phase (pygame / SDL).

Readable from a step away and without colour vision: each result has its own shape (check
mark, cross, exclamation mark) as well as its colour, and every text colour keeps a WCAG
contrast of at least 4.5:1 with its background. One layout scales with min(width, height)
from 480×320 to 1280×720; text is wrapped and, if need be, shrunk until it fits.

pygame is imported inside `PygameScreen`, so `import kiosk` needs no display. The video
driver is SDL's choice from the environment: the command line sets SDL_VIDEODRIVER=dummy for
headless runs and kmsdrm on the appliance. The customer's code is never drawn.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.messages import banner_for, text_for
from kiosk.model import Phase, State

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).with_name("fonts")
REGULAR_FONT = FONT_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONT_DIR / "DejaVuSans-Bold.ttf"

Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x, y, width, height


def _rgb(hex_colour: str) -> Colour:
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


@dataclass(frozen=True, slots=True)
class Palette:
    background: Colour
    headline: Colour
    detail: Colour
    disc: Colour  # the disc behind a result's shape
    mark: Colour  # the shape on the disc
    accent: Colour  # scan line and viewfinder of the idle and reading hints


Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Shape:
    """A mark in a unit square: thick polylines with round ends, and dots (x, y, radius)."""

    strokes: tuple[tuple[Point, ...], ...]
    width: float
    dots: tuple[tuple[float, float, float], ...] = ()


_WHITE, _BLACK = _rgb("#FFFFFF"), _rgb("#000000")

# fmt: off
PALETTES: dict[Phase, Palette] = {
    phase: Palette(*(_rgb(c) for c in colours)) for phase, colours in {
        #               background  headline   detail     disc       mark       accent
        Phase.IDLE:     ("#1C2530", "#FFFFFF", "#C9D3DD", "#FFFFFF", "#FFFFFF", "#FF5252"),
        Phase.READING:  ("#1F3A4D", "#FFFFFF", "#C9D3DD", "#FFFFFF", "#FFFFFF", "#4FC3F7"),
        Phase.CHECKING: ("#0D47A1", "#FFFFFF", "#DCE6F5", "#FFFFFF", "#FFFFFF", "#FFFFFF"),
        Phase.PASS:     ("#0B6E2E", "#FFFFFF", "#E3F2E7", "#FFFFFF", "#0B6E2E", "#FFFFFF"),
        Phase.FAIL:     ("#B00020", "#FFFFFF", "#FFFFFF", "#FFFFFF", "#B00020", "#FFFFFF"),
        Phase.UNKNOWN:  ("#FFB300", "#000000", "#1A1A1A", "#000000", "#FFB300", "#000000"),
    }.items()
}
SHAPES: dict[str, Shape] = {
    "pass":    Shape((((0.27, 0.52), (0.43, 0.68), (0.74, 0.35)),), 0.11),
    "fail":    Shape((((0.32, 0.32), (0.68, 0.68)), ((0.68, 0.32), (0.32, 0.68))), 0.11),
    "unknown": Shape((((0.5, 0.24), (0.5, 0.56)),), 0.12, ((0.5, 0.75, 0.075),)),
    "warning": Shape((((0.5, 0.36), (0.5, 0.62)),), 0.1, ((0.5, 0.78, 0.06),)),
}
# fmt: on
BANNER_BACKGROUND = _rgb("#111111")
BANNER_TEXT = _rgb("#FFB300")

# Sizes as fractions of min(width, height).
MARGIN = 0.05
HEADLINE_PX = 0.105
DETAIL_PX = 0.066
BANNER_PX = 0.055
BANNER_LINES = 2
ICON_MAX = 0.42
ICON_MIN = 0.18
GAP_BELOW_ICON = 0.05
GAP_BELOW_HEADLINE = 0.025
MIN_TEXT_PX = 10

ANIMATED = frozenset({Phase.IDLE, Phase.READING, Phase.CHECKING})
RESULTS = frozenset({Phase.PASS, Phase.FAIL, Phase.UNKNOWN})
FRAME_S = 1 / 30
SUPERSAMPLE = 4  # static shapes are drawn 4× larger and scaled down: cheap antialiasing


class ScreenError(RuntimeError):
    """The display or the shipped font cannot be opened."""


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    box: Box
    role: str  # "banner" | "headline" | "detail"
    px: int  # font size


@dataclass(frozen=True, slots=True)
class Layout:
    """Where everything went on the last render: for tests and for the curious."""

    size: tuple[int, int]
    banner: Box | None
    icon: Box
    lines: tuple[TextLine, ...]


def wrap(text: str, width: int, measure: Callable[[str], int]) -> list[str]:
    """Word wrap to `width` pixels, lines of even length: no lone word on a last line.

    A dash stays at the end of the line before it, as Ukrainian typesetting wants; a word
    wider than a line is cut by characters.
    """
    lines = _wrap_greedy(text, width, measure)
    if len(lines) < 2:
        return lines
    # The narrowest width that needs no extra line, and never cuts a word that fitted.
    narrow = min(width, max(measure(word) for word in _words(text)))
    wide = width
    while narrow < wide:
        middle = (narrow + wide) // 2
        if len(_wrap_greedy(text, middle, measure)) <= len(lines):
            wide = middle
        else:
            narrow = middle + 1
    return _wrap_greedy(text, wide, measure)


def _words(text: str) -> list[str]:
    return text.replace(" — ", "\u00a0— ").split(" ")


def _wrap_greedy(text: str, width: int, measure: Callable[[str], int]) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in _words(text):
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while len(word) > 1 and measure(word) > width:
            cut = 1
            while cut < len(word) - 1 and measure(word[: cut + 1]) <= width:
                cut += 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def _measure(font: Any) -> Callable[[str], int]:
    return lambda text: font.size(text)[0]


def _mix(a: Colour, b: Colour, weight: float) -> Colour:
    """`weight` of the way from colour `a` to colour `b`."""
    r, g, bl = (round(x + (y - x) * weight) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


def _file_part(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "x"


def _look(state: State) -> tuple[object, ...]:
    """What makes two states look different on screen (not when they began)."""
    reason = state.verdict.reason if state.verdict is not None else None
    return state.phase, reason, tuple(sorted(state.faults))


class PygameScreen:
    """The kiosk screen, a window or the whole display; implements `Signals`.

    `screenshot_dir`: save one PNG per distinct look shown (phase, reason, faults), named
    like ``01-idle.png``, ``03-pass-valid.png``.
    `quit_requested` turns true when the window is closed (desktop use); the app may stop.
    `layout` describes the last render. One screen per process: SDL has one display.
    Raises `ScreenError` if SDL cannot open a display.
    """

    def __init__(
        self,
        size: tuple[int, int] = (800, 480),
        language: str = "uk",
        fullscreen: bool = False,
        screenshot_dir: Path | None = None,
    ) -> None:
        # pygame prints a greeting on stdout at import, where the JSON events go.
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame
        import pygame.gfxdraw

        self._pg: Any = pygame
        self.language = language
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir is not None else None
        self.quit_requested = False
        self.frames = 0  # frames drawn so far: shows that tick() keeps to its frame rate
        try:
            pygame.display.init()
            pygame.font.init()
            if fullscreen:
                self._surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
                pygame.mouse.set_visible(False)  # after set_mode, or SDL shows it again
            else:
                self._surface = pygame.display.set_mode(size)
            pygame.display.set_caption("Diia kiosk")
            self._fonts: dict[tuple[bool, int], Any] = {}
            self._font(True, 12)
            self._font(False, 12)
        except (pygame.error, OSError) as exc:
            pygame.display.quit()
            driver = os.environ.get("SDL_VIDEODRIVER", "SDL's choice")
            raise ScreenError(
                f"cannot open the screen (video driver {driver}): {exc}; "
                "set SDL_VIDEODRIVER=dummy to run without a display"
            ) from exc
        self.size: tuple[int, int] = self._surface.get_size()
        self.layout: Layout | None = None
        self._state: State | None = None
        self._base: Any = None  # the frame without its animated part
        self._sprites: dict[str, Any] = {}
        self._last_frame: float | None = None
        self._shown = 0
        self._saved_looks: set[tuple[object, ...]] = set()
        self._closed = False
        self._surface.fill(_BLACK)
        pygame.display.flip()
        log.info("screen %dx%d on SDL video driver %s", *self.size, pygame.display.get_driver())

    # -- the Signals port ------------------------------------------------------------------

    def show(self, state: State) -> None:
        if self._closed:
            return
        self._state = state
        self._render(state)
        if state.phase in ANIMATED:
            self._draw_icon(state.phase, 0.0)  # the first frame; tick() draws the next
        self._pg.display.flip()
        self.frames += 1
        self._last_frame = None
        look = _look(state)
        if self.screenshot_dir is not None and look not in self._saved_looks:
            self._saved_looks.add(look)
            self._shown += 1
            name = f"{self._shown:02d}-{state.phase.value}"
            if state.verdict is not None and state.phase in RESULTS:
                name += f"-{_file_part(state.verdict.reason)}"
            try:
                self.screenshot_dir.mkdir(parents=True, exist_ok=True)
                self.render_png(self.screenshot_dir / f"{name}.png")
            except (OSError, self._pg.error) as exc:  # a full disk must not stop the kiosk
                log.warning("screenshot %s not saved: %s", name, exc)

    def tick(self, now: float) -> None:
        if self._closed:
            return
        for event in self._pg.event.get():  # keeps the window responsive
            if event.type == self._pg.QUIT:
                self.quit_requested = True
        state = self._state
        if state is None or state.phase not in ANIMATED or self.layout is None:
            return
        last = self._last_frame
        if last is not None and 0 <= now - last < FRAME_S * 0.8:
            return  # at most ~30 frames a second, whatever the loop's pace
        self._last_frame = now
        x, y, s, _ = self.layout.icon
        self._surface.blit(self._base, (x, y), (x, y, s, s))
        self._draw_icon(state.phase, max(0.0, now - state.since))
        self._pg.display.update((x, y, s, s))
        self.frames += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._fonts.clear()
        self._pg.display.quit()

    def render_png(self, path: str | Path) -> None:
        """Save what the screen shows now as a PNG."""
        self._pg.image.save(self._surface, str(path))

    # -- layout and text -------------------------------------------------------------------

    def _font(self, bold: bool, px: int) -> Any:
        key = (bold, px)
        if key not in self._fonts:
            self._fonts[key] = self._pg.font.Font(str(BOLD_FONT if bold else REGULAR_FONT), px)
        return self._fonts[key]

    def _plan(self, headline: str, detail: str, banner: str | None) -> Layout:
        width, height = self.size
        unit = min(width, height)
        margin = round(MARGIN * unit)
        text_width = width - 2 * margin
        banner_box: Box | None = None
        lines: list[TextLine] = []
        top = margin
        if banner:
            pad = round(0.02 * unit)
            banner_px = max(MIN_TEXT_PX, round(BANNER_PX * unit))
            while True:  # several faults at once: smaller type rather than a deep strip
                font = self._font(True, banner_px)
                mark = font.get_linesize()  # the warning sign beside the first line
                wrapped = wrap(banner, text_width - mark - pad, _measure(font))
                if len(wrapped) <= BANNER_LINES or banner_px <= MIN_TEXT_PX:
                    break
                banner_px = max(MIN_TEXT_PX, min(banner_px - 1, round(banner_px * 0.9)))
            line_height = font.get_linesize()
            bar_height = len(wrapped) * line_height + 2 * pad
            banner_box = (0, 0, width, bar_height)
            for i, line in enumerate(wrapped):
                line_width = font.size(line)[0]
                x = (width - line_width + (mark + pad if i == 0 else 0)) // 2
                box = (x, pad + i * line_height, line_width, line_height)
                lines.append(TextLine(line, box, "banner", banner_px))
            top = bar_height + margin
        bottom = height - margin
        scale = 1.0
        while True:
            head_px = max(MIN_TEXT_PX, round(HEADLINE_PX * unit * scale))
            detail_px = max(MIN_TEXT_PX, round(DETAIL_PX * unit * scale))
            head_font, detail_font = self._font(True, head_px), self._font(False, detail_px)
            head_lines = wrap(headline, text_width, _measure(head_font))
            detail_lines = wrap(detail, text_width, _measure(detail_font))
            text_height = len(head_lines) * head_font.get_linesize()
            if detail_lines:
                text_height += round(GAP_BELOW_HEADLINE * unit)
                text_height += len(detail_lines) * detail_font.get_linesize()
            gap = round(GAP_BELOW_ICON * unit)
            icon = min(round(ICON_MAX * unit), bottom - top - text_height - gap)
            if icon >= ICON_MIN * unit or scale < 0.3:
                break
            scale *= 0.9  # too much text for this screen: smaller type, same layout
        icon = max(icon, 0)
        y = top + max(0, (bottom - top - icon - gap - text_height) // 2)
        icon_box = ((width - icon) // 2, y, icon, icon)
        y += icon + gap
        for role, px, texts in (
            ("headline", head_px, head_lines),
            ("detail", detail_px, detail_lines),
        ):
            font = self._font(role == "headline", px)
            if role == "detail" and texts:
                y += round(GAP_BELOW_HEADLINE * unit)
            for text in texts:
                line_width, line_height = font.size(text)[0], font.get_linesize()
                box = ((width - line_width) // 2, y, line_width, line_height)
                lines.append(TextLine(text, box, role, px))
                y += line_height
        return Layout(self.size, banner_box, icon_box, tuple(lines))

    def _render(self, state: State) -> None:
        palette = PALETTES[state.phase]
        headline, detail = text_for(state, self.language)
        layout = self._plan(headline, detail, banner_for(state.faults, self.language))
        self.layout = layout
        surface = self._surface
        surface.fill(palette.background)
        if layout.banner is not None:
            surface.fill(BANNER_BACKGROUND, layout.banner)
            edge = max(2, layout.banner[3] // 16)  # an amber rule sets the strip apart
            surface.fill(BANNER_TEXT, (0, layout.banner[3] - edge, self.size[0], edge))
        colours = {"banner": BANNER_TEXT, "headline": palette.headline, "detail": palette.detail}
        for i, line in enumerate(layout.lines):
            x, y, _, h = line.box
            if i == 0 and line.role == "banner":
                sign, pad = round(h * 0.8), round(0.02 * min(self.size))
                warning = self._shape_sprite(
                    "warning", sign, BANNER_TEXT, BANNER_BACKGROUND, triangle=True
                )
                surface.blit(warning, (x - sign - pad, y + (h - sign) // 2))
            font = self._font(line.role != "detail", line.px)
            surface.blit(font.render(line.text, True, colours[line.role]), (x, y))
        if state.phase not in ANIMATED:
            self._draw_icon(state.phase, 0.0)
        self._base = surface.copy()

    # -- shapes ----------------------------------------------------------------------------

    def _supersampled(self, key: str, size: int, draw: Callable[[Any, float], None]) -> Any:
        """A transparent size×size sprite drawn by `draw(surface, scale)` at 4× and shrunk."""
        cache_key = f"{key}@{size}"
        if cache_key not in self._sprites:
            big_size = max(1, size * SUPERSAMPLE)
            big = self._pg.Surface((big_size, big_size), self._pg.SRCALPHA)
            draw(big, float(big_size))
            self._sprites[cache_key] = self._pg.transform.smoothscale(big, (size, size))
        return self._sprites[cache_key]

    def _stroke(self, surface: Any, colour: Colour, points: list[Point], width: float) -> None:
        """A thick polyline with round joins and caps."""
        # pygame's own thick lines are thinner on the diagonal: draw each segment as a quad.
        pg, half = self._pg, width / 2
        for (ax, ay), (bx, by) in itertools.pairwise(points):
            length = math.hypot(bx - ax, by - ay) or 1.0
            nx, ny = -(by - ay) / length * half, (bx - ax) / length * half
            quad = [(ax + nx, ay + ny), (bx + nx, by + ny), (bx - nx, by - ny), (ax - nx, ay - ny)]
            pg.draw.polygon(surface, colour, quad)
        for p in points:
            pg.draw.circle(surface, colour, p, half)

    def _shape_sprite(
        self, key: str, size: int, backdrop: Colour, mark: Colour, triangle: bool = False
    ) -> Any:
        """A shape from SHAPES on a disc (or a warning triangle), as a size×size sprite."""
        pg = self._pg
        shape = SHAPES[key]

        def draw(s: Any, k: float) -> None:
            if triangle:
                pg.draw.polygon(s, backdrop, [(k / 2, 0.04 * k), (0.98 * k, 0.92 * k),
                                              (0.02 * k, 0.92 * k)])  # fmt: skip
            else:
                pg.draw.circle(s, backdrop, (k / 2, k / 2), k / 2)
            for stroke in shape.strokes:
                self._stroke(s, mark, [(x * k, y * k) for x, y in stroke], shape.width * k)
            for x, y, r in shape.dots:
                pg.draw.circle(s, mark, (x * k, y * k), r * k)

        return self._supersampled(f"{key}-{backdrop}-{mark}", size, draw)

    def _phone_sprite(self, palette: Palette, size: int) -> Any:
        """A phone showing a made-up barcode: a hint of what to do, never anyone's code."""
        pg = self._pg

        def draw(s: Any, k: float) -> None:
            body = pg.Rect(0.27 * k, 0.05 * k, 0.46 * k, 0.9 * k)
            pg.draw.rect(s, palette.headline, body, border_radius=round(0.08 * k))
            pg.draw.rect(
                s,
                palette.background,
                body.inflate(-0.05 * k, -0.05 * k),
                border_radius=round(0.06 * k),
            )
            card = pg.Rect(0.33 * k, 0.15 * k, 0.34 * k, 0.66 * k)
            pg.draw.rect(s, _WHITE, card, border_radius=round(0.025 * k))
            for row, length in ((0.21, 0.22), (0.26, 0.15)):  # document title lines
                pg.draw.rect(s, (150, 158, 166), (0.37 * k, row * k, length * k, 0.025 * k))
            widths = (2, 1, 1, 3, 1, 2, 1, 1, 2, 3, 1, 1, 2, 1, 2)  # bar, gap, bar, …
            x, module = 0.37, 0.26 / sum(widths)
            for i, bar in enumerate(widths):
                w = bar * module
                if i % 2 == 0:
                    pg.draw.rect(s, _BLACK, (x * k, 0.36 * k, w * k, 0.3 * k))
                x += w
            pg.draw.circle(s, palette.background, (0.5 * k, 0.1 * k), 0.018 * k)  # camera

        return self._supersampled(f"phone-{palette.background}", size, draw)

    def _draw_icon(self, phase: Phase, t: float) -> None:
        """Draw the phase's shape into the icon box; `t` is seconds since the phase began."""
        assert self.layout is not None
        x, y, size, _ = self.layout.icon
        if size <= 0:
            return
        pg, surface, palette = self._pg, self._surface, PALETTES[phase]
        if phase in RESULTS:
            sprite = self._shape_sprite(phase.value, size, palette.disc, palette.mark)
            surface.blit(sprite, (x, y))
        elif phase is Phase.CHECKING:
            # Twelve dots, the bright one going round once a second.
            head = int(t * 12) % 12
            for i in range(12):
                fade = ((head - i) % 12) / 12
                weight = max(0.2, 1.0 - fade * 1.1)
                colour = _mix(palette.background, palette.headline, weight)
                angle = 2 * math.pi * i / 12 - math.pi / 2
                cx = round(x + size / 2 + math.cos(angle) * size * 0.36)
                cy = round(y + size / 2 + math.sin(angle) * size * 0.36)
                radius = max(1, round(size * 0.06 * (0.7 + 0.3 * weight)))
                pg.gfxdraw.filled_circle(surface, cx, cy, radius, colour)
                pg.gfxdraw.aacircle(surface, cx, cy, radius, colour)
        elif phase is Phase.IDLE:
            # The phone sways gently while a scanner line sweeps its code.
            top = round(y + math.sin(2 * math.pi * t / 2.4) * 0.025 * size)
            surface.blit(self._phone_sprite(palette, size), (x, top))
            sweep = 0.5 - 0.5 * math.cos(2 * math.pi * t / 1.6)
            line_y = round(top + (0.37 + 0.28 * sweep) * size)
            thick = max(2, round(0.014 * size))
            surface.fill(palette.accent, (x + round(0.35 * size), line_y, round(0.3 * size), thick))
        else:
            # A smaller, still phone inside breathing viewfinder corners: "hold it there".
            phone = round(0.8 * size)
            surface.blit(
                self._phone_sprite(palette, phone),
                (x + (size - phone) // 2, y + (size - phone) // 2),
            )
            grow = (0.5 + 0.5 * math.sin(2 * math.pi * t / 1.2)) * 0.03 * size
            box = (
                x + 0.24 * size - grow,
                y + 0.06 * size - grow,
                0.52 * size + 2 * grow,
                0.88 * size + 2 * grow,
            )
            self._corners(palette.accent, box, size)

    def _corners(self, colour: Colour, box: tuple[float, float, float, float], size: int) -> None:
        """Four L-shaped viewfinder corners just inside `box`."""
        left, top, w, h = box
        arm, thick = round(0.12 * size), max(2, round(0.03 * size))
        for fx, fy in itertools.product((0, 1), repeat=2):  # 0: left/top, 1: right/bottom
            cx, cy = left + fx * w, top + fy * h
            self._surface.fill(colour, (round(cx - fx * arm), round(cy - fy * thick), arm, thick))
            self._surface.fill(colour, (round(cx - fx * thick), round(cy - fy * arm), thick, arm))
