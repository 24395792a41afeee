"""PygameScreen on SDL's dummy video driver: what it draws, at every supported size."""

from __future__ import annotations

import os

# Before pygame opens a display: no window, works on any machine (no conftest needed).
os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pygame
import pytest
from PIL import Image

from kiosk import messages
from kiosk.messages import CUSTOMER_FAULTS
from kiosk.model import CodeKind, Fault, Outcome, Phase, Reason, State, Verdict
from kiosk.signals import Signals
from kiosk.signals.display import kmsdrm_card_index, video_environment
from kiosk.signals.layout import Layout, wrap
from kiosk.signals.screen import (
    BANNER_BACKGROUND,
    BANNER_TEXT,
    BOLD_FONT,
    PALETTES,
    REGULAR_FONT,
    Painter,
    PygameScreen,
    footer_colour,
)
from kiosk.signals.shapes import Colour

SIZES = [(480, 320), (800, 480), (1024, 600), (1280, 720)]
OUTCOME_OF = {Phase.PASS: Outcome.PASS, Phase.FAIL: Outcome.FAIL, Phase.UNKNOWN: Outcome.UNKNOWN}
REASON_OF = {Phase.PASS: Reason.VALID, Phase.FAIL: Reason.EXPIRED,
             Phase.UNKNOWN: Reason.DIIA_UNAVAILABLE}
UKRAINIAN_LETTERS = "ґїєі’ҐЇЄІ"


def state(phase: Phase, faults: frozenset[Fault] = frozenset(), since: float = 0.0) -> State:
    verdict = None
    if phase in OUTCOME_OF:
        verdict = Verdict(REASON_OF[phase], "age", CodeKind.BARCODE, "9f2c1a7e")
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


def every_look() -> list[State]:
    """Every phase bare and under every fault at once, and each verdict held for staff."""
    looks = [state(phase, faults) for phase in Phase for faults in (frozenset(), frozenset(Fault))]
    looks += [replace(state(phase), awaiting_staff=True) for phase in OUTCOME_OF]
    looks += [replace(state(phase, frozenset({Fault.CLOCK})), awaiting_staff=True)
              for phase in OUTCOME_OF]
    return looks


