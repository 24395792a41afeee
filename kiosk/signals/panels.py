"""The panels the screen is designed for, and how far away each must be read from.

A customer reads the answer from where they stand, not with their nose on the glass. The
rule of thumb for signs is a cap height of about 1/200 of the reading distance (5 mm at
1 m); the headline is sized for it from each panel's pixel pitch, and the line under it
(what to do: "refresh the code in Diia") gets at least 1/300 (3.3 mm at 1 m). The physical sizes are
assumptions about the usual panel of each resolution, written here so that they can be
checked and changed:

| pixels   | panel assumed (active area)                   | read from |
|----------|-----------------------------------------------|-----------|
| 480×320  | a 3.5" HAT, 73.4 × 49.0 mm                    | 1 m       |
| 800×480  | the official Raspberry Pi 7" display, 154.1 × 85.9 mm | 1.5 m |
| 1024×600 | a 7" HDMI panel, 154.2 × 85.9 mm              | 1.5 m     |
| 1280×720 | a 10.1" 16:9 HDMI monitor, 223.7 × 125.8 mm   | 2 m       |

A 3.5" panel is read by the customer at the counter; a 7" one from a step back in the queue;
a monitor from further still. Larger capitals would take the picture's room (the verdict's
shape and colour are what is seen first from further away).

Any other size (a desktop window) gets no distance: its headline is HEADLINE_SHARE of the
shorter side, which is what the panels above come to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CAP_HEIGHT_PER_DISTANCE = 1 / 200
DETAIL_CAP_PER_DISTANCE = 1 / 300
# DejaVu Sans Bold's capital height as a share of its pixel size (729/1000 of its em, and
# pygame's size is the em): measured on the rendered glyphs in tests/test_reading_distance.py.
BOLD_CAP_SHARE = 0.729
REGULAR_CAP_SHARE = 0.729  # DejaVu Sans: its capitals are as tall as the bold's
HEADLINE_SHARE = 0.14


@dataclass(frozen=True, slots=True)
class Panel:
    size: tuple[int, int]  # pixels, landscape
    name: str
    height_mm: float  # the active area's height
    distance_m: float  # the designed reading distance

    @property
    def mm_per_px(self) -> float:
        return self.height_mm / self.size[1]

    @property
    def cap_height_mm(self) -> float:
        return self.distance_m * 1000 * CAP_HEIGHT_PER_DISTANCE

    @property
    def headline_px(self) -> int:
        """The bold type size whose capitals are `cap_height_mm` tall on this panel."""
        return round(self.cap_height_mm / self.mm_per_px / BOLD_CAP_SHARE)

    @property
    def detail_cap_height_mm(self) -> float:
        return self.distance_m * 1000 * DETAIL_CAP_PER_DISTANCE

    @property
    def detail_px(self) -> int:
        """The smallest regular type size whose capitals are `detail_cap_height_mm` tall."""
        return math.ceil(self.detail_cap_height_mm / self.mm_per_px / REGULAR_CAP_SHARE)


PANELS: dict[tuple[int, int], Panel] = {
    panel.size: panel
    for panel in (
        Panel((480, 320), '3.5" HAT', 48.96, 1.0),
        Panel((800, 480), 'official 7" display', 85.92, 1.5),
        Panel((1024, 600), '7" HDMI panel', 85.92, 1.5),
        Panel((1280, 720), '10.1" HDMI monitor', 125.8, 2.0),
    )
}


def headline_px(size: tuple[int, int]) -> int:
    """The headline's type size on a screen of `size`: read from its panel's distance."""
    panel = PANELS.get(size)
    if panel is not None:
        return panel.headline_px
    return round(HEADLINE_SHARE * min(size))


def detail_px(size: tuple[int, int]) -> int | None:
    """The smallest type size of the line under the headline on a screen of `size`, read
    from its panel's distance; None for a size of no known panel."""
    panel = PANELS.get(size)
    return panel.detail_px if panel is not None else None
