"""The verdict colours as colour-blind customers see them, measured on the drawn screens.

Each verdict is drawn off-screen (SDL's dummy driver); its background is read back from the
pixels, then seen through simulated protanopia, deuteranopia and tritanopia (Machado et al.
2009, severity 1). Pass, fail and unknown must stay at least MIN_DELTA_E apart (CIE76) for
every vision, so that a glance from a distance is enough; the words on them keep a WCAG
contrast of at least 4.5:1.
"""

from __future__ import annotations

import itertools
import os

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from collections.abc import Iterator

import numpy as np
import pygame
import pygame.gfxdraw  # the painter draws with it
import pytest

from kiosk.model import CodeKind, Phase, Reason, State, Verdict
from kiosk.signals.screen import PALETTES, SCREEN_SIZES, Painter
from tests.colour_vision import VISIONS, delta_e, linear

MIN_DELTA_E = 25.0
VERDICTS = {Phase.PASS: Reason.VALID, Phase.FAIL: Reason.EXPIRED,
            Phase.UNKNOWN: Reason.DIIA_UNAVAILABLE}


def contrast(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    la, lb = (float(linear(c) @ np.array([0.2126, 0.7152, 0.0722])) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


@pytest.fixture(scope="module")
def painter() -> Iterator[Painter]:
    pygame.display.init()
    pygame.font.init()
    yield Painter(pygame, "uk")
    pygame.display.quit()


def drawn(painter: Painter, phase: Phase, size: tuple[int, int]) -> np.ndarray:
    surface = pygame.Surface(size)
    painter.paint(surface, State(phase, Verdict(VERDICTS[phase], "age", CodeKind.BARCODE, "x")))
    return pygame.surfarray.array3d(surface).transpose(1, 0, 2)


def background_of(pixels: np.ndarray) -> tuple[int, int, int]:
    """The colour most of the screen is: sampled, not taken from the palette table."""
    flat = pixels.reshape(-1, 3).astype(np.int64)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    top = int(values[counts.argmax()])
    assert counts.max() > 0.5 * len(packed)
    return (top >> 16, (top >> 8) & 255, top & 255)


def verdict_backgrounds(painter: Painter, size: tuple[int, int]) -> dict[Phase, tuple]:
    return {phase: background_of(drawn(painter, phase, size)) for phase in VERDICTS}


@pytest.mark.parametrize("size", SCREEN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_verdict_colours_stay_apart_for_every_colour_vision(
    painter: Painter, size: tuple[int, int]
) -> None:
    backgrounds = verdict_backgrounds(painter, size)
    for phase, colour in backgrounds.items():
        assert colour == PALETTES[phase].background  # the table is what is drawn
    for vision in VISIONS:
        for a, b in itertools.combinations(VERDICTS, 2):
            distance = delta_e(backgrounds[a], backgrounds[b], vision)
            assert distance >= MIN_DELTA_E, f"{a} vs {b} under {vision}: ΔE {distance:.1f}"


def test_the_words_on_each_verdict_keep_their_contrast(painter: Painter) -> None:
    backgrounds = verdict_backgrounds(painter, SCREEN_SIZES[0])
    for phase, background in backgrounds.items():
        palette = PALETTES[phase]
        assert contrast(palette.headline, background) >= 4.5, phase
        assert contrast(palette.detail, background) >= 4.5, phase


def test_the_old_green_and_red_would_have_failed() -> None:
    """The check can fail: the earlier pass and fail colours merge under deuteranopia."""
    assert delta_e((11, 110, 46), (176, 0, 32), "deuteranopia") < MIN_DELTA_E


def delta_e_table() -> str:
    """The table for the record (README, reports): every pair under every vision."""
    rows = []
    for vision in VISIONS:
        cells = [f"{delta_e(PALETTES[a].background, PALETTES[b].background, vision):5.1f}"
                 for a, b in itertools.combinations(VERDICTS, 2)]
        rows.append(f"{vision:<13}" + "  ".join(cells))
    return "\n".join(rows)


if __name__ == "__main__":
    print("vision        pass/fail  pass/unknown  fail/unknown")
    print(delta_e_table())
