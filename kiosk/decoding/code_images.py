"""Code images as the Diia app shows them, and camera-like photos of them.

Shared by the demo, the tests and the benchmarks; pure functions returning grayscale ("L")
PIL images, never written to disk here.

The bars are drawn from python-barcode's module pattern (`build()`) rather than with its
`ImageWriter`: a phone draws every module as a whole number of device pixels, with Diia's own
layout (caption above, bars of equal height, spaced digits below, no guard-bar extensions),
and drawing the pattern directly gives exactly that, with no mm/dpi rounding and no writer
options to keep in step. python-barcode still does the encoding (EAN-13 parity, Code 128 code
sets and checksum), which is the part worth not writing twice.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from kiosk.diia.codes import ean13_check_digit

SCREEN_WIDTH = 1080  # an Android phone's width in device pixels, like the 2022 screenshot
BARCODE_CAPTION = "ШТРИХКОД ДІЯТИМЕ 3 ХВ"
QR_CAPTION = "QR-КОД ДІЯТИМЕ 3 ХВ"

# Grayscale tones of the Diia screen: light blue app background, paler card, near-black ink.
_APP_BACKGROUND = 168
_CARD = 212
_INK = 16
_CAPTION_INK = 112
_BEZEL = 24  # the phone's body around the screen
_MAX_BARS_WIDTH = 820  # the screenshot's bars span 812 of 1080 px
_QR_WIDTH = 700
_BAR_HEIGHT = 300
_CARD_MARGIN = 40

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


def render_ean13(digits: str, *, caption: str = BARCODE_CAPTION) -> Image.Image:
    """The Android Diia screen for a 13-digit code drawn as EAN-13.

    Raises ValueError unless `digits` is 13 digits with a valid EAN-13 check digit: any other
    text cannot be drawn as an EAN-13 symbol (python-barcode would silently "fix" the digit).
    """
    _require_ean13(digits)
    pattern = module_pattern(digits, zxingcpp.BarcodeFormat.EAN13)
    return _diia_screen(_bars(pattern, _MAX_BARS_WIDTH, _BAR_HEIGHT), caption, digits)


def render_code128(digits: str, *, caption: str = BARCODE_CAPTION) -> Image.Image:
    """The iOS Diia screen: the same digits drawn as Code 128.

    Code 128 carries its own checksum, so any digits render, including a text with a wrong
    EAN-13 check digit: handy for showing the kiosk rejects it.
    """
    if not digits.isascii() or not digits.isdigit():
        raise ValueError("render_code128 draws digits only")
    pattern = module_pattern(digits, zxingcpp.BarcodeFormat.Code128)
    return _diia_screen(_bars(pattern, _MAX_BARS_WIDTH, _BAR_HEIGHT), caption, digits)


def render_qr(text: str, *, caption: str = QR_CAPTION) -> Image.Image:
    """The Diia screen with `text` (normally the verify URL) as a QR, error correction H."""
    qr = segno.make(text, error="h", micro=False, boost_error=False)
    matrix = np.array(list(qr.matrix_iter(scale=1, border=0)), dtype=bool)
    module = max(1, _QR_WIDTH // matrix.shape[1])
    # The card around the symbol is at least 4 modules wide: the quiet zone is the card.
    mask = np.kron(matrix, np.ones((module, module), dtype=bool))
    return _diia_screen(mask, caption, None)


def product_ean13(digits12: str) -> Image.Image:
    """A retail label: black on white, guard bars drawn long, digits in the 1-6-6 grouping.

    A valid EAN-13 whose first digit is 1-9 cannot be told apart from a Diia code (DIIA-API.md:
    the two can collide), so the product codes the kiosk rejects by its own rules are the
    UPC-A-compatible ones, first digit 0. Anything else raises ValueError.
    """
    if len(digits12) != 12 or not digits12.isascii() or not digits12.isdigit():
        raise ValueError("product_ean13 takes the first 12 digits; the check digit is computed")
    if digits12[0] != "0":
        raise ValueError(
            "a product EAN-13 starting with 1-9 is indistinguishable from a Diia code; "
            "use a UPC-A-compatible code (first digit 0)"
        )
    digits = digits12 + str(ean13_check_digit(digits12))
    pattern = module_pattern(digits, zxingcpp.BarcodeFormat.EAN13)
    module, bar_h, guard_extra, font = 6, 330, 30, _font(52)
    quiet_left, quiet_right, pad = 11 * module, 7 * module, 40
    width = pad * 2 + quiet_left + len(pattern) * module + quiet_right
    height = pad * 2 + bar_h + guard_extra + 30
    image = Image.new("L", (width, height), 255)
    left, top = pad + quiet_left, pad

    guards = {*range(0, 3), *range(45, 50), *range(92, 95)}
    row = np.array([c == "1" for c in pattern], dtype=bool)
    mask = np.zeros((bar_h + guard_extra, len(pattern) * module), dtype=bool)
    for i in np.flatnonzero(row):
        bottom = bar_h + guard_extra if i in guards else bar_h
        mask[:bottom, i * module : (i + 1) * module] = True
    _stamp(image, mask, (left, top), _INK)

    draw = ImageDraw.Draw(image)
    text_top = top + bar_h + 4
    _text_centred(draw, digits[0], left - 6 * module, text_top, font, _INK)
    for group, first_module in ((digits[1:7], 3), (digits[7:], 50)):
        for j, ch in enumerate(group):
            x = left + (first_module + 7 * j + 3.5) * module
            _text_centred(draw, ch, x, text_top, font, _INK)
    return image


def phone_photo(
    image: Image.Image,
    *,
    size: tuple[int, int] = (1280, 720),
    scale: float = 0.5,
    angle: float = 0.0,
    squeeze: float = 0.0,
    blur: float = 0.0,
    glare: float = 0.0,
    noise: float = 0.0,
    moire: float = 0.0,
    moire_pitch: int = 3,
    contrast: float = 1.0,
    motion: float = 0.0,
    motion_angle: float = 0.0,
    defocus: int = 0,
    seed: int = 0,
) -> Image.Image:
    """A camera frame of `image` shown on a phone held in front of the lens.

    The screen gets a dark phone body around it, is resized by `scale` (screen px → camera
    px), narrowed at the top by `squeeze` (0..0.9, the phone tipped back), turned by `angle`
    degrees counter-clockwise and centred on a gray scene of `size`. Then `glare` (0..1) washes
    out a blob of the screen, `blur` is a Gaussian sigma in camera px and `noise` the standard
    deviation of sensor noise in gray levels. `moire` (0..1) is the depth of the screen's
    pixel grid, which the camera samples without anti-aliasing: the grid beats against the
    sensor's own into the broad light and dark fringes seen on photos of screens;
    `moire_pitch` (2..6) is how many sub-pixels a screen pixel spans, which moves the fringes.
    `contrast` (0..1] pulls the phone's tones towards their mean (a dim screen, a bright room),
    `motion` is the length in camera px of a straight motion smear at `motion_angle` degrees,
    and `defocus` how many times a 5×5 disc (a defocused lens, unlike a Gaussian: it wipes
    out some bar widths entirely) is applied. Same arguments and `seed`, same frame.
    """
    if not 0.0 <= squeeze < 0.9:
        raise ValueError(f"squeeze must be in [0, 0.9), got {squeeze}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = np.random.default_rng(seed)

    screen = image.convert("L")
    screen = ImageOps.expand(screen, border=max(8, min(screen.size) // 30), fill=_BEZEL)
    phone_size = (max(1, round(screen.width * scale)), max(1, round(screen.height * scale)))
    if contrast < 1.0:
        screen = _low_contrast(screen, max(contrast, 0.05))
    if moire > 0:
        phone = _moire(screen, phone_size, min(moire, 1.0), rng, moire_pitch)
    else:
        phone = screen.resize(phone_size, Image.Resampling.LANCZOS)
    mask = Image.new("L", phone.size, 255)
    if squeeze:
        phone, mask = _squeeze(phone, squeeze), _squeeze(mask, squeeze)
    if angle:
        phone = phone.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
        mask = mask.rotate(angle, Image.Resampling.BILINEAR, expand=True, fillcolor=0)

    width, height = size
    # A softly lit scene behind the phone: a horizontal gradient, not a flat fill.
    scene = np.broadcast_to(np.linspace(80, 120, width, dtype=np.float32), (height, width))
    frame = Image.fromarray(scene.astype(np.uint8), "L")
    x0, y0 = (width - phone.width) // 2, (height - phone.height) // 2
    frame.paste(phone, (x0, y0), mask)
    pixels = np.asarray(frame, dtype=np.float32).copy()

    if glare > 0:
        # A reflection on the glass: pulls the pixels under a Gaussian blob towards white,
        # centred somewhere over the middle of the phone and only on the phone.
        cx = x0 + phone.width * rng.uniform(0.2, 0.8)
        cy = y0 + phone.height * rng.uniform(0.2, 0.8)
        sigma = 0.2 * min(phone.size)
        ys, xs = np.ogrid[:height, :width]
        blob = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma**2))
        on_phone = Image.new("L", size, 0)
        on_phone.paste(mask, (x0, y0))
        blob *= np.asarray(on_phone, dtype=np.float32) / 255.0
        pixels += (255.0 - pixels) * min(glare, 1.0) * blob
    if blur > 0:
        blurred = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
        pixels = np.asarray(blurred.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32)
    for _ in range(max(0, defocus)):
        defocused = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
        pixels = np.asarray(defocused.filter(_DISC), dtype=np.float32)
    if motion >= 1.0:
        pixels = _smear(pixels, motion, motion_angle)
    seen: np.ndarray = pixels
    if noise > 0:
        seen = pixels + rng.normal(0.0, noise, pixels.shape)
    return Image.fromarray(np.clip(np.rint(seen), 0, 255).astype(np.uint8), "L")


# A 5×5 disc: the point spread of a lens slightly out of focus.
_DISC = ImageFilter.Kernel(
    (5, 5),
    [0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0],
    scale=21,
)


def _low_contrast(screen: Image.Image, contrast: float) -> Image.Image:
    pixels = np.asarray(screen, dtype=np.float32)
    mean = float(pixels.mean())
    return Image.fromarray(np.clip(mean + (pixels - mean) * contrast, 0, 255).astype(np.uint8))


def _smear(pixels: np.ndarray, length: float, angle: float) -> np.ndarray:
    """A straight motion blur: the mean of the frame shifted along the motion, 1 px apart."""
    steps = max(2, round(length))
    dx, dy = np.cos(np.radians(angle)), -np.sin(np.radians(angle))
    out = np.zeros_like(pixels)
    for k in range(steps):
        t = k - (steps - 1) / 2
        out += np.roll(pixels, (round(t * dy), round(t * dx)), axis=(0, 1))
    return out / steps


def _moire(
    screen: Image.Image, size: tuple[int, int], depth: float, rng: np.random.Generator,
    sub: int = 3,
) -> Image.Image:
    """`screen` seen through its own pixel grid and resampled to `size` with aliasing.

    Each screen pixel becomes `sub`×`sub` sub-pixels whose last row and column are the dark gaps
    between pixels; a lens-and-sensor-like bilinear resample (no low-pass first) folds that
    fine grid into low-frequency fringes whose spacing depends on the scale, as on a camera.
    """
    sub = max(2, sub)
    pixels = np.asarray(screen, dtype=np.float32)
    cell = np.ones((sub, sub), dtype=np.float32)
    cell[-1, :] = cell[:, -1] = 1.0 - depth
    # A slight random stretch so that the fringes fall differently from photo to photo.
    stretch = 1.0 + rng.uniform(-0.03, 0.03)
    target = (max(1, round(size[0] * stretch)), max(1, round(size[1] * stretch)))
    # The sensor samples the fine grid at points (nearest neighbour: it aliases the grid);
    # only the sampled sub-pixels are computed, never the whole fine grid.
    fine_h, fine_w = pixels.shape[0] * sub, pixels.shape[1] * sub
    ys = np.minimum(((np.arange(target[1]) + 0.5) * fine_h / target[1]).astype(np.intp), fine_h - 1)
    xs = np.minimum(((np.arange(target[0]) + 0.5) * fine_w / target[0]).astype(np.intp), fine_w - 1)
    seen = pixels[np.ix_(ys // sub, xs // sub)] * cell[np.ix_(ys % sub, xs % sub)]
    sampled = Image.fromarray(np.clip(seen, 0, 255).astype(np.uint8), "L")
    return sampled.resize(size, Image.Resampling.BILINEAR)


def _require_ean13(digits: str) -> None:
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit():
        raise ValueError("an EAN-13 is 13 digits")
    if ean13_check_digit(digits[:12]) != int(digits[12]):
        raise ValueError("bad EAN-13 check digit: such a code cannot be drawn as EAN-13")


def _bars(pattern: str, max_width: int, height: int) -> np.ndarray:
    """A bar mask (True = ink) with the widest whole-pixel module that fits `max_width`."""
    module = max(1, max_width // len(pattern))
    row = np.repeat(np.array([c == "1" for c in pattern], dtype=bool), module)
    return np.broadcast_to(row, (height, row.size))


def _diia_screen(symbol: np.ndarray, caption: str, digits: str | None) -> Image.Image:
    """The Diia card: caption, the symbol centred on the card, the digits spaced out below."""
    caption_font, digits_font = _font(34), _font(46)
    sym_h, sym_w = symbol.shape
    card_top = 60
    caption_top = card_top + 90
    sym_top = caption_top + 40 + 50
    digits_top = sym_top + sym_h + 28
    card_bottom = digits_top + 50 + 140  # where the app shows its QR / barcode buttons
    height = card_bottom + 60

    image = Image.new("L", (SCREEN_WIDTH, height), _APP_BACKGROUND)
    draw = ImageDraw.Draw(image)
    card_box = (_CARD_MARGIN, card_top, SCREEN_WIDTH - _CARD_MARGIN, card_bottom)
    draw.rounded_rectangle(card_box, radius=28, fill=_CARD)

    sym_left = (SCREEN_WIDTH - sym_w) // 2
    if caption:
        draw.text((sym_left, caption_top), caption, font=caption_font, fill=_CAPTION_INK)
    _stamp(image, symbol, (sym_left, sym_top), _INK)
    if digits:
        # The app spreads the digits over the middle ~58 % of the bars' width.
        span = 0.58 * sym_w
        step = span / max(1, len(digits) - 1)
        first = SCREEN_WIDTH / 2 - span / 2
        for i, ch in enumerate(digits):
            _text_centred(draw, ch, first + i * step, digits_top, digits_font, _INK)
    return image


def _stamp(image: Image.Image, mask: np.ndarray, xy: tuple[int, int], ink: int) -> None:
    stencil = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    image.paste(ink, (*xy, xy[0] + stencil.width, xy[1] + stencil.height), stencil)


def _text_centred(
    draw: ImageDraw.ImageDraw, text: str, x: float, top: int, font: FontType, fill: int
) -> None:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    draw.text((round(x - (right - left) / 2), top), text, font=font, fill=fill)


def _squeeze(image: Image.Image, amount: float) -> Image.Image:
    """Narrows the top edge by `amount` of the width, a cheap stand-in for perspective."""
    w, h = image.size
    inset = amount * w / 2
    out_quad = [(inset, 0.0), (w - inset, 0.0), (float(w), float(h)), (0.0, float(h))]
    in_quad = [(0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))]
    coeffs = _perspective_coeffs(out_quad, in_quad)
    return image.transform(
        image.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=0
    )


def _perspective_coeffs(
    out_quad: list[tuple[float, float]], in_quad: list[tuple[float, float]]
) -> list[float]:
    # Pillow's PERSPECTIVE maps each output pixel back to the input:
    # u = (a x + b y + c) / (g x + h y + 1), v = (d x + e y + f) / (g x + h y + 1).
    rows, rhs = [], []
    for (x, y), (u, v) in zip(out_quad, in_quad, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return np.linalg.solve(np.array(rows), np.array(rhs)).tolist()


def module_pattern(text: str, symbology: zxingcpp.BarcodeFormat) -> str:
    """The symbol's bars and spaces as "1"/"0" modules, encoded by zxing-cpp's writer.

    zxing-cpp rather than python-barcode: python-barcode 0.16 encodes Code 128 digits that
    start with "99" wrongly (it emits 99 as a data codeword right after START C).
    """
    symbol = zxingcpp.create_barcode(text, symbology)
    row = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))[0]
    return "".join("1" if value < 128 else "0" for value in row)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> FontType:
    # The screen's own DejaVu Sans: it has the Cyrillic of the caption.
    path = Path(__file__).parent / "signals" / "fonts" / "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)
