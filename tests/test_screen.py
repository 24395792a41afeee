"""PygameScreen on SDL's dummy video driver: what it draws, at every supported size."""

from __future__ import annotations

import os

# Before pygame opens a display: no window, works on any machine (no conftest needed).
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from kiosk import messages
from kiosk.model import CodeKind, Fault, Outcome, Phase, State, Verdict
from kiosk.signals import Signals
from kiosk.signals.screen import (
    BANNER_BACKGROUND,
    BANNER_TEXT,
    BOLD_FONT,
    PALETTES,
    REGULAR_FONT,
    Colour,
    PygameScreen,
    wrap,
)

SIZES = [(480, 320), (800, 480), (1024, 600), (1280, 720)]
OUTCOME_OF = {Phase.PASS: Outcome.PASS, Phase.FAIL: Outcome.FAIL, Phase.UNKNOWN: Outcome.UNKNOWN}
REASON_OF = {Phase.PASS: "valid", Phase.FAIL: "expired", Phase.UNKNOWN: "diia_unavailable"}
UKRAINIAN_LETTERS = "ґїєі’ҐЇЄІ"


def state(phase: Phase, faults: frozenset[Fault] = frozenset(), since: float = 0.0) -> State:
    verdict = None
    if phase in OUTCOME_OF:
        verdict = Verdict(OUTCOME_OF[phase], REASON_OF[phase], "age", CodeKind.BARCODE, "9f2c1a7e")
    return State(phase, verdict, faults, since)


def luminance(colour: Colour) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: Colour, b: Colour) -> float:
    """WCAG 2 contrast ratio."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def share_of(path: Path, colour: Colour) -> float:
    """The share of the image's pixels in `colour`; above one half, it is the dominant one."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    return float((pixels == colour).all(axis=2).mean())


@pytest.fixture
def screen_factory() -> Iterator[type[PygameScreen]]:
    opened: list[PygameScreen] = []

    class Closing(PygameScreen):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            opened.append(self)

    yield Closing
    for screen in opened:
        screen.close()