@pytest.mark.parametrize("language", ["uk", "en"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_state_at_every_size_fits_is_legible_and_has_every_glyph(
    screen_factory: type[PygameScreen], size: tuple[int, int], language: str, tmp_path: Path
) -> None:
    """The screenshots themselves: drawn off-screen at each size, then read back as pixels."""
    screen = screen_factory(size=(480, 320), language=language)
    fonts = {bold: pygame.font.Font(str(BOLD_FONT if bold else REGULAR_FONT), 24)
             for bold in (True, False)}
    boxes = {bold: notdef_metrics(font) for bold, font in fonts.items()}
    for i, shown in enumerate(every_look()):
        path = tmp_path / f"{i:02d}.png"
        layout = screen.render_state_png(shown, size, path)
        what = f"{shown.phase} faults={len(shown.faults)} staff={shown.awaiting_staff}"
        pixels = np.asarray(Image.open(path).convert("RGB"))
        assert pixels.shape == (size[1], size[0], 3)
        background = PALETTES[shown.phase].background
        assert share_of(path, background) > 0.5, what
        assert_layout_fits(layout, size, banner=bool(shown.faults & CUSTOMER_FAULTS),
                           hint=shown.awaiting_staff)
        for line in layout.lines:
            bold = line.role in ("banner", "headline")
            metrics = fonts[bold].metrics(line.text)
            box = boxes[bold]
            missing = [c for c, m in zip(line.text, metrics, strict=True) if m in (None, box)]
            assert missing == [], (what, line.text)
            behind = {"banner": BANNER_BACKGROUND, "hint": footer_colour(PALETTES[shown.phase])
                      }.get(line.role, background)
            assert_text_legible(pixels, line.box, behind, f"{what}: {line.text!r}")


def assert_text_legible(pixels: np.ndarray, box: tuple[int, int, int, int],
                        background: Colour, what: str) -> None:
    """Text was drawn in the box, in a colour of at least 4.5:1 against its background."""
    x, y, w, h = box
    crop = pixels[y : y + h, x : x + w].reshape(-1, 3) / 255
    linear = np.where(crop <= 0.04045, crop / 12.92, ((crop + 0.055) / 1.055) ** 2.4)
    lum = linear @ np.array([0.2126, 0.7152, 0.0722])
    behind = luminance(background)
    ratios = (np.maximum(lum, behind) + 0.05) / (np.minimum(lum, behind) + 0.05)
    assert ratios.max() >= 4.5, f"{what}: best contrast {ratios.max():.2f}"
    # The glyphs' solid strokes, not a stray antialiased pixel, carry that contrast.
    assert (ratios >= 4.5).mean() >= 0.03, what


def assert_layout_fits(layout: Layout | None, size: tuple[int, int], banner: bool,
                       hint: bool = False) -> None:
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
    assert ("hint" in roles) == hint
    text_bottom = 0
    for line in layout.lines:
        x, y, w, h = line.box
        assert 0 <= x <= x + w <= width and 0 <= y <= y + h <= height, line
        assert line.px >= 10
        if line.role == "banner":
            assert y + h <= banner_bottom
        elif line.role == "hint":
            assert y >= text_bottom, f"{line.text!r} overlaps the text above it"
        else:
            assert y >= iy + isize, f"{line.text!r} overlaps the shape"
            text_bottom = max(text_bottom, y + h)


@pytest.mark.parametrize("fault", [Fault.CLOCK, Fault.CONFIG, Fault.OUTPUT])
def test_a_staff_only_fault_is_a_mark_in_the_corner_not_words_for_the_customer(
    screen_factory: type[PygameScreen], tmp_path: Path, fault: Fault
) -> None:
    screen = screen_factory(size=(480, 320))
    bare = screen.render_state_png(state(Phase.IDLE), (480, 320), tmp_path / "bare.png")
    marked = screen.render_state_png(state(Phase.IDLE, frozenset({fault})), (480, 320),
                                     tmp_path / "marked.png")
    assert marked.banner is None and marked.lines == bare.lines  # no words for it
    before, after = (np.asarray(Image.open(tmp_path / f"{n}.png").convert("RGB")).astype(int)
                     for n in ("bare", "marked"))
    changed = np.argwhere(np.abs(after - before).sum(axis=2) > 0)
    assert len(changed), "no mark drawn"
    top, right = changed[:, 0].max(), changed[:, 1].min()
    assert top < 0.15 * 320 and right > 0.8 * 480  # only the top right corner changed


def test_a_long_unknown_reason_with_every_fault_still_fits_the_smallest_screen(
    screen_factory: type[PygameScreen],
) -> None:
    screen = screen_factory(size=(480, 320), language="en")
    screen.show(replace(state(Phase.UNKNOWN, frozenset(Fault)), awaiting_staff=True))
    assert_layout_fits(screen.layout, (480, 320), banner=True, hint=True)


def test_the_display_shows_what_the_off_screen_picture_shows(
    screen_factory: type[PygameScreen], tmp_path: Path
) -> None:
    screen = screen_factory(size=(800, 480))
    shown = state(Phase.FAIL, frozenset({Fault.NETWORK}))
    screen.show(shown)
    screen.render_png(tmp_path / "display.png")
    screen.render_state_png(shown, (800, 480), tmp_path / "off.png")
    display = Image.open(tmp_path / "display.png").convert("RGB").tobytes()
    assert display == Image.open(tmp_path / "off.png").convert("RGB").tobytes()


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
        texts.append(messages.STAFF_HINTS[lang])
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
        "04-idle-network.png",
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
    banner = wrap("Камера недоступна · Немає зв’язку з Дією", 220, measure)
    assert banner == ["Камера недоступна\u00a0·", "Немає зв’язку з Дією"]
    assert wrap("Надзвичайнодовгеслово", 50, measure) == ["Надзв", "ичайн", "одовг", "еслов", "о"]
    assert wrap("", 100, measure) == []


def test_importing_the_adapters_needs_neither_pygame_nor_gpiozero() -> None:
    code = (
        "import sys, kiosk.signals, kiosk.signals.screen, kiosk.signals.lights, kiosk.messages,"
        " kiosk.signals.shapes, kiosk.signals.display, kiosk.signals.layout, kiosk.staff,"
        " kiosk.selftest;"
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


def test_screenshots_at_every_size_name_the_look_and_the_size(
    screen_factory: type[PygameScreen], tmp_path: Path
) -> None:
    shots = tmp_path / "shots"
    screen = screen_factory(size=(800, 480), screenshot_dir=shots, screenshot_sizes=SIZES)
    screen.show(state(Phase.ATTENDED_WAIT))
    screen.show(replace(state(Phase.PASS), awaiting_staff=True))
    screen.show(replace(state(Phase.PASS), awaiting_staff=True))  # the same look: no more
    names = sorted(p.name for p in shots.iterdir())
    assert names == sorted(
        f"{look}-{w}x{h}.png" for look in ("01-attended_wait", "02-pass-valid-staff")
        for w, h in SIZES
    )
    for w, h in SIZES:
        with Image.open(shots / f"02-pass-valid-staff-{w}x{h}.png") as image:
            assert image.size == (w, h)
    assert screen.size == (800, 480), "the display itself is left at its size"


def test_the_staff_picture_differs_from_every_other(
    screen_factory: type[PygameScreen], tmp_path: Path
) -> None:
    screen = screen_factory(size=(800, 480))
    icons = {}
    for phase in Phase:
        layout = screen.render_state_png(state(phase), (800, 480), tmp_path / "x.png")
        x, y, s, _ = layout.icon
        picture = Image.open(tmp_path / "x.png").convert("L").crop((x, y, x + s, y + s))
        icons[phase] = np.asarray(picture.resize((64, 64))) > 128  # shape, not colour
    staff = icons.pop(Phase.ATTENDED_WAIT)
    for phase, other in icons.items():
        assert (staff != other).mean() > 0.05, phase


def test_fullscreen_takes_the_whole_display_and_hides_the_pointer(
    screen_factory: type[PygameScreen],
) -> None:
    screen = screen_factory(size=(480, 320), fullscreen=True)
    assert screen.size != (480, 320)  # the dummy display's own size
    assert not pygame.mouse.get_visible()


# -- choosing the video driver ---------------------------------------------------------------


def dri(tmp_path: Path, by_path: dict[str, str], cards: tuple[str, ...] = ()) -> Path:
    """A /dev/dri look-alike: card files and by-path links to them."""
    root = tmp_path / "dri"
    (root / "by-path").mkdir(parents=True)
    for card in {*cards, *by_path.values()}:
        (root / card).touch()
    for name, card in by_path.items():
        (root / "by-path" / name).symlink_to(f"../{card}")
    return root


def test_the_environment_s_driver_always_wins(tmp_path: Path) -> None:
    root = dri(tmp_path, {}, ("card0",))
    assert video_environment({"SDL_VIDEODRIVER": "x11"}, True, root) == {}
    assert video_environment({"SDL_VIDEODRIVER": "dummy", "DISPLAY": ":0"}, True, root) == {}


def test_a_desktop_session_is_left_to_sdl(tmp_path: Path) -> None:
    root = dri(tmp_path, {}, ("card0",))
    assert video_environment({"WAYLAND_DISPLAY": "wayland-0"}, True, root) == {}
    assert video_environment({"DISPLAY": ":0"}, False, root) == {}


def test_a_fullscreen_kiosk_without_a_desktop_uses_the_console(tmp_path: Path) -> None:
    root = dri(tmp_path, {"platform-axi:gpu-card": "card2"}, ("card0", "card1"))
    assert video_environment({}, True, root) == {
        "SDL_VIDEODRIVER": "kmsdrm",
        "SDL_KMSDRM_DEVICE_INDEX": "2",  # the display controller, not the first card
    }


def test_kmsdrm_chosen_by_the_environment_still_gets_the_right_card(tmp_path: Path) -> None:
    root = dri(tmp_path, {"platform-gpu-card": "card1"}, ("card0",))
    assert video_environment({"SDL_VIDEODRIVER": "KMSDRM"}, False, root) == {
        "SDL_KMSDRM_DEVICE_INDEX": "1"
    }
    chosen = {"SDL_VIDEODRIVER": "kmsdrm", "SDL_KMSDRM_DEVICE_INDEX": "0"}
    assert video_environment(chosen, False, root) == {}  # an installer's choice stands


def test_no_display_at_all_draws_off_screen(tmp_path: Path) -> None:
    assert video_environment({}, True, tmp_path / "missing") == {"SDL_VIDEODRIVER": "dummy"}
    no_cards = dri(tmp_path, {})
    assert video_environment({}, True, no_cards) == {"SDL_VIDEODRIVER": "dummy"}
    with_card = tmp_path / "other"
    (with_card).mkdir()
    (with_card / "card0").touch()
    assert video_environment({}, False, with_card) == {"SDL_VIDEODRIVER": "dummy"}  # a window


def test_an_unknown_board_leaves_the_card_to_sdl(tmp_path: Path) -> None:
    root = dri(tmp_path, {"pci-0000:00:02.0-card": "card0"})
    assert kmsdrm_card_index(root) is None
    assert video_environment({}, True, root) == {"SDL_VIDEODRIVER": "kmsdrm"}


def test_where_the_till_is_the_staff_step_the_note_points_at_the_till(
    screen_factory: type[PygameScreen],
) -> None:
    screen_factory(size=(480, 320))  # SDL and its fonts, set up and closed as for the others
    held = replace(state(Phase.PASS), awaiting_staff=True)
    layouts = {}
    for till in (False, True):
        surface = pygame.Surface((480, 320))
        layouts[till] = Painter(pygame, "uk", till_staff=till).paint(surface, held)
    hints = {till: [line.text for line in layout.lines if line.role == "hint"]
             for till, layout in layouts.items()}
    assert hints[True] == [messages.TILL_STAFF_HINTS["uk"]]
    assert hints[False] == [messages.STAFF_HINTS["uk"]]
    assert layouts[True].icon == layouts[False].icon  # one picture size either way
