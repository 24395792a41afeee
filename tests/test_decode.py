"""Decoders on real images from the renderer, and the 1D confirmation over frames."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from kiosk import render
from kiosk.decode import (
    Confirmation,
    Decoder,
    DecoderUnavailable,
    PyzbarDecoder,
    ZxingDecoder,
    make_decoder,
)
from kiosk.model import Code, CodeKind, Frame

DIGITS = "3559217693026"
VERIFY_URL = (
    "https://diia.app/documents/internal-passport/1234567890/verify/"
    "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)
SCREENSHOT = (
    Path(__file__).parents[2] / "shared" / "diia-samples" / "diia-app-ean13-screenshot-2022.jpg"
)
HARD = {"angle": 7.0, "squeeze": 0.12, "blur": 0.9, "glare": 0.35, "noise": 4.0, "seed": 5}


def frame_of(image: Image.Image) -> Frame:
    return Frame(np.asarray(image.convert("L")), 0.0)


@pytest.fixture(scope="module", params=["zxing", "pyzbar"])
def decoder(request: pytest.FixtureRequest) -> Decoder:
    try:
        return make_decoder(request.param)
    except DecoderUnavailable as exc:
        pytest.skip(f"{request.param} cannot load here: {exc}")


@pytest.fixture(scope="module")
def screens() -> dict[str, Image.Image]:
    return {
        "EAN-13": render.render_ean13(DIGITS),
        "Code128": render.render_code128(DIGITS),
        "QRCode": render.render_qr(VERIFY_URL),
    }


# --- reading Diia codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbology", "text", "kind"),
    [
        ("EAN-13", DIGITS, CodeKind.BARCODE),
        ("Code128", DIGITS, CodeKind.BARCODE),
        ("QRCode", VERIFY_URL, CodeKind.QR),
    ],
)
@pytest.mark.parametrize("photo", [{}, HARD], ids=["plain", "hard"])
def test_reads_each_diia_symbology_from_a_camera_frame(
    decoder: Decoder,
    screens: dict[str, Image.Image],
    symbology: str,
    text: str,
    kind: CodeKind,
    photo: dict[str, float],
) -> None:
    codes = decoder.decode(frame_of(render.phone_photo(screens[symbology], **photo)))
    assert [(c.text, c.kind, c.symbology) for c in codes] == [(text, kind, symbology)]
    assert 0.0 < codes[0].decode_ms < 5000.0


def test_reads_the_real_2022_diia_screenshot(decoder: Decoder) -> None:
    if not SCREENSHOT.is_file():
        pytest.skip(f"shared samples not present at {SCREENSHOT}")
    with Image.open(SCREENSHOT) as image:
        codes = decoder.decode(frame_of(image))
    assert [(c.text, c.symbology) for c in codes] == [(DIGITS, "EAN-13")]


def test_reads_a_qr_and_a_barcode_in_one_frame(
    decoder: Decoder, screens: dict[str, Image.Image]
) -> None:
    both = Image.new("L", (2160, 1202), 168)
    both.paste(screens["EAN-13"], (0, 0))
    both.paste(screens["QRCode"], (1080, 0))
    codes = decoder.decode(frame_of(render.phone_photo(both, scale=0.55)))
    assert sorted(c.kind for c in codes) == [CodeKind.BARCODE, CodeKind.QR]


# --- nothing else gets through ------------------------------------------------------------


def test_product_ean13_is_read_by_the_library_but_not_returned(decoder: Decoder) -> None:
    photo = render.phone_photo(render.product_ean13("012345678905"))
    raw = zxingcpp.read_barcodes(photo, formats=[zxingcpp.BarcodeFormat.EAN13])
    assert [r.text for r in raw] == ["0123456789050"]  # so the empty answer below means "rejected"
    assert decoder.decode(frame_of(photo)) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/menu",
        "https://diia.app/documents/internal-passport/1234567890/share/abc",
    ],
)
def test_non_diia_qr_yields_nothing(decoder: Decoder, url: str) -> None:
    photo = render.phone_photo(render.render_qr(url))
    assert [r.text for r in zxingcpp.read_barcodes(photo)] == [url]
    assert decoder.decode(frame_of(photo)) == []


def test_code128_with_a_wrong_check_digit_yields_nothing(decoder: Decoder) -> None:
    photo = render.phone_photo(render.render_code128("3559217693027"))
    assert decoder.decode(frame_of(photo)) == []


@pytest.mark.parametrize("fill", [0, 128, 255])
def test_flat_frames_yield_nothing(decoder: Decoder, fill: int) -> None:
    assert decoder.decode(Frame(np.full((720, 1280), fill, np.uint8), 0.0)) == []


def test_random_noise_yields_nothing(decoder: Decoder) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (720, 1280), dtype=np.uint8)
    assert decoder.decode(Frame(noise, 0.0)) == []


def test_ignored_reads_are_logged_without_their_full_text(
    decoder: Decoder, caplog: pytest.LogCaptureFixture
) -> None:
    url = "https://example.com/a-rather-long-path"
    caplog.set_level(logging.DEBUG, logger="kiosk.decode")
    assert decoder.decode(frame_of(render.phone_photo(render.render_qr(url)))) == []
    assert "QRCode" in caplog.text
    assert url not in caplog.text
    assert "example.com" not in caplog.text


# --- choosing a backend -------------------------------------------------------------------


def test_make_decoder_builds_the_named_backend() -> None:
    assert isinstance(make_decoder("zxing"), ZxingDecoder)
    with pytest.raises(ValueError, match="zxing"):
        make_decoder("opencv")


def test_pyzbar_without_its_library_raises_decoder_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes the import fail as on a system without libzbar.
    monkeypatch.setitem(sys.modules, "pyzbar", None)
    monkeypatch.setitem(sys.modules, "pyzbar.pyzbar", None)
    with pytest.raises(DecoderUnavailable, match="libzbar0"):
        PyzbarDecoder()
    with pytest.raises(DecoderUnavailable):
        make_decoder("pyzbar")


# --- confirmation over frames -------------------------------------------------------------


def bar(text: str = DIGITS, ms: float = 1.0) -> Code:
    return Code(text, CodeKind.BARCODE, "EAN-13", ms)


def qr(text: str = VERIFY_URL) -> Code:
    return Code(text, CodeKind.QR, "QRCode", 1.0)


def feed_all(confirm: Confirmation, frames: list[list[Code]]) -> list[list[str]]:
    return [[c.text for c in confirm.feed(codes)] for codes in frames]


def flat(per_frame: list[list[str]]) -> list[str]:
    return [text for texts in per_frame for text in texts]


def test_barcode_passes_on_its_second_read() -> None:
    assert feed_all(Confirmation(), [[bar()], [bar()]]) == [[], [DIGITS]]


def test_barcode_read_in_two_of_three_frames_passes() -> None:
    assert feed_all(Confirmation(), [[bar()], [], [bar()]]) == [[], [], [DIGITS]]


def test_barcode_reads_further_apart_than_the_window_do_not_pass() -> None:
    assert feed_all(Confirmation(), [[bar()], [], [], [bar()]]) == [[], [], [], []]


def test_a_misread_in_one_frame_never_passes() -> None:
    misread = "4006381333931"  # a valid check digit, read once amid the real code
    frames = [[bar()], [bar(misread)], [bar()], [bar()], [], [bar(misread)], [bar()]]
    out = feed_all(Confirmation(), frames)
    assert flat(out) == [DIGITS]
    assert out[2] == [DIGITS]


def test_qr_passes_at_once() -> None:
    assert feed_all(Confirmation(), [[qr()]]) == [[VERIFY_URL]]


def test_each_code_passes_once_while_held_in_view() -> None:
    confirm = Confirmation()
    out = feed_all(confirm, [[bar(), qr()] for _ in range(10)])
    assert flat(out) == [VERIFY_URL, DIGITS]


def test_a_short_gap_in_reads_does_not_confirm_again() -> None:
    frames = [[bar()], [bar()], [], [], [bar()], [bar()]]
    assert flat(feed_all(Confirmation(), frames)) == [DIGITS]


def test_a_code_shown_again_after_leaving_the_window_passes_again() -> None:
    frames = [[bar()], [bar()], [], [], [], [bar()], [bar()], [qr()], [], [], [], [qr()]]
    out = feed_all(Confirmation(), frames)
    assert out[1] == [DIGITS] and out[6] == [DIGITS]
    assert out[7] == [VERIFY_URL] and out[11] == [VERIFY_URL]
    assert flat(out) == [DIGITS, DIGITS, VERIFY_URL, VERIFY_URL]


def test_two_barcodes_are_confirmed_independently() -> None:
    other = "4006381333931"
    out = feed_all(Confirmation(), [[bar()], [bar(), bar(other)], [bar(other)]])
    assert out == [[], [DIGITS], [other]]


def test_the_confirming_frames_code_is_returned() -> None:
    confirm = Confirmation()
    confirm.feed([bar(ms=1.0)])
    assert confirm.feed([bar(ms=7.5)])[0].decode_ms == 7.5


def test_reset_forgets_earlier_frames() -> None:
    confirm = Confirmation()
    assert confirm.feed([bar()]) == []
    confirm.reset()
    assert confirm.feed([bar()]) == []
    assert [c.text for c in confirm.feed([bar()])] == [DIGITS]


def test_custom_window_and_needed() -> None:
    frames = [[bar()], [], [bar()], [], [bar()]]
    assert flat(feed_all(Confirmation(window=5, needed=3), frames)) == [DIGITS]
    assert feed_all(Confirmation(window=1, needed=1), [[bar()], [bar()]]) == [[DIGITS], []]


@pytest.mark.parametrize(("window", "needed"), [(3, 0), (3, 4), (0, 0)])
def test_impossible_settings_are_refused(window: int, needed: int) -> None:
    with pytest.raises(ValueError):
        Confirmation(window=window, needed=needed)
