"""The second look at a frame zxing-cpp read no Diia code in: zbar on the patches of bars,
zxing-cpp on the patches of blocks enlarged (bench/README.md measures it)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from kiosk.decoding.codes import to_code
from kiosk.decoding.regions import Region, RegionFinder
from kiosk.decoding.zbar import ZbarScanner


class RegionAssist:
    """A second look at a frame's likely symbols: EAN-13 and Code 128 by zbar in the patches
    of bars, QR by zxing-cpp in the small patches of blocks, enlarged.

    A bar patch is turned so that its bars run down it, then zbar scans every `row_step`-th
    row (every row costs more and reads no more: bench/README.md). Block patches larger than
    `max_block_px` already had pixels enough in zxing's first pass; the others are enlarged
    2×. `scanner` reads the bars (default: zbar, EAN-13 and Code 128, every third row);
    `bars=False` (no libzbar0) leaves them out.

    A frame at most `small_width` px wide (640×480) gives a symbol fewer pixels still, so
    there bar patches are stretched 1.5× across the bars (zbar then finds the narrow bars'
    edges; stretching along them too costs more and reads no more) and block
    patches are enlarged `small_zoom` times, cropped with a thinner margin to pay for it
    (bench/README.md). `small_width=0` treats every frame as large. Block patches of sensor
    noise are skipped at every size.
    """

    def __init__(
        self,
        finder: RegionFinder | None = None,
        scanner: ZbarScanner | None = None,
        max_block_px: int = 800,
        small_width: int = 800,
        small_zoom: float = 2.5,
        bars: bool = True,
    ) -> None:
        self.finder = finder or RegionFinder()
        self.scanner: ZbarScanner | None = None
        if bars:
            self.scanner = scanner or ZbarScanner(("EAN-13", "Code128"), row_step=3)
        self.max_block_px = max_block_px
        self.small_width = small_width
        self.small_zoom = small_zoom

    def read(
        self,
        pixels: np.ndarray,
        read_qr: Callable[[np.ndarray], list[tuple[str, str]]],
        check: Callable[[np.ndarray, str, str], bool] | None = None,
    ) -> list[tuple[str, str]]:
        """The reads of the first patch that gave any; `check(patch, text, symbology)` must
        pass for a Diia 1D read of zbar's to count (the other library's agreement and the
        patch drawing its digits)."""
        small = pixels.shape[1] <= self.small_width
        regions = self.finder.find(pixels)
        bars = [region for region in regions if region.bars]
        for region in regions:
            if region.bars:
                if self.scanner is None or self._a_line(region):
                    continue
                patch = region.crop(pixels)
                reads = self.scanner.scan(_resized(patch, 1.5, 1.0) if small else patch)
                if check is not None:
                    reads = [
                        (text, sym) for text, sym in reads
                        if to_code(text, sym) is None or check(patch, text, sym)
                    ]
            else:
                if max(region.x1 - region.x0, region.y1 - region.y0) > self.max_block_px:
                    continue
                if not _could_be_qr(region, bars):
                    continue
                if small:
                    patch, zoom = region.crop(pixels, 0.1, min_margin=8), self.small_zoom
                else:
                    patch, zoom = region.crop(pixels, margin=0.15), 2.0
                if _grainy(patch):
                    continue
                reads = read_qr(_resized(patch, zoom, zoom))
            if reads:
                return reads
        return []

    def _a_line(self, bars: Region) -> bool:
        """Whether a patch of bars is one cell thick: the rim of a phone or a row of digits,
        never a whole bar block, which is at least a third as tall as it is wide (on the
        tuning frames, none of these gave a read)."""
        cell = self.finder.step * self.finder.block
        return min(bars.x1 - bars.x0, bars.y1 - bars.y0) <= cell


def _could_be_qr(blocks: Region, bars: list[Region]) -> bool:
    """Whether a patch of blocks is worth enlarging (the assist's most expensive step).

    A QR is square: tipped back as far as a held phone goes (0.35) and turned any way, its
    box is at most ~1.6 times as long as wide, so a patch twice as long is text or moiré. And
    a Diia screen shows the QR or the barcode, never one over the other: blocks lying mostly
    within a patch of bars (widened by a quarter) are that symbol's digits or moiré on its
    bars. On the tuning frames not one of the patches this leaves alone read a QR
    (bench/README.md)."""
    width, height = blocks.x1 - blocks.x0, blocks.y1 - blocks.y0
    if max(width, height) >= 2 * min(width, height):
        return False
    for bar in bars:
        grow_x, grow_y = (bar.x1 - bar.x0) // 4, (bar.y1 - bar.y0) // 4
        inside_x = min(blocks.x1, bar.x1 + grow_x) - max(blocks.x0, bar.x0 - grow_x)
        inside_y = min(blocks.y1, bar.y1 + grow_y) - max(blocks.y0, bar.y0 - grow_y)
        if inside_x > 0 and inside_y > 0 and 2 * inside_x * inside_y >= width * height:
            return False
    return True


def _grainy(pixels: np.ndarray) -> bool:
    """Whether a patch is sensor noise: neighbouring pixels differ about as much as the
    patch's pixels spread (iid noise: 1.13×), where a symbol's modules span several pixels
    (the benchmark's QR patches: at most 0.35×). Enlarging and reading noise is the
    assist's most expensive miss."""
    values = pixels.astype(np.float32)
    spread = float(values.std())
    return spread > 0 and float(np.abs(np.diff(values, axis=1)).mean()) > 0.8 * spread


def _resized(pixels: np.ndarray, across: float, down: float) -> np.ndarray:
    height, width = pixels.shape
    image = Image.fromarray(np.ascontiguousarray(pixels))
    size = (round(across * width), round(down * height))
    return np.asarray(image.resize(size, Image.Resampling.BILINEAR))
