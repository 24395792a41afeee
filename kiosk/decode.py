"""Frames in, Diia codes out: the decoders and the confirmation of 1D reads over frames.

`ZxingDecoder` (zxing-cpp) is the default, `PyzbarDecoder` (zbar) the option; both look for
QR, EAN-13 and Code 128 only, since every extra format costs time and invents phantom reads.
Whatever they read goes through `kiosk.codes.to_code`, so only Diia codes leave this module.

zxing-cpp is 5–10× faster than zbar, but zbar reads more of the hard (tilted, blurred, glared)
EAN-13 frames, and small soft QRs need more pixels than a 640×480 frame gives them. So by
default `ZxingDecoder` has a `RegionAssist`: on a frame where zxing read no Diia code,
`kiosk.regions.RegionFinder` points at the patches with bars, which zbar scans, and the small
patches with blocks, which zxing reads again enlarged (2×, or 2.5× on frames up to 800 px wide).
bench/decode.py measures the combination against pyzbar alone (bench/README.md).

Exceptions::

    DecoderError
     └── DecoderUnavailable   the backend's library cannot be loaded
"""

from __future__ import annotations

import ctypes
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, Protocol

import numpy as np
from PIL import Image

from kiosk.codes import to_code
from kiosk.config import DECODER_BACKENDS
from kiosk.model import Code, CodeKind, Frame
from kiosk.regions import RegionFinder

logger = logging.getLogger(__name__)



class DecoderError(Exception):
    """Base of the decoders' errors."""


class DecoderUnavailable(DecoderError):
    """The decoding library (or its shared library) is not installed."""


class Decoder(Protocol):
    def decode(self, frame: Frame) -> list[Code]:
        """The Diia codes visible in `frame` (empty when there are none)."""
        ...


def _hint(text: str) -> str:
    # Enough to tell a product code from a web link in a debug log, never the whole text:
    # a misread Diia code would otherwise leak most of a live credential.
    return f"{text[:4]!r}… ({len(text)} chars)"


def _keep_diia(reads: list[tuple[str, str]], decode_ms: float) -> list[Code]:
    codes: dict[str, Code] = {}  # by text: a symbol found twice (e.g. at two scales) is one code
    for text, symbology in reads:
        code = to_code(text, symbology, decode_ms)
        if code is None:
            logger.debug("ignored a non-Diia %s read: %s", symbology, _hint(text))
        else:
            codes.setdefault(code.text, code)
    barcodes = [code for code in codes.values() if code.kind is CodeKind.BARCODE]
    if len(barcodes) > 1:
        # The Diia app shows one barcode. Two different digit strings in one frame mean one
        # of them is a misread with a lucky check digit, and we cannot tell which.
        logger.debug("ignored %d conflicting 1D reads in one frame", len(barcodes))
        return [code for code in codes.values() if code.kind is not CodeKind.BARCODE]
    return list(codes.values())


class ZxingDecoder:
    """zxing-cpp on the grayscale frame: QR, EAN-13 and Code 128, with an optional assist.

    `try_invert` is off: Diia draws dark on light, and skipping the inverted pass saves 5–10 %.
    `try_downscale` is off: on 720p phone-screen frames the downscaled pass found no code the
    full-size pass missed, cost ~15 % more time, and was where misread EAN-13 twins came from.
    `assist` (normally `RegionAssist`) is asked only when zxing read no Diia code in a frame.
    """

    def __init__(self, assist: RegionAssist | None = None) -> None:
        try:
            import zxingcpp
        except ImportError as exc:  # a platform without a wheel
            raise DecoderUnavailable(f"zxing-cpp cannot be loaded: {exc}") from exc
        fmt = zxingcpp.BarcodeFormat
        self._zxing = zxingcpp
        # A list, as zxing-cpp 2.3 asks (its `|` is deprecated); its stubs still say
        # BarcodeFormats, hence Any.
        self._formats: Any = [fmt.QRCode, fmt.EAN13, fmt.Code128]
        self._qr_only: Any = [fmt.QRCode]
        self._symbology = {fmt.EAN13: "EAN-13", fmt.Code128: "Code128", fmt.QRCode: "QRCode"}
        self.assist = assist

    def decode(self, frame: Frame) -> list[Code]:
        start = time.perf_counter()
        results = self._zxing.read_barcodes(
            frame.pixels, formats=self._formats, try_invert=False, try_downscale=False
        )
        reads = [
            (r.text, self._symbology[r.format]) for r in results if r.format in self._symbology
        ]
        codes = _keep_diia(reads, 0.0)
        if not codes and self.assist is not None:
            codes = _keep_diia(self.assist.read(frame.pixels, self.read_qr), 0.0)
        decode_ms = (time.perf_counter() - start) * 1000.0
        return [replace(code, decode_ms=decode_ms) for code in codes]

    def read_qr(self, pixels: np.ndarray) -> list[tuple[str, str]]:
        """QR symbols alone in `pixels` (for the assist's enlarged patches)."""
        results = self._zxing.read_barcodes(
            pixels, formats=self._qr_only, try_invert=False,
            try_downscale=False,
        )
        return [(r.text, "QRCode") for r in results]


