"""The bars must draw the digits read: a misread that two readings agree on is still refused."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp

from kiosk.decoding import code_images
from kiosk.decoding.bars import code128_pattern, drawn, ean13_pattern, why_not
from kiosk.decoding.corroborate import Corroborator, symbol_patch
from kiosk.decoding.decode import ZxingDecoder, _corners
from kiosk.model import Frame

# The misread that reached Diia: the screen showed the first, both readings said the second.
# Two left-half digits each moved by one module (5 in L → 7 in G, 3 in G → 4 in L), which
# changed the parity pattern and so the first digit (3 → 8); the check digit still held.
SHOWN, MISREAD = "3353617782461", "8374617782461"
HARD = {"angle": 7.0, "squeeze": 0.12, "blur": 0.9, "glare": 0.35, "noise": 4.0, "seed": 5}
PHOTOS = [{}, HARD, {"size": (640, 480), "angle": -12.0, "blur": 0.7, "noise": 3.0, "seed": 2},
          {"angle": 180.0, "blur": 0.6, "noise": 2.0, "seed": 3},
          {"angle": 3.0, "blur": 0.6, "moire": 0.3, "noise": 2.0, "seed": 3}]


def test_the_patterns_are_the_writer_s() -> None:
    for text in (SHOWN, MISREAD):
        symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.EAN13)
        row = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))[0]
        assert ean13_pattern(text)[0] == "".join("1" if v < 128 else "0" for v in row)
    modules, chars = code128_pattern(SHOWN)
    assert "".join(code for _, code, _ in chars) == modules
    # Every character but the stop can be told from 100 others.
    assert all(len(alternatives) > 100 for _, _, alternatives in chars[:-1])


def _patch(symbology: str, photo: dict) -> np.ndarray:
    draw = code_images.render_ean13 if symbology == "EAN-13" else code_images.render_code128
    pixels = np.asarray(code_images.phone_photo(draw(SHOWN), **photo))
    (read,) = zxingcpp.read_barcodes(pixels, formats=[zxingcpp.BarcodeFormat.EAN13,
                                                      zxingcpp.BarcodeFormat.Code128])
    assert read.text == SHOWN
    return symbol_patch(pixels, _corners(read), read.orientation)


@pytest.mark.parametrize("symbology", ["EAN-13", "Code128"])
@pytest.mark.parametrize("photo", PHOTOS)
def test_the_bars_draw_what_they_show_and_not_the_misread(symbology: str, photo: dict) -> None:
    patch = _patch(symbology, photo)
    assert why_not(patch, SHOWN, symbology) == ""
    assert not drawn(patch, MISREAD, symbology)


def test_a_misread_both_readings_agree_on_is_refused() -> None:
    """The corroboration's second reading repeats the misread (as on the frame that reached
    Diia); the pixels still say otherwise."""
    pixels = np.asarray(code_images.phone_photo(code_images.render_ean13(SHOWN), **HARD))
    (read,) = zxingcpp.read_barcodes(pixels, formats=[zxingcpp.BarcodeFormat.EAN13])

    class Repeats:  # a second library that makes the same mistake
        def scan(self, patch: np.ndarray) -> list[tuple[str, str]]:
            return [(MISREAD, "EAN-13")]

    zxing = ZxingDecoder(corroborate=False)
    agreeing = Corroborator(Repeats(), zxing.read_1d, structure=False)
    checked = Corroborator(Repeats(), zxing.read_1d)
    corners, turn = _corners(read), read.orientation
    assert agreeing.zxing_read(pixels, MISREAD, "EAN-13", corners, turn)  # what went wrong
    assert not checked.zxing_read(pixels, MISREAD, "EAN-13", corners, turn)
    assert not checked.zbar_read(symbol_patch(pixels, corners, turn), MISREAD, "EAN-13")


def test_no_quiet_zone_or_too_few_pixels_is_no_evidence() -> None:
    patch = _patch("EAN-13", {})
    width = patch.shape[1]
    middle = patch[:, width // 8 : width - width // 8]  # the bars without their quiet zones
    assert "lines" in why_not(middle, SHOWN, "EAN-13")
    assert why_not(patch[::6, ::6], SHOWN, "EAN-13") == "under half a pixel a module"
    blank = np.full((120, 400), 200, np.uint8)
    assert not drawn(blank, SHOWN, "EAN-13")


def test_the_default_decoder_still_reads_the_shown_code() -> None:
    pixels = np.asarray(code_images.phone_photo(code_images.render_ean13(SHOWN), **HARD))
    assert [c.text for c in ZxingDecoder().decode(Frame(pixels, 0.0))] == [SHOWN]
