"""Why the default decoder missed a symbol that pyzbar read: the step of its path that lost it.

`why_missed` walks the default's path on one frame with the decoder's own parts (the first
look, the region finder, the second look's zbar and zxing-cpp, the corroboration) and names
the first step that lost the symbol pyzbar read at `where`. Used by bench/independent.py and
bench/photos.py; it changes nothing in the decoder.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from kiosk.decoding.assist import _could_be_qr, _grainy, _resized
from kiosk.decoding.codes import to_code
from kiosk.decoding.decode import ZxingDecoder
from kiosk.decoding.regions import Region
from kiosk.decoding.zbar import ZbarScanner

Box = tuple[int, int, int, int]


def pyzbar_box(result: object) -> Box:
    left, top, width, height = result.rect  # type: ignore[attr-defined]
    return (left, top, left + width, top + height)


def _overlaps(region: Region, box: Box) -> bool:
    x0, y0, x1, y1 = box
    return region.x0 < x1 and x0 < region.x1 and region.y0 < y1 and y0 < region.y1


def why_missed(decoder: ZxingDecoder, pixels: np.ndarray, truth: str, symbology: str,
               where: Box) -> str:
    """The step of the default's path where the symbol at `where` was lost."""
    assist = decoder.assist
    first = decoder._zxing.read_barcodes(  # the first look, as `ZxingDecoder._read` calls it
        pixels, formats=decoder._formats, try_invert=False, try_downscale=False,
        try_rotate=decoder.rotate)
    texts = [r.text for r in first]
    if truth in texts:
        return "first look read it; no second reading confirmed it"
    for r in first:
        if to_code(r.text, decoder._symbology[r.format]) is not None:
            return f"first look read other Diia digits ({decoder._symbology[r.format]})"
    done = bool(first)  # what the first look read is no Diia code
    if done:
        return "first look read a symbol that is no Diia code: no second look"
    if assist is None:
        return "no second look"
    regions = assist.finder.find(pixels)
    if symbology == "QRCode":
        kind = [r for r in regions if not r.bars]
    else:
        kind = [r for r in regions if r.bars]
    on_symbol = [r for r in kind if _overlaps(r, where)]
    what = "blocks" if symbology == "QRCode" else "bars"
    if not kind:
        return f"no patch of {what} found"
    if not on_symbol:
        return f"patches of {what} found, none on the symbol"
    region = on_symbol[0]
    small = pixels.shape[1] <= assist.small_width
    if symbology != "QRCode":
        if assist._a_line(region):
            return "the patch of bars is one cell thick"
        patch = region.crop(pixels)
        scanner = assist.scanner
        assert scanner is not None
        reads = scanner.scan(_resized(patch, 1.5, 1.0) if small else patch)
        if truth in [t for t, _ in reads]:
            check = decoder.corroborator
            if check is not None and not check.zbar_read(patch, truth, symbology):
                return "zbar read it on its patch; no second reading confirmed it"
            return "read on its patch, but another patch came first"
        every_row = ZbarScanner(("EAN-13", "Code128"), row_step=1)
        if truth in [t for t, _ in every_row.scan(patch)]:
            return "zbar on every row of the patch reads it, every third row does not"
        wide = region.crop(pixels, margin=0.6)
        if truth in [t for t, _ in every_row.scan(wide)]:
            return "the patch cuts the symbol (a wider crop reads)"
        x0, y0, x1, y1 = where
        exact = pixels[max(0, y0 - 20) : y1 + 20, max(0, x0 - 40) : x1 + 40]
        if truth in [t for t, _ in every_row.scan(exact)]:
            return "the patch is not the symbol's box (pyzbar's box reads)"
        return "zbar reads the whole frame, not the patch"
    if max(region.x1 - region.x0, region.y1 - region.y0) > assist.max_block_px:
        return "the patch of blocks is too large to enlarge"
    if not _could_be_qr(region, [r for r in regions if r.bars]):
        return "the patch of blocks is not square, or lies on bars"
    if small:
        patch, zoom = region.crop(pixels, 0.1, min_margin=8), assist.small_zoom
    else:
        patch, zoom = region.crop(pixels, margin=0.15), 2.0
    if _grainy(patch):
        return "the patch of blocks looks like sensor noise"
    if truth in [t for t, _ in decoder.read_qr(_resized(patch, zoom, zoom))]:
        return "read on its patch, but another patch came first"
    return "the enlarged patch of blocks does not read"


def tally(reasons: Sequence[str]) -> list[tuple[str, int]]:
    return Counter(reasons).most_common()