class ZbarScanner:
    """One zbar image scanner, kept from frame to frame, through pyzbar's ctypes bindings.

    `pyzbar.decode` makes a scanner per call and scans every row and every column; here the
    scan-line spacing is a setting: `row_step` scans every n-th row (0: none), `column_step`
    every n-th column. Raises `DecoderUnavailable` when pyzbar or libzbar0 is missing.
    """

    _SYMBOLS: ClassVar[dict[str, int]] = {"EAN-13": 13, "Code128": 128, "QRCode": 64}
    _Y800 = int.from_bytes(b"Y800", "little")  # 8-bit grayscale

    def __init__(
        self, symbologies: tuple[str, ...] = ("EAN-13", "Code128"), row_step: int = 2,
        column_step: int = 0,
    ) -> None:
        self._scanner = None  # so that __del__ of a half-made scanner has nothing to free
        try:
            from pyzbar import wrapper
        except (ImportError, OSError) as exc:
            raise DecoderUnavailable(
                f"zbar cannot be loaded ({exc}); install pyzbar and the libzbar0 package"
            ) from exc
        self._zbar = wrapper
        self._names = {self._SYMBOLS[name]: name for name in symbologies}
        self._scanner = wrapper.zbar_image_scanner_create()
        if not self._scanner:
            raise DecoderUnavailable("zbar could not create an image scanner")
        config = wrapper.ZBarConfig
        wrapper.zbar_image_scanner_set_config(self._scanner, 0, config.CFG_ENABLE, 0)
        for symbol in self._names:
            wrapper.zbar_image_scanner_set_config(self._scanner, symbol, config.CFG_ENABLE, 1)
        # zbar's "Y density" spaces the horizontal scan lines, its "X density" the vertical.
        wrapper.zbar_image_scanner_set_config(self._scanner, 0, config.CFG_Y_DENSITY, row_step)
        wrapper.zbar_image_scanner_set_config(self._scanner, 0, config.CFG_X_DENSITY, column_step)

    def scan(self, pixels: np.ndarray) -> list[tuple[str, str]]:
        """(text, symbology) for every symbol zbar reads in a 2-D uint8 array."""
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        height, width = pixels.shape
        if not height or not width:
            return []
        zbar = self._zbar
        image = zbar.zbar_image_create()
        try:
            zbar.zbar_image_set_format(image, self._Y800)
            zbar.zbar_image_set_size(image, width, height)
            data = pixels.ctypes.data_as(ctypes.c_void_p)
            zbar.zbar_image_set_data(image, data, pixels.size, None)
            if zbar.zbar_scan_image(self._scanner, image) < 0:
                raise DecoderError("zbar refused the image format")
            reads = []
            symbol = zbar.zbar_image_first_symbol(image)
            while symbol:
                raw = ctypes.string_at(
                    zbar.zbar_symbol_get_data(symbol), zbar.zbar_symbol_get_data_length(symbol)
                )
                name = self._names.get(symbol.contents.type)
                if name is not None:
                    reads.append((raw.decode("utf-8", errors="replace"), name))
                symbol = zbar.zbar_symbol_next(symbol)
            return reads
        finally:
            zbar.zbar_image_destroy(image)

    def close(self) -> None:
        if self._scanner:
            self._zbar.zbar_image_scanner_destroy(self._scanner)
            self._scanner = None

    def __del__(self) -> None:
        self.close()


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
        self, pixels: np.ndarray, read_qr: Callable[[np.ndarray], list[tuple[str, str]]]
    ) -> list[tuple[str, str]]:
        small = pixels.shape[1] <= self.small_width
        for region in self.finder.find(pixels):
            if region.bars:
                if self.scanner is None:
                    continue
                patch = region.crop(pixels)
                reads = self.scanner.scan(_resized(patch, 1.5, 1.0) if small else patch)
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


