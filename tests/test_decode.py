"""Decoders on real images from the renderer, and the 1D confirmation over frames."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from kiosk.decoding import code_images
from kiosk.decoding.assist import RegionAssist
from kiosk.decoding.confirm import Confirmation
from kiosk.decoding.corroborate import Corroborator
from kiosk.decoding.decode import PyzbarDecoder, ZxingDecoder, make_decoder
from kiosk.decoding.reads import Decoder, Read
from kiosk.decoding.regions import BLOCKS, SIDEWAYS, UPRIGHT, Region, RegionFinder
from kiosk.decoding.stillness import ChangeGate
from kiosk.decoding.zbar import DecoderUnavailable, ZbarScanner
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


@pytest.fixture(scope="module", params=["zxing", "zxing+zbar", "pyzbar"])
def decoder(request: pytest.FixtureRequest) -> Decoder:
    try:
        if request.param == "zxing+zbar":
            return ZxingDecoder(RegionAssist())
        return make_decoder(request.param, region_assist=False)
    except DecoderUnavailable as exc:
        pytest.skip(f"{request.param} cannot load here: {exc}")


@pytest.fixture(scope="module")
def assisted() -> ZxingDecoder:
    try:
        return ZxingDecoder(RegionAssist())
    except DecoderUnavailable as exc:
        pytest.skip(f"zbar cannot load here: {exc}")


@pytest.fixture(scope="module")
def screens() -> dict[str, Image.Image]:
    return {
        "EAN-13": code_images.render_ean13(DIGITS),
        "Code128": code_images.render_code128(DIGITS),
        "QRCode": code_images.render_qr(VERIFY_URL),
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
    codes = decoder.decode(frame_of(code_images.phone_photo(screens[symbology], **photo)))
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
    codes = decoder.decode(frame_of(code_images.phone_photo(both, scale=0.55)))
    assert sorted(c.kind for c in codes) == [CodeKind.BARCODE, CodeKind.QR]


# --- nothing else gets through ------------------------------------------------------------


def test_product_ean13_is_read_by_the_library_but_not_returned(decoder: Decoder) -> None:
    photo = code_images.phone_photo(code_images.product_ean13("012345678905"))
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
    photo = code_images.phone_photo(code_images.render_qr(url))
    assert [r.text for r in zxingcpp.read_barcodes(photo)] == [url]
    assert decoder.decode(frame_of(photo)) == []


def test_code128_with_a_wrong_check_digit_yields_nothing(decoder: Decoder) -> None:
    photo = code_images.phone_photo(code_images.render_code128("3559217693027"))
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
    caplog.set_level(logging.DEBUG, logger="kiosk.decoding.decode")
    assert decoder.decode(frame_of(code_images.phone_photo(code_images.render_qr(url)))) == []
    assert "QRCode" in caplog.text
    assert url not in caplog.text
    assert "example.com" not in caplog.text


# --- choosing a backend -------------------------------------------------------------------


def test_make_decoder_builds_the_named_backend() -> None:
    gate = make_decoder("zxing")
    assert isinstance(gate, ChangeGate) and isinstance(gate.decoder, ZxingDecoder)
    bare = make_decoder("zxing", region_assist=False, watch_changes=False)
    assert isinstance(bare, ZxingDecoder) and bare.assist is None
    assert bare.corroborator is not None
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


def test_without_zbar_the_default_decoder_runs_alone_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pyzbar", None)
    monkeypatch.setitem(sys.modules, "pyzbar.wrapper", None)
    caplog.set_level(logging.WARNING)
    decoder = make_decoder("zxing", watch_changes=False)
    assert isinstance(decoder, ZxingDecoder) and decoder.assist is not None
    assert decoder.assist.scanner is None  # the QR second look stays, the bars go
    assert "libzbar0" in caplog.text


# --- the second look: zbar on bars, zxing on enlarged blocks -------------------------------

# Hard frames (found by a seeded search) that zxing-cpp alone cannot read and zbar can.
HARD_EAN13 = [
    {"angle": 16.5, "squeeze": 0.15, "blur": 1.4, "glare": 0.27, "noise": 3.0, "seed": 1,
     "scale": 0.44},
    {"angle": -13.0, "squeeze": 0.22, "blur": 1.2, "glare": 0.15, "noise": 3.0, "seed": 3,
     "scale": 0.36},
]


@pytest.mark.parametrize("photo", HARD_EAN13)
def test_the_assist_reads_a_hard_ean13_frame_zxing_misses(
    assisted: ZxingDecoder, screens: dict[str, Image.Image], photo: dict[str, float]
) -> None:
    frame = frame_of(code_images.phone_photo(screens["EAN-13"], **photo))
    assert ZxingDecoder().decode(frame) == []
    codes = assisted.decode(frame)
    assert [(c.text, c.symbology) for c in codes] == [(DIGITS, "EAN-13")]
    assert codes[0].decode_ms > 0


SMALL_SOFT_QR = [
    {"size": (640, 480), "angle": 14.3, "squeeze": 0.01, "blur": 1.2, "noise": 3.0, "seed": 3,
     "scale": 0.22},
    {"size": (640, 480), "angle": -0.6, "squeeze": 0.18, "blur": 1.3, "noise": 3.0, "seed": 9,
     "scale": 0.24},
]


@pytest.mark.parametrize("photo", SMALL_SOFT_QR)
def test_the_assist_reads_a_small_soft_qr_enlarged(
    assisted: ZxingDecoder, screens: dict[str, Image.Image], photo: dict
) -> None:
    frame = frame_of(code_images.phone_photo(screens["QRCode"], **photo))
    assert ZxingDecoder().decode(frame) == []
    assert [c.text for c in assisted.decode(frame)] == [VERIFY_URL]


SMALL_FRAME_HARD = [
    ("Code128", {"scale": 0.4, "angle": -1.3, "squeeze": 0.22, "blur": 1.0, "glare": 0.45,
                 "noise": 3.3, "moire": 0.36, "seed": 8}),
    ("QRCode", {"scale": 0.3, "angle": -3.5, "squeeze": 0.16, "blur": 1.5, "glare": 0.55,
                "noise": 5.0, "moire": 0.39, "seed": 1}),
]


@pytest.mark.parametrize(("symbology", "photo"), SMALL_FRAME_HARD)
def test_on_small_frames_the_assist_stretches_bars_and_enlarges_blocks_more(
    assisted: ZxingDecoder, screens: dict[str, Image.Image], symbology: str, photo: dict
) -> None:
    frame = frame_of(code_images.phone_photo(screens[symbology], size=(640, 480), **photo))
    untuned = ZxingDecoder(RegionAssist(small_width=0))
    assert untuned.decode(frame) == []
    assert [c.text for c in assisted.decode(frame)] == [
        VERIFY_URL if symbology == "QRCode" else DIGITS
    ]


def test_the_assist_is_not_asked_when_zxing_read_a_code(screens: dict[str, Image.Image]) -> None:
    class Counting:
        calls = 0

        def read(
            self, pixels: np.ndarray, read_qr: object, check: object
        ) -> list[tuple[str, str]]:
            Counting.calls += 1
            return []

    decoder = ZxingDecoder(Counting())  # type: ignore[arg-type]
    assert decoder.decode(frame_of(code_images.phone_photo(screens["QRCode"]))) != []
    assert Counting.calls == 0
    assert decoder.decode(Frame(np.full((480, 640), 90, np.uint8), 0.0)) == []
    assert Counting.calls == 1
    # A product code read by the first look: no Diia code, and no second look either.
    product = frame_of(code_images.phone_photo(code_images.product_ean13("012345678905")))
    assert decoder.read_all(product) == [Read("EAN-13", "0123456789050", False)]
    assert Counting.calls == 1


def test_region_finder_boxes_the_bars_and_knows_their_direction(
    screens: dict[str, Image.Image],
) -> None:
    finder = RegionFinder()
    photo = np.asarray(code_images.phone_photo(screens["EAN-13"], scale=0.5, angle=5.0))
    regions = [r for r in finder.find(photo) if r.bars]
    assert regions and regions[0].kind == UPRIGHT
    bars = np.argwhere(photo < 60)  # the ink: bars (and a few digits)
    cy, cx = np.median(bars, axis=0)
    r = regions[0]
    assert r.x0 <= cx <= r.x1 and r.y0 <= cy <= r.y1
    assert (r.x1 - r.x0) > 2 * (r.y1 - r.y0) * 0.5  # wider than the symbol is tall, roughly
    sideways = [r for r in finder.find(np.ascontiguousarray(np.rot90(photo))) if r.bars]
    assert sideways and sideways[0].kind == SIDEWAYS
    crop = sideways[0].crop(np.ascontiguousarray(np.rot90(photo)))
    assert crop.shape[1] > crop.shape[0]  # turned back so the bars run down the crop


def test_region_finder_sees_a_qr_as_blocks(screens: dict[str, Image.Image]) -> None:
    photo = np.asarray(code_images.phone_photo(screens["QRCode"], size=(640, 480), scale=0.25))
    blocks = [r for r in RegionFinder().find(photo) if r.kind == BLOCKS]
    assert blocks
    for r in blocks:  # on the QR, mid-frame (a sharp QR may come in two pieces)
        assert 200 <= (r.x0 + r.x1) / 2 <= 440 and 100 <= (r.y0 + r.y1) / 2 <= 380


def test_region_finder_finds_nothing_in_flat_or_noisy_frames() -> None:
    finder = RegionFinder()
    assert finder.find(np.full((720, 1280), 120, np.uint8)) == []
    grainy = 120 + np.random.default_rng(3).normal(0, 8, (720, 1280))  # a dim, noisy sensor
    assert finder.find(np.clip(grainy, 0, 255).astype(np.uint8)) == []
    noise = np.random.default_rng(3).integers(0, 256, (720, 1280), dtype=np.uint8)
    assert [r for r in finder.find(noise) if r.bars] == []  # edges every way: no bars


@pytest.mark.parametrize("kind", ["flat", "noise", "qr", "blank phone"])
def test_region_finder_sees_no_bars_where_there_are_none(
    kind: str, screens: dict[str, Image.Image]
) -> None:
    pixels = {
        "flat": lambda: np.full((720, 1280), 120, np.uint8),
        "noise": lambda: np.random.default_rng(3).integers(0, 256, (720, 1280), dtype=np.uint8),
        "qr": lambda: np.asarray(code_images.phone_photo(screens["QRCode"])),
        "blank phone": lambda: np.asarray(
            code_images.phone_photo(Image.new("L", (1080, 1900), 220))),
    }[kind]()
    assert [r for r in RegionFinder().find(pixels) if r.bars] == []


def test_zbar_scanner_reads_only_the_symbologies_it_was_given(
    screens: dict[str, Image.Image],
) -> None:
    try:
        only_1d = ZbarScanner(("EAN-13", "Code128"))
    except DecoderUnavailable as exc:
        pytest.skip(f"zbar cannot load here: {exc}")
    ean = np.asarray(code_images.phone_photo(screens["EAN-13"], scale=0.5))
    assert only_1d.scan(ean) == [(DIGITS, "EAN-13")]
    assert only_1d.scan(np.asarray(code_images.phone_photo(screens["QRCode"]))) == []
    assert only_1d.scan(np.zeros((0, 0), np.uint8)) == []
    only_1d.close()


def test_a_frame_with_screen_moire_is_read(
    assisted: ZxingDecoder, screens: dict[str, Image.Image]
) -> None:
    photo = code_images.phone_photo(screens["EAN-13"], moire=0.4, blur=0.8, angle=3.0, scale=0.45)
    assert [c.text for c in assisted.decode(frame_of(photo))] == [DIGITS]


# --- never a false read through the confirmation ------------------------------------------


def _not_diia_scenes() -> list[Image.Image]:
    rng = np.random.default_rng(11)
    scenes: list[Image.Image] = []
    for i in range(3):
        digits = "".join(str(d) for d in rng.integers(0, 10, 11))
        scenes.append(code_images.product_ean13("0" + digits))
        scenes.append(code_images.render_qr(f"https://example.com/item/{i}"))
        scenes.append(code_images.render_code128(DIGITS[:12] + str((int(DIGITS[12]) + 1 + i) % 10)))
        period = 8 + 5 * i
        row = np.where((np.arange(1080) // period) % 2 == 0, 30, 220).astype(np.uint8)
        scenes.append(Image.fromarray(np.broadcast_to(row, (1300, 1080)).copy(), "L"))
        scenes.append(Image.new("L", (1080, 1900), int(rng.integers(150, 240))))
    return scenes


def test_no_false_read_reaches_the_checker_over_many_frames(assisted: ZxingDecoder) -> None:
    """Product barcodes, web QRs, a 13-digit Code 128 with a wrong check digit, stripes,
    blank phones, sensor noise: each held for three frames, at two sizes and several poses.
    Not one code may come out of the confirmation."""
    rng = np.random.default_rng(5)
    frames = 0
    for scene in _not_diia_scenes():
        for size, scale in (((640, 480), 0.3), ((1280, 720), 0.5)):
            confirm = Confirmation()
            for _ in range(3):
                photo = code_images.phone_photo(
                    scene, size=size, scale=scale * rng.uniform(0.8, 1.2),
                    angle=rng.uniform(-20, 20), blur=rng.uniform(0.3, 1.5),
                    glare=rng.uniform(0, 0.4), noise=rng.uniform(1, 5),
                    seed=int(rng.integers(1 << 30)),
                )
                assert confirm.feed(assisted.decode(frame_of(photo))) == []
                frames += 1
    confirm = Confirmation()
    for i in range(30):
        noise = np.random.default_rng(100 + i).integers(0, 256, (480, 640), dtype=np.uint8)
        assert confirm.feed(assisted.decode(Frame(noise, 0.0))) == []
        frames += 1
    assert frames == 120


# --- a 1D read goes out only when a second reading of its patch agrees ---------------------

# Hard frames (from bench/misreads.py's seeded search) where zbar's look at a bar patch reads
# other 13 digits with a valid check digit, the same on every identical frame.
MISREAD_BY_THE_SECOND_LOOK = [
    ("7370349891519", "6318342891519", {
        "size": (640, 480), "scale": 0.3875189252430155, "angle": 6.485148425961925,
        "squeeze": 0.3052955997533039, "blur": 1.3600409677023995, "noise": 3.194137929259758,
        "motion": 2.0159543134577906, "motion_angle": 96.64510975319757, "seed": 1286516461}),
    ("6832015604638", "7831017604638", {
        "size": (1280, 720), "scale": 0.4232744729746613, "angle": 2.930005436650112,
        "squeeze": 0.29123363537508357, "blur": 0.237360479454034, "glare": 0.3564639947390976,
        "noise": 4.099164876164144, "defocus": 1, "seed": 1998734421}),
]


@pytest.mark.parametrize(("shown", "misread", "photo"), MISREAD_BY_THE_SECOND_LOOK)
def test_a_repeated_misread_is_vetoed_by_the_second_reading(
    assisted: ZxingDecoder, shown: str, misread: str, photo: dict
) -> None:
    frame = frame_of(code_images.phone_photo(code_images.render_ean13(shown), **photo))
    unchecked = ZxingDecoder(RegionAssist(), corroborate=False)
    assert [c.text for c in unchecked.decode(frame)] == [misread]
    confirm = Confirmation()
    sent = [confirm.feed(assisted.decode(frame)) for _ in range(3)]  # held: identical frames
    assert sent == [[], [], []]
    assert misread not in [r.text for r in assisted.read_all(frame)]


def test_a_code128_zbar_cannot_read_is_confirmed_at_another_scale(
    screens: dict[str, Image.Image],
) -> None:
    frame = frame_of(code_images.phone_photo(screens["Code128"], **HARD))
    try:
        zbar = ZbarScanner(("EAN-13", "Code128"), row_step=1)
    except DecoderUnavailable as exc:
        pytest.skip(f"zbar cannot load here: {exc}")
    decoder = ZxingDecoder()
    raw = zxingcpp.read_barcodes(frame.pixels, formats=[zxingcpp.BarcodeFormat.Code128])
    assert [r.text for r in raw] == [DIGITS]
    assert decoder.decode(frame)[0].text == DIGITS
    assert zbar.scan(frame.pixels) == [(DIGITS, "Code128")]  # so far zbar agrees ...
    moire = {**HARD, "moire": 0.4, "angle": 3.0, "scale": 0.45}
    frame = frame_of(code_images.phone_photo(screens["EAN-13"], **moire))
    assert zbar.scan(frame.pixels) == []  # ... here zbar reads nothing, zxing at 1.5× agrees
    assert [c.text for c in decoder.decode(frame)] == [DIGITS]


def test_the_pyzbar_backend_confirms_its_1d_reads_with_zxing(
    screens: dict[str, Image.Image],
) -> None:
    try:
        decoder = PyzbarDecoder()
    except DecoderUnavailable as exc:
        pytest.skip(f"pyzbar cannot load here: {exc}")
    frame = frame_of(code_images.phone_photo(screens["EAN-13"], **HARD_EAN13[0]))
    assert [c.text for c in decoder.decode(frame)] == [DIGITS]
    assert [(r.format, r.text, r.diia) for r in decoder.read_all(frame)] == [
        ("EAN-13", DIGITS, True)
    ]


# Hard Code 128 frames (tuning seeds of bench/misreads.py's kind) that zxing-cpp reads right,
# where zbar on the patch and zxing-cpp at 1.5× and 0.7× read nothing: only the later second
# readings (zbar at 2×, zxing-cpp on the patch turned 3°) can confirm them.
CONFIRMED_LATE = [
    ("4865611867703", {
        "size": (640, 480), "seed": 576483709, "scale": 0.45101759443292505,
        "angle": 20.69506935601976, "squeeze": 0.10254708257591724, "blur": 1.0399440226424754,
        "glare": 0.0, "noise": 3.704859786049607, "moire": 0.26047122828858665,
        "moire_pitch": 2, "contrast": 0.7256607816697525}),
    ("6868320195486", {
        "size": (640, 480), "seed": 124682042, "scale": 0.3101781041790707,
        "angle": -16.37031729292599, "squeeze": 0.03779427281425644, "blur": 0.962755288001867,
        "glare": 0.3384583433855074, "noise": 4.813927381088218}),
]


@pytest.mark.parametrize(("shown", "photo"), CONFIRMED_LATE)
def test_a_code128_the_first_three_second_readings_miss_is_confirmed_by_a_later_one(
    shown: str, photo: dict
) -> None:
    frame = frame_of(code_images.phone_photo(code_images.render_code128(shown), **photo))
    raw = zxingcpp.read_barcodes(frame.pixels, formats=[zxingcpp.BarcodeFormat.Code128],
                                 try_invert=False, try_downscale=False)
    assert [r.text for r in raw] == [shown]
    try:
        zbar = ZbarScanner(("EAN-13", "Code128"), row_step=1)
    except DecoderUnavailable as exc:
        pytest.skip(f"zbar cannot load here: {exc}")
    zxing = ZxingDecoder(corroborate=False)
    zxing_calls: list[tuple[int, ...]] = []

    def zxing_1d(pixels: np.ndarray) -> list[tuple[str, str]]:
        zxing_calls.append(pixels.shape)
        return zxing.read_1d(pixels)

    position = raw[0].position
    corners = np.array([(p.x, p.y) for p in (position.top_left, position.top_right,
                                             position.bottom_right, position.bottom_left)],
                       dtype=np.float32)
    corroborator = Corroborator(zbar, zxing_1d)
    assert corroborator.zxing_read(frame.pixels, shown, "Code128", corners,
                                     raw[0].orientation)
    assert len(zxing_calls) >= 2  # 1.5× and 0.7× read nothing before the one that agreed
    assert [c.text for c in ZxingDecoder().decode(frame)] == [shown]


def test_other_digits_from_any_second_reading_veto() -> None:
    patch = np.full((60, 200), 200, np.uint8)
    silent: list[tuple[str, str]] = []
    others = [("4865611867703", "Code128")]
    seen: list[str] = []

    class Zbar:
        def scan(self, pixels: np.ndarray) -> list[tuple[str, str]]:
            seen.append("zbar")
            return silent

    def zxing_1d(pixels: np.ndarray) -> list[tuple[str, str]]:
        seen.append("zxing")
        return others if len(seen) >= 5 else silent  # the turned patch reads other digits

    corners = np.array([(20, 30), (180, 30), (180, 32), (20, 32)], dtype=np.float32)
    assert not Corroborator(Zbar(), zxing_1d).zxing_read(patch, DIGITS, "Code128", corners, 0)
    assert seen == ["zbar", "zxing", "zxing", "zbar", "zxing"]  # stopped at the first reading


def test_region_labels_join_diagonal_neighbours_and_count_every_cell() -> None:
    finder = RegionFinder(min_cells=1)
    diagonal = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], bool)
    assert [r.cells for r in finder._regions(diagonal, BLOCKS)] == [3]
    apart = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], bool)
    assert len(finder._regions(apart, BLOCKS)) == 4
    ring = np.ones((5, 5), bool)
    ring[1:4, 1:4] = False  # one region around a hole, its box the whole mask
    (region,) = finder._regions(ring, BLOCKS)
    cell = finder.step * finder.block
    assert (region.x0, region.y0, region.x1, region.y1, region.cells) == (0, 0, 5 * cell,
                                                                          5 * cell, 16)
    rng = np.random.default_rng(11)
    for _ in range(200):
        mask = rng.random(tuple(rng.integers(1, 25, 2))) < rng.uniform(0.05, 0.8)
        regions = finder._regions(mask, BLOCKS)
        assert sum(r.cells for r in regions) == np.count_nonzero(mask)
        for r in regions:  # a region's cells all lie in its box
            box = mask[r.y0 // cell : r.y1 // cell, r.x0 // cell : r.x1 // cell]
            assert np.count_nonzero(box) >= r.cells


def test_the_assist_skips_blocks_on_bars_and_lines_one_cell_thick(
    screens: dict[str, Image.Image],
) -> None:
    class Finder:
        step, block = 4, 4

        def find(self, pixels: np.ndarray) -> list[Region]:
            return [
                Region(100, 100, 400, 200, UPRIGHT, 60),  # a bar block
                Region(100, 300, 600, 316, UPRIGHT, 30),  # a line one cell thick
                Region(150, 180, 300, 240, BLOCKS, 20),  # the digits under the bars
                Region(100, 260, 600, 300, BLOCKS, 40),  # a row of text, long and thin
                Region(450, 40, 600, 190, BLOCKS, 50),  # a square patch apart: maybe a QR
            ]

    scanned: list[tuple[int, ...]] = []

    class Scanner:
        def scan(self, pixels: np.ndarray) -> list[tuple[str, str]]:
            scanned.append(pixels.shape)
            return []

    enlarged: list[tuple[int, ...]] = []

    def read_qr(pixels: np.ndarray) -> list[tuple[str, str]]:
        enlarged.append(pixels.shape)
        return []

    assist = RegionAssist(finder=Finder(), scanner=Scanner())  # type: ignore[arg-type]
    frame = np.asarray(code_images.phone_photo(screens["QRCode"], size=(1280, 720)))
    assert assist.read(frame, read_qr) == []
    assert len(scanned) == 1  # the bar block only
    assert len(enlarged) == 1 and enlarged[0][1] > 300  # the square patch, enlarged 2×


@pytest.mark.parametrize("shown", ["web QR", "product EAN-13"])
def test_the_assist_leaves_alone_a_symbol_the_first_look_read(shown: str) -> None:
    try:
        decoder = ZxingDecoder(RegionAssist())
    except DecoderUnavailable as exc:
        pytest.skip(f"zbar cannot load here: {exc}")
    assert decoder.assist is not None and decoder.assist.scanner is not None
    screen = (code_images.render_qr("https://example.com/menu/42") if shown == "web QR"
              else code_images.product_ean13("012345678905"))
    frame = frame_of(code_images.phone_photo(screen, size=(640, 480), scale=0.3))
    looked: list[str] = []
    read_qr, scan = decoder.read_qr, decoder.assist.scanner.scan
    decoder.read_qr = lambda pixels: looked.append("blocks") or read_qr(pixels)  # type: ignore[method-assign]
    decoder.assist.scanner.scan = lambda pixels: looked.append("bars") or scan(pixels)  # type: ignore[method-assign]
    assert decoder.decode(frame) == []
    assert [r.diia for r in decoder.read_all(frame)] == [False]  # read once, not a Diia code
    assert looked == []
