"""zbar through pyzbar's ctypes bindings, one scanner kept from frame to frame; and the errors
of a decoding library that cannot be loaded (zbar's or zxing-cpp's).

Exceptions::

    DecoderError
     └── DecoderUnavailable   the backend's library cannot be loaded
"""

from __future__ import annotations

import ctypes
from typing import ClassVar

import numpy as np


class DecoderError(Exception):
    """Base of the decoders' errors."""


class DecoderUnavailable(DecoderError):
    """The decoding library (or its shared library) is not installed."""


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
