"""The real photographs in bench/photos (zxing-cpp's black-box photos, Apache-2.0): the set is
whole, and the default decoder reads them without a wrong Diia-shaped read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.decoding.decode import make_decoder
from kiosk.decoding.reads import FullDecoder
from kiosk.diia.codes import is_diia_barcode
from kiosk.model import Frame
from kiosk.sources.images import ImageFrames, is_image_name

PHOTOS = Path(__file__).resolve().parents[1] / "bench" / "photos"
COUNTS = {"qr": 44, "ean13": 35, "code128": 14}  # bench/README.md reports on these
SYMBOLOGY = {"qr": "QRCode", "ean13": "EAN-13", "code128": "Code128"}


def photo_paths() -> list[Path]:
    return sorted(p for folder in COUNTS for p in (PHOTOS / folder).iterdir() if is_image_name(p))


def expected(image: Path) -> str:
    return image.with_suffix(".txt").read_bytes().decode("utf-8")  # CR LF kept


def frame_of(image: Path) -> Frame:
    frame = ImageFrames.load(image)
    assert frame is not None, f"{image} does not open"
    return frame


@pytest.fixture(scope="module")
def default_decoder() -> FullDecoder:
    return make_decoder("zxing", watch_changes=False)


def test_every_photo_opens_as_grayscale_has_its_text_and_is_in_the_notice() -> None:
    paths = photo_paths()
    assert {f: sum(p.parent.name == f for p in paths) for f in COUNTS} == COUNTS
    for path in paths:
        pixels = frame_of(path).pixels
        assert pixels.ndim == 2 and pixels.dtype.name == "uint8" and min(pixels.shape) >= 40
        assert expected(path).strip(), path
    texts = sorted(p for folder in COUNTS for p in (PHOTOS / folder).glob("*.txt"))
    assert texts == sorted(p.with_suffix(".txt") for p in paths)  # no text without its photo
    notice = (PHOTOS / "NOTICE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)` \(\+ `\.txt`\) \| `test/samples/", notice, re.M))
    assert listed == {str(p.relative_to(PHOTOS)) for p in paths}
    assert "Apache License" in (PHOTOS / "LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize(("photo", "symbology", "text", "diia"), [
    ("qr/qrcode-4_15.webp", "QRCode", "http://code.google.com", False),
    # A valid 13-digit code: Diia-shaped, let out only when a second reading agrees.
    ("ean13/ean13-1_14.webp", "EAN-13", "3560070169443", True),
    ("code128/code128-2_10.webp", "Code128", "CNK8181G2C", False),
])
def test_the_default_decoder_reads_a_photo_of_each_symbology(
    default_decoder: FullDecoder, photo: str, symbology: str, text: str, diia: bool
) -> None:
    path = PHOTOS / photo
    assert expected(path) == text
    reads = default_decoder.read_all(frame_of(path))
    assert [(r.format, r.text, r.diia) for r in reads] == [(symbology, text, diia)]


def test_the_default_decoder_gives_no_wrong_13_digit_read_on_any_photo(
    default_decoder: FullDecoder,
) -> None:
    right = 0
    for path in photo_paths():
        truth = expected(path)
        for read in default_decoder.read_all(frame_of(path)):
            if is_diia_barcode(read.text):
                assert read.text == truth, path
                right += read.diia
    assert right >= 20  # the EAN-13 photos were read at all (25 of 35 when measured)
