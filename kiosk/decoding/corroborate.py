"""A second, independent reading of a 1D symbol before its digits may go to Diia.

Both libraries now and then misread a tilted, blurred or moiré-striped EAN-13 or Code 128 into
other digits with a valid check digit, and the same frame (or a phone held still) repeats the
same misread: counting frames cannot catch it. So a 1D read is trusted only when a second
reading of the same patch of the frame, by the other library or at a clearly different scale
(other pixel phases, other edge positions), gives the same digits:

- read by zxing-cpp: zbar on the symbol's patch (every row, bars running down it), else
  zxing-cpp on the patch enlarged 1.5×, else reduced to 0.7×, else zbar on the patch enlarged
  2×, else zxing-cpp on the patch turned 3° one way, else the other way (other scan lines);
- read by zbar (the second look's bar patches): zxing-cpp on the patch, else enlarged 1.5×,
  else zbar on every row of the patch stretched 1.25× across the bars.

The first second reading that reads any Diia digits decides: other digits veto. But two
readings of the same damaged bars can agree on the same wrong digits, so a read that is not
vetoed is confirmed only when the patch's pixels draw it: the module pattern of the digits
read, laid over scan lines across the bars' height, fits their edges with consistent module
widths between quiet zones, and every digit matches its modules better than any other digit
could (`kiosk.decoding.bars`). That evidence is also enough where no second reading read any
digits. A QR needs none: Reed-Solomon at error correction H and the
verify URL's shape (a UUID4 among fixed words) leave nothing a misread could hit.
bench/misreads.py measures it all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from PIL import Image

from kiosk.decoding.bars import drawn
from kiosk.diia.codes import is_diia_barcode

Reads = list[tuple[str, str]]  # (text, symbology)


class Scanner(Protocol):
    def scan(self, pixels: np.ndarray) -> Reads: ...


class Corroborator:
    """Says whether a 1D read is confirmed by a second reading of the same patch.

    `zbar` scans every row of a patch (a `kiosk.decoding.zbar.ZbarScanner`; None without libzbar0:
    then zxing-cpp's reads are checked at other scales only), `zxing_1d` reads EAN-13 and
    Code 128 in a patch with zxing-cpp. `structure` (on by default) also asks that the patch
    draws the digits (`kiosk.decoding.bars.drawn`); off only to measure what it adds.
    """

    def __init__(self, zbar: Scanner | None, zxing_1d: Callable[[np.ndarray], Reads],
                 structure: bool = True) -> None:
        self.zbar = zbar
        self.zxing_1d = zxing_1d
        self.structure = structure

    def zxing_read(self, pixels: np.ndarray, text: str, symbology: str, corners: np.ndarray,
                   turn: int) -> bool:
        """A zxing-cpp read of `text` in `symbology` whose scan lines ran through `corners`
        (4×2, x y), `turn` degrees off upright (0, 90, 180, 270)."""
        patch = symbol_patch(pixels, corners, turn)
        zbar = self.zbar
        seconds: list[Callable[[], Reads]] = []
        if zbar is not None:
            seconds.append(lambda: zbar.scan(patch))
        seconds.append(lambda: self.zxing_1d(_scaled(patch, 1.5, 1.5)))
        seconds.append(lambda: self.zxing_1d(_scaled(patch, 0.7, 0.7)))
        # Asked only when none of the above read any Diia digits (3–4 % of zxing's reads of
        # hard frames): these confirm about three in four of those (bench/README.md).
        if zbar is not None:
            seconds.append(lambda: zbar.scan(_scaled(patch, 2.0, 2.0)))
        seconds.append(lambda: self.zxing_1d(_turned(patch, 3.0)))
        seconds.append(lambda: self.zxing_1d(_turned(patch, -3.0)))
        return self._confirmed(seconds, patch, text, symbology)

    def zbar_read(self, patch: np.ndarray, text: str, symbology: str) -> bool:
        """A zbar read of `text` in `symbology` in `patch` (bars running down it)."""
        seconds: list[Callable[[], Reads]] = [
            lambda: self.zxing_1d(patch),
            lambda: self.zxing_1d(_scaled(patch, 1.5, 1.5)),
        ]
        if self.zbar is not None:
            zbar = self.zbar
            seconds.append(lambda: zbar.scan(_scaled(patch, 1.25, 1.0)))
        return self._confirmed(seconds, patch, text, symbology)

    def _confirmed(self, seconds: list[Callable[[], Reads]], patch: np.ndarray, text: str,
                   symbology: str) -> bool:
        agreed = _decide(seconds, text)
        if agreed is False:  # a second reading read other digits: a veto
            return False
        if not self.structure:
            return agreed is True
        # The bars drawing the digits is the evidence a repeated error cannot fake: it is
        # needed even when a second reading agreed, and enough when none read anything.
        return drawn(patch, text, symbology)


def _decide(seconds: list[Callable[[], Reads]], text: str) -> bool | None:
    """Whether the first second reading that reads any Diia digits reads `text` (None: none
    read any)."""
    for second in seconds:
        digits = {t for t, _ in second() if is_diia_barcode(t)}
        if digits:
            return digits == {text}
    return None


Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, half-open


def symbol_box(corners: np.ndarray, turn: int, shape: tuple[int, ...], linear: bool) -> Box:
    """The part of a frame a symbol found along `corners` covers, within a frame of `shape`.

    A QR's corners bound it. For a 1D symbol zxing-cpp reports the stretch of scan lines that
    read it: its length is the symbol's width, but its height may be a few rows. The box is
    then as tall as a third of the width either side of the middle (a Diia bar block is ~0.37×
    as tall as wide), widened by an eighth for the quiet zones and the tilt.
    """
    xs, ys = corners[:, 0], corners[:, 1]
    height, width = shape[0], shape[1]
    if not linear:
        return (max(0, int(xs.min())), max(0, int(ys.min())),
                min(width, int(xs.max()) + 1), min(height, int(ys.max()) + 1))
    length = float(max(xs.max() - xs.min(), ys.max() - ys.min()))
    cx, cy = float(xs.mean()), float(ys.mean())
    along = length * 0.625 + 8
    across = length * 0.3 + 8
    half_w, half_h = (across, along) if turn % 180 == 90 else (along, across)
    return (max(0, round(cx - half_w)), max(0, round(cy - half_h)),
            min(width, round(cx + half_w)), min(height, round(cy + half_h)))


def symbol_patch(pixels: np.ndarray, corners: np.ndarray, turn: int) -> np.ndarray:
    """The frame around a 1D symbol found along `corners` (`symbol_box`), turned so that its
    bars run down the patch."""
    x0, y0, x1, y1 = symbol_box(corners, turn, pixels.shape, linear=True)
    patch = pixels[y0:y1, x0:x1]
    return np.ascontiguousarray(patch.T if turn % 180 == 90 else patch)


def _scaled(pixels: np.ndarray, across: float, down: float) -> np.ndarray:
    height, width = pixels.shape
    size = (max(1, round(width * across)), max(1, round(height * down)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def _turned(pixels: np.ndarray, degrees: float) -> np.ndarray:
    """The patch turned a little, the corners filled with its median gray: its scan lines
    then cross the bars through other pixels."""
    image = Image.fromarray(pixels)
    fill = int(np.median(pixels)) if pixels.size else 0
    turned = image.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill)
    return np.asarray(turned)
