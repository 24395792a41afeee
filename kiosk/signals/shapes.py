"""The screen's pictures: a result's mark on its disc, the phone that shows what to do, the
waiting spinner and the member of staff, each drawn with pygame into the icon box.

Static pictures are drawn 4× larger and scaled down (cheap antialiasing) and cached per
size and colour. `draw_icon` draws a phase's picture for a moment `t` of its animation; it
paints only inside the box, so the screen redraws just that box ~30 times a second.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.model import Phase

Colour = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[int, int, int, int]  # x, y, width, height

SUPERSAMPLE = 4


def rgb(hex_colour: str) -> Colour:
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


WHITE, BLACK = rgb("#FFFFFF"), rgb("#000000")


@dataclass(frozen=True, slots=True)
class Palette:
    background: Colour
    headline: Colour
    detail: Colour
    disc: Colour  # the disc behind a result's shape
    mark: Colour  # the shape on the disc
    accent: Colour  # scan line and viewfinder of the idle and reading hints


@dataclass(frozen=True, slots=True)
class Shape:
    """A mark in a unit square: thick polylines with round ends, and dots (x, y, radius)."""

    strokes: tuple[tuple[Point, ...], ...]
    width: float
    dots: tuple[tuple[float, float, float], ...] = ()


SHAPES: dict[str, Shape] = {
    "pass":    Shape((((0.27, 0.52), (0.43, 0.68), (0.74, 0.35)),), 0.11),
    "fail":    Shape((((0.32, 0.32), (0.68, 0.68)), ((0.68, 0.32), (0.32, 0.68))), 0.11),
    "unknown": Shape((((0.5, 0.24), (0.5, 0.56)),), 0.12, ((0.5, 0.75, 0.075),)),
    "warning": Shape((((0.5, 0.36), (0.5, 0.62)),), 0.1, ((0.5, 0.78, 0.06),)),
}
RESULTS = frozenset({Phase.PASS, Phase.FAIL, Phase.UNKNOWN})


def mix(a: Colour, b: Colour, weight: float) -> Colour:
    """`weight` of the way from colour `a` to colour `b`."""
    r, g, bl = (round(x + (y - x) * weight) for x, y in zip(a, b, strict=True))
    return (r, g, bl)


class Sprites:
    """Cached pictures, drawn once per size and colour."""

    def __init__(self, pygame: Any) -> None:
        self._pg = pygame
        self._cache: dict[str, Any] = {}

    def _supersampled(self, key: str, size: int, draw: Callable[[Any, float], None]) -> Any:
        """A transparent size×size sprite drawn by `draw(surface, scale)` at 4× and shrunk."""
        cache_key = f"{key}@{size}"
        if cache_key not in self._cache:
            big_size = max(1, size * SUPERSAMPLE)
            big = self._pg.Surface((big_size, big_size), self._pg.SRCALPHA)
            draw(big, float(big_size))
            self._cache[cache_key] = self._pg.transform.smoothscale(big, (size, size))
        return self._cache[cache_key]

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

    def mark(
        self, key: str, size: int, backdrop: Colour, mark: Colour, triangle: bool = False
    ) -> Any:
        """A shape from SHAPES on a disc (or a warning triangle), as a size×size sprite."""
        pg = self._pg
        shape = SHAPES[key]

        def draw(s: Any, k: float) -> None:
            if triangle:
                pg.draw.polygon(s, backdrop, [(k / 2, 0.04 * k), (0.98 * k, 0.92 * k),
                                              (0.02 * k, 0.92 * k)])
            else:
                pg.draw.circle(s, backdrop, (k / 2, k / 2), k / 2)
            for stroke in shape.strokes:
                self._stroke(s, mark, [(x * k, y * k) for x, y in stroke], shape.width * k)
            for x, y, r in shape.dots:
                pg.draw.circle(s, mark, (x * k, y * k), r * k)

        return self._supersampled(f"{key}-{backdrop}-{mark}-{triangle}", size, draw)

    def phone(self, palette: Palette, size: int) -> Any:
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
            pg.draw.rect(s, WHITE, card, border_radius=round(0.025 * k))
            for row, length in ((0.21, 0.22), (0.26, 0.15)):  # document title lines
                pg.draw.rect(s, (150, 158, 166), (0.37 * k, row * k, length * k, 0.025 * k))
            widths = (2, 1, 1, 3, 1, 2, 1, 1, 2, 3, 1, 1, 2, 1, 2)  # bar, gap, bar, …
            x, module = 0.37, 0.26 / sum(widths)
            for i, bar in enumerate(widths):
                w = bar * module
                if i % 2 == 0:
                    pg.draw.rect(s, BLACK, (x * k, 0.36 * k, w * k, 0.3 * k))
                x += w
            pg.draw.circle(s, palette.background, (0.5 * k, 0.1 * k), 0.018 * k)  # camera

        return self._supersampled(f"phone-{palette.background}", size, draw)

    def staff(self, palette: Palette, size: int) -> Any:
        """A person with a name badge on a disc: "a member of staff", not "your account"."""
        pg = self._pg

        def draw(s: Any, k: float) -> None:
            pg.draw.circle(s, palette.disc, (k / 2, k / 2), k / 2)
            figure = palette.mark
            pg.draw.circle(s, figure, (0.5 * k, 0.34 * k), 0.14 * k)  # head
            shoulders = pg.Rect(0.24 * k, 0.53 * k, 0.52 * k, 0.5 * k)
            clip = s.get_clip()
            s.set_clip(pg.Rect(0, 0, k, 0.8 * k))  # the body ends in a straight line
            pg.draw.ellipse(s, figure, shoulders)
            s.set_clip(clip)
            badge = pg.Rect(0.54 * k, 0.62 * k, 0.13 * k, 0.09 * k)
            pg.draw.rect(s, palette.disc, badge, border_radius=round(0.015 * k))

        return self._supersampled(f"staff-{palette.disc}-{palette.mark}", size, draw)


def draw_icon(
    pg: Any, surface: Any, sprites: Sprites, phase: Phase, palette: Palette, box: Box, t: float
) -> None:
    """Draw the phase's picture into `box`; `t` is seconds since the phase began."""
    x, y, size, _ = box
    if size <= 0:
        return
    if phase in RESULTS:
        surface.blit(sprites.mark(phase.value, size, palette.disc, palette.mark), (x, y))
    elif phase is Phase.CHECKING:
        _spinner(pg, surface, palette, box, t)
    elif phase is Phase.IDLE:
        # The phone sways gently while a scanner line sweeps its code.
        top = round(y + math.sin(2 * math.pi * t / 2.4) * 0.025 * size)
        surface.blit(sprites.phone(palette, size), (x, top))
        sweep = 0.5 - 0.5 * math.cos(2 * math.pi * t / 1.6)
        line_y = round(top + (0.37 + 0.28 * sweep) * size)
        thick = max(2, round(0.014 * size))
        surface.fill(palette.accent, (x + round(0.35 * size), line_y, round(0.3 * size), thick))
    elif phase is Phase.ATTENDED_WAIT:
        # The member of staff, with a ring that swells and fades like a call going out.
        figure = round(0.78 * size)
        offset = (size - figure) // 2
        swell = (t % 2.0) / 2.0
        radius = figure / 2 + swell * (size - figure) / 2
        ring = mix(palette.accent, palette.background, swell)
        centre = (x + size / 2, y + size / 2)
        pg.draw.circle(surface, ring, centre, radius, max(2, round(0.02 * size)))
        surface.blit(sprites.staff(palette, figure), (x + offset, y + offset))
    else:
        # A smaller, still phone inside breathing viewfinder corners: "hold it there".
        phone = round(0.8 * size)
        surface.blit(sprites.phone(palette, phone), (x + (size - phone) // 2,
                                                     y + (size - phone) // 2))
        grow = (0.5 + 0.5 * math.sin(2 * math.pi * t / 1.2)) * 0.03 * size
        corners = (
            x + 0.24 * size - grow,
            y + 0.06 * size - grow,
            0.52 * size + 2 * grow,
            0.88 * size + 2 * grow,
        )
        _corners(surface, palette.accent, corners, size)


def _spinner(pg: Any, surface: Any, palette: Palette, box: Box, t: float) -> None:
    """Twelve dots, the bright one going round once a second."""
    x, y, size, _ = box
    head = int(t * 12) % 12
    for i in range(12):
        fade = ((head - i) % 12) / 12
        weight = max(0.2, 1.0 - fade * 1.1)
        colour = mix(palette.background, palette.headline, weight)
        angle = 2 * math.pi * i / 12 - math.pi / 2
        cx = round(x + size / 2 + math.cos(angle) * size * 0.36)
        cy = round(y + size / 2 + math.sin(angle) * size * 0.36)
        radius = max(1, round(size * 0.06 * (0.7 + 0.3 * weight)))
        pg.gfxdraw.filled_circle(surface, cx, cy, radius, colour)
        pg.gfxdraw.aacircle(surface, cx, cy, radius, colour)


def _corners(
    surface: Any, colour: Colour, box: tuple[float, float, float, float], size: int
) -> None:
    """Four L-shaped viewfinder corners just inside `box`."""
    left, top, w, h = box
    arm, thick = round(0.12 * size), max(2, round(0.03 * size))
    for fx, fy in itertools.product((0, 1), repeat=2):  # 0: left/top, 1: right/bottom
        cx, cy = left + fx * w, top + fy * h
        surface.fill(colour, (round(cx - fx * arm), round(cy - fy * thick), arm, thick))
        surface.fill(colour, (round(cx - fx * thick), round(cy - fy * arm), thick, arm))
