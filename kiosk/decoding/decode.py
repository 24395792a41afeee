"""Frames in, Diia codes out: the decoders.

`ZxingDecoder` (zxing-cpp) is the default, `PyzbarDecoder` (zbar) the option; both look for
QR, EAN-13 and Code 128 only, since every extra format costs time and invents phantom reads.
Whatever they read goes through `kiosk.decoding.codes.to_code`, so only Diia codes leave this
module.

zxing-cpp is 5–10× faster than zbar, but zbar reads more of the hard (tilted, blurred, glared)
EAN-13 frames, and small soft QRs need more pixels than a 640×480 frame gives them. So by
default `ZxingDecoder` has a `RegionAssist`: on a frame where zxing read no Diia code,
`kiosk.decoding.regions.RegionFinder` points at the patches with bars, which zbar scans, and
the small patches with blocks, which zxing reads again enlarged (2×, or 2.5× on frames up to
800 px wide). A 1D read is returned only when `kiosk.decoding.corroborate` confirms it with a
second reading of its patch (the other library, or another scale): a misread repeated on every
frame of a phone held still would otherwise pass any count of frames. bench/decode.py measures
the rates against pyzbar and zxing-cpp alone, bench/misreads.py the misreads (bench/README.md).

Exceptions::

    DecoderError
     └── DecoderUnavailable   the backend's library cannot be loaded
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from kiosk.config import DECODER_BACKENDS
from kiosk.decoding.assist import RegionAssist
from kiosk.decoding.codes import to_code
from kiosk.decoding.corroborate import Corroborator, symbol_patch
from kiosk.decoding.reads import FullDecoder, Read
from kiosk.decoding.stillness import ChangeGate
from kiosk.decoding.zbar import DecoderUnavailable, ZbarScanner
from kiosk.model import Code, CodeKind, Frame

logger = logging.getLogger(__name__)


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


def _timed(codes: list[Code], others: list[tuple[str, str]], start: float
           ) -> tuple[list[Code], list[tuple[str, str]]]:
    """A look's result with its decode time on each code, the other reads logged as hints."""
    for text, symbology in others:
        logger.debug("ignored a non-Diia %s read: %s", symbology, _hint(text))
    decode_ms = (time.perf_counter() - start) * 1000.0
    return [replace(code, decode_ms=decode_ms) for code in codes], others


class _TrustedAndOthers:
    """`decode` and `read_all` from a decoder's one `_read`: the Diia codes it trusts, and
    every other read as (text, symbology)."""

    def _read(self, frame: Frame) -> tuple[list[Code], list[tuple[str, str]]]:
        raise NotImplementedError

    def decode(self, frame: Frame) -> list[Code]:
        return self._read(frame)[0]

    def read_all(self, frame: Frame) -> list[Read]:
        codes, others = self._read(frame)
        return [Read(c.symbology, c.text, True) for c in codes] + [
            Read(symbology, text, False) for text, symbology in others
        ]


class ZxingDecoder(_TrustedAndOthers):
    """zxing-cpp on the grayscale frame: QR, EAN-13 and Code 128, with an optional assist.

    `try_invert` is off: Diia draws dark on light, and skipping the inverted pass saves 5–10 %.
    `try_downscale` is off: on 720p phone-screen frames the downscaled pass found no code the
    full-size pass missed, cost ~15 % more time, and was where misread EAN-13 twins came from.
    `rotate` (off by default) lets the first look scan down the columns for 1D symbols too: it
    costs a third to a half of zxing's own time, and without it a phone held sideways is still
    read by the assist's zbar, which turns sideways bars upright (bench/README.md).
    `assist` (normally `RegionAssist`) is asked only when zxing read no Diia code in a frame.
    `corroborate` (on by default) lets a 1D read through only when a second reading of the
    same patch, by zbar or at another scale, gives the same digits (`kiosk.decoding.corroborate`);
    its zbar scans every row of the patch (every third row misses soft Code 128s).
    """

    def __init__(self, assist: RegionAssist | None = None, corroborate: bool = True,
                 rotate: bool = False) -> None:
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
        self._1d_only: Any = [fmt.EAN13, fmt.Code128]
        self._symbology = {fmt.EAN13: "EAN-13", fmt.Code128: "Code128", fmt.QRCode: "QRCode"}
        self.assist = assist
        self.rotate = rotate
        self.corroborator: Corroborator | None = None
        if corroborate:
            self.corroborator = Corroborator(_zbar_or_none(), self.read_1d)

    def _read(self, frame: Frame) -> tuple[list[Code], list[tuple[str, str]]]:
        """The trusted Diia codes in the frame, and every read that is no Diia code."""
        start = time.perf_counter()
        pixels = frame.pixels
        results = self._zxing.read_barcodes(
            pixels, formats=self._formats, try_invert=False, try_downscale=False,
            try_rotate=self.rotate,
        )
        trusted, others = [], []
        for result in results:
            symbology = self._symbology.get(result.format)
            if symbology is None:
                continue
            code = to_code(result.text, symbology)
            if code is None:
                others.append((result.text, symbology))
            elif code.kind is CodeKind.QR or self._corroborated(pixels, result, code.text,
                                                                symbology):
                trusted.append((result.text, symbology))
        codes = _keep_diia(trusted, 0.0)
        # A frame where the first look read a symbol that is no Diia code gets no second look:
        # a Diia screen shows one symbol, and the next frame is decoded anyway.
        if not codes and not others and self.assist is not None:
            check = self.corroborator.zbar_read if self.corroborator is not None else None
            reads = self.assist.read(pixels, self.read_qr, check)
            codes = _keep_diia(reads, 0.0)
            others += [(text, sym) for text, sym in reads if to_code(text, sym) is None]
        others = list(dict.fromkeys(others))  # a symbol both looks read is one read
        return _timed(codes, others, start)

    def _corroborated(self, pixels: np.ndarray, result: object, text: str,
                      symbology: str) -> bool:
        if self.corroborator is None:
            return True
        corners = _corners(result)
        turn = result.orientation  # type: ignore[attr-defined]
        if self.corroborator.zxing_read(pixels, text, symbology, corners, turn):
            return True
        logger.debug("a zxing 1D read not confirmed by a second reading: %s", _hint(text))
        return False

    def read_qr(self, pixels: np.ndarray) -> list[tuple[str, str]]:
        """QR symbols alone in `pixels` (for the assist's enlarged patches)."""
        results = self._zxing.read_barcodes(
            pixels, formats=self._qr_only, try_invert=False, try_downscale=False,
        )
        return [(r.text, "QRCode") for r in results]

    def read_1d(self, pixels: np.ndarray) -> list[tuple[str, str]]:
        """EAN-13 and Code 128 symbols in `pixels` (to check zbar's reads)."""
        results = self._zxing.read_barcodes(
            np.ascontiguousarray(pixels), formats=self._1d_only, try_invert=False,
            try_downscale=False,
        )
        return [(r.text, self._symbology[r.format]) for r in results]


