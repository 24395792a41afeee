"""Frames in, Diia codes out: the decoders and the confirmation of 1D reads over frames.

`ZxingDecoder` (zxing-cpp) is the default, `PyzbarDecoder` (zbar) the option; both look for
QR, EAN-13 and Code 128 only, since every extra format costs time and invents phantom reads.
Whatever they read goes through `kiosk.codes.to_code`, so only Diia codes leave this module.

Exceptions::

    DecoderError
     └── DecoderUnavailable   the backend's library cannot be loaded
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import ClassVar, Protocol

import numpy as np

from kiosk.codes import to_code
from kiosk.model import Code, CodeKind, Frame

logger = logging.getLogger(__name__)

BACKENDS = ("zxing", "pyzbar")


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
    """zxing-cpp on the grayscale frame: QR, EAN-13 and Code 128.

    `try_invert` is off: Diia draws dark on light, and skipping the inverted pass saves 5–10 %.
    `try_downscale` is off: on 720p phone-screen frames the downscaled pass found no code the
    full-size pass missed, cost ~15 % more time, and was where misread EAN-13 twins came from.
    """

    def __init__(self) -> None:
        try:
            import zxingcpp
        except ImportError as exc:  # a platform without a wheel
            raise DecoderUnavailable(f"zxing-cpp cannot be loaded: {exc}") from exc
        fmt = zxingcpp.BarcodeFormat
        self._zxing = zxingcpp
        self._formats = [fmt.QRCode, fmt.EAN13, fmt.Code128]
        self._symbology = {fmt.EAN13: "EAN-13", fmt.Code128: "Code128", fmt.QRCode: "QRCode"}

    def decode(self, frame: Frame) -> list[Code]:
        start = time.perf_counter()
        results = self._zxing.read_barcodes(
            frame.pixels, formats=self._formats, try_invert=False, try_downscale=False
        )
        decode_ms = (time.perf_counter() - start) * 1000.0
        reads = [
            (r.text, self._symbology[r.format]) for r in results if r.format in self._symbology
        ]
        return _keep_diia(reads, decode_ms)


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


def make_decoder(backend: str) -> Decoder:
    """The decoder for a `[decode] backend` value: "zxing" or "pyzbar"."""
    if backend == "zxing":
        return ZxingDecoder()
    if backend == "pyzbar":
        return PyzbarDecoder()
    raise ValueError(f"unknown decoder backend {backend!r}; expected one of {', '.join(BACKENDS)}")


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
