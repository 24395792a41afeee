"""The second look at a frame zxing-cpp read no Diia code in: zbar on the patches of bars,
zxing-cpp on the patches of blocks enlarged (bench/README.md measures it)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from kiosk.codes import to_code
from kiosk.regions import RegionFinder
from kiosk.zbar import ZbarScanner


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
        check: Callable[[np.ndarray, str], bool] | None = None,
    ) -> list[tuple[str, str]]:
        """The reads of the first patch that gave any; `check(patch, text)` must pass for a
        Diia 1D read of zbar's to count (the other library's agreement)."""
        small = pixels.shape[1] <= self.small_width
        for region in self.finder.find(pixels):
            if region.bars:
                if self.scanner is None:
                    continue
                patch = region.crop(pixels)
                reads = self.scanner.scan(_resized(patch, 1.5, 1.0) if small else patch)
                if check is not None:
                    reads = [
                        (text, sym) for text, sym in reads
                        if to_code(text, sym) is None or check(patch, text)
                    ]
            else:
                if max(region.x1 - region.x0, region.y1 - region.y0) > self.max_block_px:
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