def _corners(result: Any) -> np.ndarray:
    """A zxing-cpp result's corners, 4×2 (x y), clockwise from its top left."""
    position = result.position
    return np.array(
        [(p.x, p.y) for p in (position.top_left, position.top_right,
                              position.bottom_right, position.bottom_left)],
        dtype=np.float32,
    )


def _zbar_or_none() -> ZbarScanner | None:
    try:
        return ZbarScanner(("EAN-13", "Code128"), row_step=1)
    except DecoderUnavailable as exc:
        logger.warning("no zbar to confirm 1D reads: %s", exc)
        return None


class PyzbarDecoder(_TrustedAndOthers):
    """zbar (through pyzbar) on the grayscale frame: QR, EAN-13 and Code 128.

    Slower than zxing-cpp, but better at reading tilted or blurred 1D symbols. With
    `corroborate` (the default) a 1D read counts only when zxing-cpp reads the same digits
    on the same patch (`kiosk.decoding.corroborate`). Raises `DecoderUnavailable` when pyzbar or the
    libzbar0 shared library is missing.
    """

    _SYMBOLOGY: ClassVar[dict[str, str]] = {
        "EAN13": "EAN-13",
        "CODE128": "Code128",
        "QRCODE": "QRCode",
    }

    def __init__(self, corroborate: bool = True) -> None:
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
        self._corroborator: Corroborator | None = None
        if corroborate:
            try:
                zxing = ZxingDecoder(corroborate=False)
            except DecoderUnavailable as exc:
                logger.warning("no zxing-cpp to confirm 1D reads: %s", exc)
            else:
                self._corroborator = Corroborator(_zbar_or_none(), zxing.read_1d)

    def _read(self, frame: Frame) -> tuple[list[Code], list[tuple[str, str]]]:
        pixels = np.ascontiguousarray(frame.pixels, dtype=np.uint8)
        height, width = pixels.shape
        start = time.perf_counter()
        results = self._pyzbar.decode((pixels.tobytes(), width, height), symbols=self._symbols)
        trusted, others = [], []
        for result in results:
            symbology = self._SYMBOLOGY.get(result.type)
            if symbology is None:
                continue
            text = result.data.decode("utf-8", errors="replace")
            code = to_code(text, symbology)
            if code is None:
                others.append((text, symbology))
            elif code.kind is CodeKind.QR or self._corroborated(pixels, result, code.text,
                                                                symbology):
                trusted.append((text, symbology))
        codes = _keep_diia(trusted, 0.0)
        return _timed(codes, others, start)

    def _corroborated(self, pixels: np.ndarray, result: object, text: str,
                      symbology: str) -> bool:
        if self._corroborator is None:
            return True  # the configured backend alone, as chosen
        left, top, width, height = result.rect  # type: ignore[attr-defined]
        corners = np.array(
            [(left, top), (left + width, top), (left + width, top + height),
             (left, top + height)], dtype=np.float32,
        )
        # zbar scans rows and columns: a symbol read only down the columns lies sideways.
        turn = 90 if result.orientation in ("LEFT", "RIGHT") else 0  # type: ignore[attr-defined]
        patch = symbol_patch(pixels, corners, turn)
        return self._corroborator.zbar_read(patch, text, symbology)


def make_decoder(
    backend: str, region_assist: bool = True, watch_changes: bool = True
) -> FullDecoder:
    """The decoder for a `[decode] backend` value: "zxing" or "pyzbar".

    "zxing" gets the `RegionAssist` when `region_assist` is on; without libzbar0 its bar
    patches are skipped, with a warning. Both confirm every 1D read with the other library.
    `watch_changes` wraps it in `kiosk.decoding.stillness.ChangeGate`, which leaves frames like the
    last decoded one undecoded (a camera's view; not for unrelated images).
    """
    decoder: FullDecoder
    if backend == "zxing":
        assist = None
        if region_assist:
            try:
                assist = RegionAssist()
            except DecoderUnavailable as exc:
                logger.warning("no zbar second look at hard 1D frames: %s", exc)
                assist = RegionAssist(bars=False)
        decoder = ZxingDecoder(assist)
    elif backend == "pyzbar":
        decoder = PyzbarDecoder()
    else:
        known = ", ".join(DECODER_BACKENDS)
        raise ValueError(f"unknown decoder backend {backend!r}; expected one of {known}")
    if watch_changes:
        return ChangeGate(decoder)
    return decoder