def test_pygame_screen_satisfies_the_signals_port(screen_factory: type[PygameScreen]) -> None:
    screen: Signals = screen_factory()
    screen.show(state(Phase.IDLE))
    screen.tick(0.1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_phase_fills_the_screen_with_its_colour_and_text_fits(
    screen_factory: type[PygameScreen], size: tuple[int, int], tmp_path: Path
) -> None:
    screen = screen_factory(size=size)
    assert screen.size == size
    for phase in Phase:
        for faults in (frozenset(), frozenset(Fault)):
            screen.show(state(phase, faults))
            path = tmp_path / f"{phase}-{len(faults)}.png"
            screen.render_png(path)
            with Image.open(path) as image:
                assert image.size == size
            assert share_of(path, PALETTES[phase].background) > 0.5
            assert_layout_fits(screen, size, banner=bool(faults))


def assert_layout_fits(screen: PygameScreen, size: tuple[int, int], banner: bool) -> None:
    layout = screen.layout
    assert layout is not None and layout.size == size
    width, height = size
    ix, iy, isize, _ = layout.icon
    assert isize >= 0.15 * min(size), "the shape must stay big"
    assert 0 <= ix <= ix + isize <= width and 0 <= iy <= iy + isize <= height
    assert (layout.banner is not None) == banner
    banner_bottom = layout.banner[3] if layout.banner else 0
    assert iy >= banner_bottom
    roles = [line.role for line in layout.lines]
    assert "headline" in roles
    for line in layout.lines:
        x, y, w, h = line.box
        assert 0 <= x <= x + w <= width and 0 <= y <= y + h <= height, line
        if line.role == "banner":
            assert y + h <= banner_bottom
        else:
            assert y >= iy + isize, f"{line.text!r} overlaps the shape"
            assert line.px >= 10


def test_a_long_unknown_reason_with_every_fault_still_fits_the_smallest_screen(
    screen_factory: type[PygameScreen],
) -> None:
    screen = screen_factory(size=(480, 320), language="en")
    screen.show(state(Phase.UNKNOWN, frozenset(Fault)))
    assert_layout_fits(screen, (480, 320), banner=True)


def test_every_text_colour_has_a_contrast_of_at_least_4_5() -> None:
    assert set(PALETTES) == set(Phase)
    for phase, palette in PALETTES.items():
        assert contrast(palette.headline, palette.background) >= 4.5, phase
        assert contrast(palette.detail, palette.background) >= 4.5, phase
        if phase in OUTCOME_OF:  # a result's shape is a graphic: WCAG asks 3:1 for those
            assert contrast(palette.mark, palette.disc) >= 3, phase
            assert contrast(palette.disc, palette.background) >= 3, phase
    assert contrast(BANNER_TEXT, BANNER_BACKGROUND) >= 4.5


def test_results_look_different_without_colour(
    screen_factory: type[PygameScreen], tmp_path: Path
) -> None:
    """Pass, fail and unknown differ in shape: compare the icons' black-and-white masks."""
    screen = screen_factory()
    masks = {}
    for phase in OUTCOME_OF:
        screen.show(state(phase))
        assert screen.layout is not None
        x, y, s, _ = screen.layout.icon
        path = tmp_path / f"{phase}.png"
        screen.render_png(path)
        icon = np.asarray(Image.open(path).convert("RGB").crop((x, y, x + s, y + s)))
        masks[phase] = (icon == PALETTES[phase].disc).all(axis=2).tobytes()
    assert len(set(masks.values())) == 3


def notdef_metrics(font: pygame.font.Font) -> tuple[int, ...]:
    """Metrics of the .notdef box, from two code points that no font maps."""
    a, b = font.metrics("\u0378\u0fff")  # unassigned in Greek and Tibetan
    # On pygame 2.6 / SDL_ttf 2.20 a missing glyph is NOT None: it is the .notdef box.
    assert a is not None and a == b
    return a


@pytest.mark.parametrize("font_path", [REGULAR_FONT, BOLD_FONT], ids=lambda p: p.name)
def test_the_shipped_font_has_every_ukrainian_letter(font_path: Path) -> None:
    pygame.font.init()
    font = pygame.font.Font(str(font_path), 40)
    box = notdef_metrics(font)
    box_pixels = pygame.image.tobytes(font.render("\u0378", True, (255, 255, 255)), "RGBA")
    for letter, metrics in zip(UKRAINIAN_LETTERS, font.metrics(UKRAINIAN_LETTERS), strict=True):
        assert metrics is not None and metrics != box, letter
        drawn = font.render(letter, True, (255, 255, 255))
        assert pygame.image.tobytes(drawn, "RGBA") != box_pixels, letter


def test_every_message_is_covered_by_the_shipped_fonts() -> None:
    pygame.font.init()
    for font_path in (REGULAR_FONT, BOLD_FONT):
        font = pygame.font.Font(str(font_path), 24)
        box = notdef_metrics(font)
        text = "".join(sorted(set("".join(message_texts()))))
        missing = [c for c, m in zip(text, font.metrics(text), strict=True) if m in (None, box)]
        assert missing == [], font_path.name


def message_texts() -> list[str]:
    texts = []
    for lang in ("uk", "en"):
        for headline, detail in messages.PHASES[lang].values():
            texts += [headline, detail]
        for table in (messages.PASS_HEADLINES, messages.REASONS, messages.FAULTS):
            texts += table[lang].values()  # type: ignore[attr-defined]
        texts += messages.FALLBACK_DETAILS[lang].values()
    return [*texts, "\u00a0·"]  # the screen's own no-break space and banner separator


def test_the_font_licence_ships_with_the_fonts() -> None:
    licence = (REGULAR_FONT.parent / "LICENSE-DejaVu.txt").read_text(encoding="utf-8")
    assert "Bitstream" in licence and "Permission is hereby granted" in licence


def test_one_screenshot_per_state_shown(screen_factory: type[PygameScreen], tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    screen = screen_factory(screenshot_dir=shots)
    screen.show(state(Phase.IDLE))
    screen.tick(0.5)
    screen.show(state(Phase.CHECKING))
    screen.show(state(Phase.CHECKING))  # the same state again: no second picture
    screen.show(state(Phase.PASS))
    screen.show(state(Phase.IDLE, frozenset({Fault.NETWORK})))
    screen.show(state(Phase.FAIL))
    names = sorted(p.name for p in shots.iterdir())
    assert names == [
        "01-idle.png",
        "02-checking.png",
        "03-pass-valid.png",
        "04-idle.png",
        "05-fail-expired.png",
    ]
    assert share_of(shots / "03-pass-valid.png", PALETTES[Phase.PASS].background) > 0.5


def test_tick_animates_the_waiting_phases_at_most_30_times_a_second(
    screen_factory: type[PygameScreen], tmp_path: Path
) -> None:
    screen = screen_factory(size=(480, 320))
    screen.show(state(Phase.CHECKING, since=100.0))
    first = tmp_path / "first.png"
    screen.render_png(first)
    frames = screen.frames
    screen.tick(100.0)
    screen.tick(100.01)  # too soon for another frame
    assert screen.frames == frames + 1
    screen.tick(100.5)
    assert screen.frames == frames + 2
    later = tmp_path / "later.png"
    screen.render_png(later)
    assert Image.open(first).tobytes() != Image.open(later).tobytes(), "the spinner turned"


def test_tick_leaves_a_result_still(screen_factory: type[PygameScreen]) -> None:
    screen = screen_factory(size=(480, 320))
    screen.show(state(Phase.PASS))
    frames = screen.frames
    for i in range(10):
        screen.tick(i / 10)
    assert screen.frames == frames


def test_closing_the_window_is_reported_not_acted_on(screen_factory: type[PygameScreen]) -> None:
    screen = screen_factory(size=(480, 320))
    screen.show(state(Phase.IDLE))
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    screen.tick(1.0)
    assert screen.quit_requested


def test_after_close_the_screen_ignores_calls(screen_factory: type[PygameScreen]) -> None:
    screen = screen_factory(size=(480, 320))
    screen.close()
    screen.show(state(Phase.PASS))
    screen.tick(1.0)
    screen.close()


def test_wrap_keeps_lines_within_width_and_dashes_off_line_starts() -> None:
    def measure(text: str) -> int:
        return 10 * len(text)

    lines = wrap("Код прострочено — оновіть код у Дії", 160, measure)
    assert all(measure(line) <= 160 for line in lines)
    assert not any(line.startswith("—") for line in lines)
    assert " ".join(lines).replace("\u00a0", " ") == "Код прострочено — оновіть код у Дії"
    assert wrap("Надзвичайнодовгеслово", 50, measure) == ["Надзв", "ичайн", "одовг", "еслов", "о"]
    assert wrap("", 100, measure) == []


def test_importing_the_adapters_needs_neither_pygame_nor_gpiozero() -> None:
    code = (
        "import sys, kiosk.signals, kiosk.signals.screen, kiosk.signals.lights, kiosk.messages;"
        "bad = {'pygame', 'gpiozero'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("phase", [Phase.IDLE, Phase.READING, Phase.CHECKING])
def test_animation_frames_paint_only_inside_the_shape_box(
    screen_factory: type[PygameScreen], phase: Phase
) -> None:
    screen = screen_factory(size=(800, 480))
    screen.show(state(phase, frozenset({Fault.CLOCK}), since=5.0))
    assert screen.layout is not None
    x, y, size, _ = screen.layout.icon
    surface = pygame.display.get_surface()
    outside = np.ones(surface.get_size(), dtype=bool)  # surfarray is indexed [x, y]
    outside[x : x + size, y : y + size] = False
    before = pygame.surfarray.array3d(surface)[outside]
    for i in range(1, 60):
        screen.tick(5.0 + i / 30)
        assert (pygame.surfarray.array3d(surface)[outside] == before).all(), i
