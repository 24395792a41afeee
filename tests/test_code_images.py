"""The code-image renderer: symbols drawn right, photos made the same way every time."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from kiosk.decoding import code_images

DIGITS = "3559217693026"
VERIFY_URL = (
    "https://diia.app/documents/internal-passport/1234567890/verify/"
    "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)


def modules_along_row(image: Image.Image, pattern_len: int) -> str:
    """Samples the middle of each module on a row through the bars: '1' dark, '0' light."""
    pixels = np.asarray(image)
    dark_rows = np.flatnonzero((pixels < 60).sum(axis=1) > pattern_len // 3)
    row = pixels[dark_rows[len(dark_rows) // 2]]
    dark_cols = np.flatnonzero(row < 60)
    left, right = dark_cols[0], dark_cols[-1] + 1
    module = (right - left) / pattern_len
    centres = left + (np.arange(pattern_len) + 0.5) * module
    return "".join("1" if row[int(x)] < 60 else "0" for x in centres)


def test_ean13_bars_follow_the_module_pattern() -> None:
    image = code_images.render_ean13(DIGITS)
    pattern = code_images.module_pattern(DIGITS, zxingcpp.BarcodeFormat.EAN13)
    # EAN-13's fixed frame: 95 modules, guards 101 / 01010 / 101 at both ends and the middle.
    assert len(pattern) == 95
    assert (pattern[:3], pattern[45:50], pattern[-3:]) == ("101", "01010", "101")
    assert image.mode == "L" and image.width == code_images.SCREEN_WIDTH
    assert modules_along_row(image, len(pattern)) == pattern


@pytest.mark.parametrize("digits", [DIGITS, "9982644744735", "9909472219235"])
def test_code128_bars_encode_the_digits(digits: str) -> None:
    # "99..." is the case python-barcode gets wrong; the symbol must read back whole.
    image = code_images.render_code128(digits)
    pattern = code_images.module_pattern(digits, zxingcpp.BarcodeFormat.Code128)
    assert modules_along_row(image, len(pattern)) == pattern
    results = zxingcpp.read_barcodes(image, formats=[zxingcpp.BarcodeFormat.Code128])
    assert [r.text for r in results] == [digits]


@pytest.mark.parametrize(
    "digits", ["3559217693027", "355921769302", "35592176930260", "3559x17693026"]
)
def test_ean13_refuses_what_cannot_be_an_ean13(digits: str) -> None:
    with pytest.raises(ValueError):
        code_images.render_ean13(digits)


def test_code128_draws_any_digits_but_nothing_else() -> None:
    assert code_images.render_code128("3559217693027").mode == "L"  # bad EAN check digit: drawable
    with pytest.raises(ValueError):
        code_images.render_code128("https://diia.app")


def test_qr_holds_the_text_with_error_correction_h() -> None:
    results = zxingcpp.read_barcodes(code_images.render_qr(VERIFY_URL))
    assert [(r.text, r.format) for r in results] == [(VERIFY_URL, zxingcpp.BarcodeFormat.QRCode)]
    assert results[0].ec_level == "H"


def test_screens_are_light_with_dark_ink() -> None:
    for image in (code_images.render_ean13(DIGITS), code_images.render_qr(VERIFY_URL)):
        pixels = np.asarray(image)
        assert np.median(pixels) > 150  # a light screen ...
        assert pixels.min() < 40  # ... with near-black symbol


def test_product_code_starts_with_zero_and_carries_its_check_digit() -> None:
    image = code_images.product_ean13("012345678905")
    results = zxingcpp.read_barcodes(image, formats=[zxingcpp.BarcodeFormat.EAN13])
    assert [r.text for r in results] == ["0123456789050"]
    assert np.asarray(image)[0, 0] == 255  # a white label, not a Diia screen


@pytest.mark.parametrize("digits12", ["400638133393", "01234567890", "0123456789ab"])
def test_product_code_refuses_diia_lookalikes_and_bad_input(digits12: str) -> None:
    with pytest.raises(ValueError):
        code_images.product_ean13(digits12)


def test_phone_photo_has_the_camera_size_and_is_reproducible() -> None:
    screen = code_images.render_ean13(DIGITS)
    kwargs = {"angle": 10.0, "squeeze": 0.2, "blur": 1.0, "glare": 0.5, "noise": 6.0}
    first = code_images.phone_photo(screen, size=(640, 480), seed=3, **kwargs)
    again = code_images.phone_photo(screen, size=(640, 480), seed=3, **kwargs)
    other = code_images.phone_photo(screen, size=(640, 480), seed=4, **kwargs)
    assert (first.mode, first.size) == ("L", (640, 480))
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_phone_photo_scale_sets_the_phone_size() -> None:
    screen = Image.new("L", (400, 200), 255)

    def bright_width(scale: float) -> int:
        pixels = np.asarray(code_images.phone_photo(screen, scale=scale))
        return int((pixels[360] > 200).sum())

    assert bright_width(1.0) == 400
    assert bright_width(0.5) == 200


def test_squeeze_narrows_the_top_of_the_phone() -> None:
    white = Image.new("L", (400, 400), 255)
    pixels = np.asarray(code_images.phone_photo(white, scale=1.0, squeeze=0.3))
    rows = np.flatnonzero((pixels > 200).any(axis=1))
    top, bottom = pixels[rows[0] + 5], pixels[rows[-1] - 5]
    assert (top > 200).sum() < 0.8 * (bottom > 200).sum()


def test_angle_turns_the_phone() -> None:
    screen = Image.new("L", (600, 100), 255)
    flat = np.asarray(code_images.phone_photo(screen, scale=1.0))
    turned = np.asarray(code_images.phone_photo(screen, scale=1.0, angle=30.0))
    height = lambda px: np.ptp(np.flatnonzero((px > 200).any(axis=1)))  # noqa: E731
    assert height(turned) > 2 * height(flat)


def test_glare_brightens_and_blur_softens() -> None:
    screen = code_images.render_ean13(DIGITS)
    plain = np.asarray(code_images.phone_photo(screen), dtype=float)
    glared = np.asarray(code_images.phone_photo(screen, glare=0.8), dtype=float)
    blurred = np.asarray(code_images.phone_photo(screen, blur=2.0), dtype=float)
    assert glared.mean() > plain.mean() + 1.0
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.8 * np.abs(np.diff(plain, axis=1)).mean()


def test_renderer_never_touches_the_disk(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code_images.phone_photo(code_images.render_qr(VERIFY_URL), glare=0.3, noise=3.0)
    code_images.render_code128(DIGITS)
    assert list(tmp_path.iterdir()) == []
