"""Headlines sized for the distance each panel is read from, measured on the drawn pixels.

Every state is drawn at every panel size in both languages; the capital that starts each
headline is measured where it was drawn (from its top ink row to the font's baseline), turned
into millimetres with the panel's pixel pitch, and compared with the design: a cap height of
1/200 of the reading distance (`kiosk/signals/panels.py`). The line under it (what to do,
why) is measured the same way on its own capitals and must be at least 1/300 of the
distance. A verdict's picture must be the same size whatever its reason and whether the note
to staff shows: the unknown one is not the small one, nor the attended one.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from collections.abc import Iterator

import numpy as np
import pygame
import pygame.gfxdraw  # the painter draws with it
import pytest

from kiosk.model import RESULT_PHASES, CodeKind, Phase, Reason, State, Verdict
from kiosk.signals.layout import Layout
from kiosk.signals.panels import BOLD_CAP_SHARE, PANELS, Panel
from kiosk.signals.screen import BOLD_FONT, PALETTES, Painter

MODES = ("validate", "age", "name")


@pytest.fixture(scope="module")
def pg() -> Iterator[object]:
    pygame.display.init()
    pygame.font.init()
    yield pygame
    pygame.display.quit()


def states() -> list[State]:
    """Every phase; every reason of a verdict; a pass in every mode (its headline says which)."""
    looks = [State(phase) for phase in Phase if phase not in RESULT_PHASES.values()]
    verdicts = [Verdict(reason, "age", CodeKind.BARCODE, "x") for reason in Reason]
    verdicts += [Verdict(Reason.VALID, mode, CodeKind.BARCODE, "x") for mode in MODES]
    return looks + [State(RESULT_PHASES[v.outcome], v, awaiting_staff=held)
                    for v in verdicts for held in (False, True)]


def ink_rows(pixels: np.ndarray, box: tuple[int, int, int, int], background: tuple) -> np.ndarray:
    x, y, w, h = box
    crop = pixels[y : y + h, x : x + w].astype(int)
    far = np.abs(crop - np.array(background)).sum(axis=2) > 3 * 64  # at least half-strength ink
    return np.flatnonzero(far.any(axis=1)) + y


def cap_height_px(pygame_: object, pixels: np.ndarray, layout: Layout, painter: Painter,
                  background: tuple, role: str = "headline") -> tuple[float, str]:
    """The drawn height of the first capital of the `role`'s lines: top ink row to the
    baseline."""
    line = next(line for line in layout.lines if line.role == role and line.text[0].isupper())
    font = painter.font(role == "headline", line.px)
    x, y, _, h = line.box
    rows = ink_rows(pixels, (x, y, font.size(line.text[0])[0], h), background)
    baseline = y + font.get_ascent()
    return float(baseline - rows.min()), line.text


@pytest.mark.parametrize("language", ["uk", "en"])
@pytest.mark.parametrize("panel", PANELS.values(), ids=lambda p: f"{p.size[0]}x{p.size[1]}")
def test_every_headline_reads_from_the_panel_s_distance(pg, panel: Panel, language: str) -> None:
    painter = Painter(pg, language)
    icons: dict[str, set[int]] = {}
    for shown in states():
        surface = pygame.Surface(panel.size)
        layout = painter.paint(surface, shown)
        pixels = pygame.surfarray.array3d(surface).transpose(1, 0, 2)
        background = PALETTES[shown.phase].background
        cap_px, text = cap_height_px(pg, pixels, layout, painter, background)
        cap_mm = cap_px * panel.mm_per_px
        what = f"{panel.size} {language} {shown.phase}: {text!r} {cap_mm:.1f} mm"
        assert cap_mm >= 0.95 * panel.cap_height_mm, what
        assert cap_mm <= 1.10 * panel.cap_height_mm, what
        headlines = [line for line in layout.lines if line.role == "headline"]
        assert len(headlines) <= 2, what
        if any(line.role == "detail" for line in layout.lines):
            colour = PALETTES[shown.phase].detail
            detail_px, text = cap_height_px(pg, pixels, layout, painter, background, "detail")
            detail_mm = detail_px * panel.mm_per_px
            said = f"{panel.size} {language} {shown.phase}: {text!r} {detail_mm:.2f} mm"
            assert detail_mm >= 0.95 * panel.detail_cap_height_mm, said
            assert colour != background
        if shown.phase in RESULT_PHASES.values():
            icons.setdefault("verdict", set()).add(layout.icon[2])
    (icon,) = icons["verdict"]  # one size for pass, fail and unknown, whatever the reason
    assert icon * panel.mm_per_px >= 10  # a shape told apart at the panel's distance


def test_the_cap_share_is_the_font_s(pg) -> None:
    font = pygame.font.Font(str(BOLD_FONT), 200)
    surface = font.render("HПE", True, (255, 255, 255), (0, 0, 0))
    pixels = pygame.surfarray.array3d(surface).transpose(1, 0, 2)
    rows = ink_rows(pixels, (0, 0, *surface.get_size()), (0, 0, 0))
    measured = (font.get_ascent() - rows.min()) / 200
    assert measured == pytest.approx(BOLD_CAP_SHARE, abs=0.01)


def test_the_designed_distances_and_sizes() -> None:
    """What the README states: the distance per panel and the cap height it asks for."""
    assert {p.size: p.distance_m for p in PANELS.values()} == {
        (480, 320): 1.0, (800, 480): 1.5, (1024, 600): 1.5, (1280, 720): 2.0}
    for panel in PANELS.values():
        assert panel.cap_height_mm == panel.distance_m * 5  # 1/200 of the distance
