"""Where things go on the screen: word wrapping and the one layout for every size.

Pure geometry over a font lookup: sizes are fractions of min(width, height), so one design
scales from 480×320 to 1280×720, except the headline's, which the screen sizes for the
distance its panel is read from (`panels.py`). The screen (`screen.py`) paints what this plans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kiosk.signals.shapes import Box

# Sizes as fractions of min(width, height).
MARGIN = 0.05
HEADLINE_PX = 0.105
DETAIL_PX = 0.066
BANNER_PX = 0.055
HINT_PX = 0.05
BANNER_LINES = 2
ICON_MAX = 0.42
ICON_MIN = 0.18
GAP_BELOW_ICON = 0.05
GAP_BELOW_HEADLINE = 0.025
MIN_TEXT_PX = 10
DETAIL_FLOOR = 0.75  # the detail shrinks to this share of its size before the headline does


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    box: Box
    role: str  # "banner" | "headline" | "detail" | "hint"
    px: int  # font size


@dataclass(frozen=True, slots=True)
class Layout:
    """Where everything went on a render: for tests and for the curious."""

    size: tuple[int, int]
    banner: Box | None
    icon: Box
    lines: tuple[TextLine, ...]
    footer: Box | None = None  # the strip behind the hint for staff


def wrap(text: str, width: int, measure: Callable[[str], int]) -> list[str]:
    """Word wrap to `width` pixels, lines of even length: no lone word on a last line.

    A dash (and the banner's " · ") stays at the end of the line before it, as Ukrainian
    typesetting wants; a word wider than a line is cut by characters. A newline starts a
    new line (a subline and its reason).
    """
    if "\n" in text:
        return [line for part in text.split("\n") for line in wrap(part, width, measure)]
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
    # A dash or a banner's separator ends its line, never starts the next one.
    return text.replace(" — ", "\u00a0— ").replace(" · ", "\u00a0· ").split(" ")


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


def type_sizes(size: tuple[int, int], headline_px: int | None = None,
               detail_px: int | None = None) -> tuple[int, int]:
    """The headline's and the detail's type size on a screen of `size` while the text fits:
    `headline_px` (else HEADLINE_PX of the shorter side); DETAIL_PX, at least `detail_px`."""
    unit = min(size)
    head = headline_px if headline_px is not None else round(HEADLINE_PX * unit)
    return head, max(round(DETAIL_PX * unit), detail_px or MIN_TEXT_PX)


def lines_needed(size: tuple[int, int], font_for: Callable[[bool, int], Any],
                 texts: Iterable[tuple[str, str]], headline_px: int | None = None,
                 detail_px: int | None = None) -> tuple[int, int]:
    """The most (headline, detail) lines any of `texts` takes on a screen of `size`: the
    `reserve_lines` that gives all of them one picture size."""
    head_px, small_px = type_sizes(size, headline_px, detail_px)
    width = size[0] - 2 * round(MARGIN * min(size))
    head, small = _measure(font_for(True, head_px)), _measure(font_for(False, small_px))
    counted = [(len(wrap(h, width, head)), len(wrap(d, width, small))) for h, d in texts]
    return max(h for h, _ in counted), max(d for _, d in counted)


def plan(
    size: tuple[int, int],
    font_for: Callable[[bool, int], Any],
    headline: str,
    detail: str,
    banner: str | None = None,
    hint: str | None = None,
    *,
    headline_px: int | None = None,
    detail_px: int | None = None,
    reserve_lines: tuple[int, int] = (0, 0),
    hint_room: str | None = None,
) -> Layout:
    """Where the banner, the picture, the words and the hint go on a screen of `size`.

    `font_for(bold, px)` gives a pygame font. The headline is `headline_px` (else
    HEADLINE_PX of min(width, height)); the detail DETAIL_PX, and never under `detail_px`
    (the reading distance's minimum). The picture takes what the text leaves, between
    ICON_MIN and ICON_MAX of min(width, height), leaving room for at least `reserve_lines`
    (headline lines, detail lines) and for the hint `hint_room` whatever is shown: screens
    given the same reserve get the same picture size. Too much text shrinks the detail
    first (down to its minimum), then the headline.
    """
    width, height = size
    unit = min(width, height)
    margin = round(MARGIN * unit)
    text_width = width - 2 * margin
    pad = round(0.02 * unit)
    lines: list[TextLine] = []
    top, bottom = margin, height - margin
    banner_box: Box | None = None
    footer_box: Box | None = None
    if banner:
        banner_px = max(MIN_TEXT_PX, round(BANNER_PX * unit))
        while True:  # several faults at once: smaller type rather than a deep strip
            font = font_for(True, banner_px)
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
    footer = hint or hint_room  # a verdict keeps the staff note's room whether it shows or not
    if footer:
        hint_px = max(MIN_TEXT_PX, round(HINT_PX * unit))
        font = font_for(False, hint_px)
        while hint_px > MIN_TEXT_PX and font.size(footer)[0] > text_width:
            hint_px -= 1
            font = font_for(False, hint_px)
        hinted = wrap(footer, text_width, _measure(font))
        line_height = font.get_linesize()
        footer_top = height - 2 * pad - len(hinted) * line_height
        bottom = footer_top - pad
    if hint:
        y = height - pad - len(hinted) * line_height
        for line in hinted:
            line_width = font.size(line)[0]
            lines.append(TextLine(line, ((width - line_width) // 2, y, line_width,
                                         line_height), "hint", hint_px))
            y += line_height
        footer_box = (0, footer_top, width, height - footer_top)
    head_scale = detail_scale = 1.0
    head_base, detail_base = type_sizes(size, headline_px, detail_px)
    detail_least = detail_px or MIN_TEXT_PX
    detail_floor = detail_least / detail_base if detail_px else DETAIL_FLOOR
    while True:
        head_px = max(MIN_TEXT_PX, round(head_base * head_scale))
        small_px = max(detail_least, round(detail_base * detail_scale))
        head_font, detail_font = font_for(True, head_px), font_for(False, small_px)
        head_lines = wrap(headline, text_width, _measure(head_font))
        detail_lines = wrap(detail, text_width, _measure(detail_font))
        head_rows = max(len(head_lines), reserve_lines[0])
        detail_rows = max(len(detail_lines), reserve_lines[1])
        text_height = len(head_lines) * head_font.get_linesize()
        if detail_lines:
            text_height += round(GAP_BELOW_HEADLINE * unit)
            text_height += len(detail_lines) * detail_font.get_linesize()
        room = head_rows * head_font.get_linesize()
        if detail_rows:
            room += round(GAP_BELOW_HEADLINE * unit) + detail_rows * detail_font.get_linesize()
        gap = round(GAP_BELOW_ICON * unit)
        icon = min(round(ICON_MAX * unit), bottom - top - room - gap)
        if icon >= ICON_MIN * unit or head_scale < 0.3:
            break
        # Too much text for this screen: smaller type, same layout; the headline, read from
        # a distance, gives way last.
        if detail_scale > detail_floor:
            detail_scale *= 0.9
        else:
            head_scale *= 0.9
    icon = max(icon, 0)
    y = top + max(0, (bottom - top - icon - gap - room) // 2)  # the same place for the same reserve
    icon_box = ((width - icon) // 2, y, icon, icon)
    y += icon + gap
    for role, px, texts in (
        ("headline", head_px, head_lines),
        ("detail", small_px, detail_lines),
    ):
        font = font_for(role == "headline", px)
        if role == "detail" and texts:
            y += round(GAP_BELOW_HEADLINE * unit)
        for text in texts:
            line_width, line_height = font.size(text)[0], font.get_linesize()
            box = ((width - line_width) // 2, y, line_width, line_height)
            lines.append(TextLine(text, box, role, px))
            y += line_height
    return Layout(size, banner_box, icon_box, tuple(lines), footer_box)