class PyzbarDecoder:
    """zbar (through pyzbar) on the grayscale frame: QR, EAN-13 and Code 128.

    Slower than zxing-cpp, but better at reading tilted or blurred 1D symbols.
    Raises `DecoderUnavailable` when pyzbar or the libzbar0 shared library is missing.
    """

    _SYMBOLOGY: ClassVar[dict[str, str]] = {
        "EAN13": "EAN-13",
        "CODE128": "Code128",
        "QRCODE": "QRCode",
    }

    def __init__(self) -> None:
        try:
            # Imported here, not at the top: libzbar is an optional system library.
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:
            raise DecoderUnavailable(
                f"pyzbar cannot be loaded ({exc}); install pyzbar and the libzbar0 package"
            ) from exc
        self._pyzbar = pyzbar
        symbol = pyzbar.ZBarSymbol
        self._symbols = [symbol.QRCODE, symbol.EAN13, symbol.CODE128]

    def decode(self, frame: Frame) -> list[Code]:
        pixels = np.ascontiguousarray(frame.pixels, dtype=np.uint8)
        height, width = pixels.shape
        start = time.perf_counter()
        results = self._pyzbar.decode((pixels.tobytes(), width, height), symbols=self._symbols)
        decode_ms = (time.perf_counter() - start) * 1000.0
        reads = [
            (r.data.decode("utf-8", errors="replace"), self._SYMBOLOGY[r.type])
            for r in results
            if r.type in self._SYMBOLOGY
        ]
        return _keep_diia(reads, decode_ms)


def make_decoder(backend: str, region_assist: bool = True) -> Decoder:
    """The decoder for a `[decode] backend` value: "zxing" or "pyzbar".

    "zxing" gets the `RegionAssist` when `region_assist` is on; without libzbar0 its bar
    patches are skipped, with a warning.
    """
    if backend == "zxing":
        assist = None
        if region_assist:
            try:
                assist = RegionAssist()
            except DecoderUnavailable as exc:
                logger.warning("no zbar second look at hard 1D frames: %s", exc)
                assist = RegionAssist(bars=False)
        return ZxingDecoder(assist)
    if backend == "pyzbar":
        return PyzbarDecoder()
    known = ", ".join(DECODER_BACKENDS)
    raise ValueError(f"unknown decoder backend {backend!r}; expected one of {known}")


class Confirmation:
    """Lets a code through once it is trustworthy, and once per appearance.

    Both libraries misread a 1D symbol now and then into another text with a valid check
    digit (about 1 in 150–300 reads), so a barcode text passes only when it was read in
    `needed` of the last `window` frames. A QR passes on its first read: error correction H
    makes a misread that still matches the verify URL negligible.

    A text is returned once, on the frame it is confirmed, and not again while it stays in
    the window; once it has been absent from `window` frames in a row it may be confirmed
    anew. Call `feed` exactly once per frame, with an empty list when nothing was read.
    """

    def __init__(self, window: int = 3, needed: int = 2) -> None:
        if not 1 <= needed <= window:
            raise ValueError(f"need 1 <= needed <= window, got needed={needed}, window={window}")
        self.window = window
        self.needed = needed
        self._history: deque[frozenset[str]] = deque(maxlen=window)
        self._passed: set[str] = set()

    def feed(self, codes: list[Code]) -> list[Code]:
        """The codes confirmed by this frame (most frames: none)."""
        seen: dict[str, Code] = {}
        for code in codes:
            seen.setdefault(code.text, code)
        self._history.append(frozenset(seen))

        confirmed: list[Code] = []
        for text, code in seen.items():
            if text in self._passed:
                continue
            needed = 1 if code.kind is CodeKind.QR else self.needed
            if sum(text in frame for frame in self._history) >= needed:
                self._passed.add(text)
                confirmed.append(code)

        # Forget texts that left the window entirely, so a code shown again passes again.
        in_window = frozenset().union(*self._history)
        self._passed &= in_window
        return confirmed

    def reset(self) -> None:
        """Forget every frame seen so far (e.g. when the source restarts)."""
        self._history.clear()
        self._passed.clear()
