"""A second, independent source of camera frames: phones held to a kiosk camera, modelled by
other rules than bench/frames.py, which the decoder was tuned against.

Nothing here comes from `kiosk.decoding.code_images` but the symbols' module patterns
(encoding is not what is being tested). Where bench/frames.py draws the Diia card once and
warps the picture, this module follows the light:

- **Screens**: four phone models (device pixels, rounded corners, notch or punch hole,
  RGB-stripe or diamond sub-pixels, module widths that may be fractional and anti-aliased),
  an app layout of its own (card, caption bar, bars 0.72-0.88 of the width, digits below).
- **Pose**: a 3-D rotation and distance projected through a pinhole camera (full
  perspective, not a squeeze), each camera pixel integrated over 2×2 points of its aperture
  against the screen's sub-pixel grid: the moiré is the camera's own sampling.
- **Motion**: a hand's tremor and drift between frames, rolling-shutter skew from the motion
  during the sensor's readout, and the smear during the exposure.
- **Surface**: reflections of ceiling lights (soft bright bands that move with the phone),
  a thumb over part of the screen, a cracked screen protector.
- **Pipeline**: shot and read noise, the ISP's denoise and sharpening (halos), limited-range
  Y (16-235) and JPEG compression of the luma at quality 50-92 (8×8 blocks).

A *presentation* is a phone entering the view, held 0.5-2 s, leaving, at 15 fps
(`presentation`); a *still* is one frame of a held phone (`still`). Things that are not Diia
codes: a product EAN-13 on a box, a web QR on a flyer, a phone showing no code, the counter.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field

import numpy as np
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from kiosk.diia.codes import ean13_check_digit

FPS = 15
SIZES = ((640, 480), (1280, 720))
SYMBOLOGIES = ("EAN-13", "Code128", "QRCode")
OTHER_KINDS = ("product", "web-qr", "blank-phone", "counter")


@dataclass(frozen=True)
class Phone:
    name: str
    width: int  # device px
    height: int
    mm_per_px: float  # physical pixel pitch
    corner: int  # corner radius, device px
    cutout: str  # "notch", "punch", "none"
    subpixels: str  # "stripe" (RGB columns) or "diamond" (a 2×2 pattern)
    family: str  # "android" draws EAN-13, "ios" Code 128


PHONES = (
    Phone("android-fhd", 1080, 2400, 0.0635, 96, "punch", "diamond", "android"),
    Phone("android-hd", 720, 1600, 0.0940, 60, "punch", "stripe", "android"),
    Phone("iphone-notch", 1170, 2532, 0.0605, 150, "notch", "diamond", "ios"),
    Phone("iphone-home", 750, 1334, 0.0780, 0, "none", "stripe", "ios"),
)


@dataclass
class Frame:
    pixels: np.ndarray
    truth: str | None  # the Diia code shown, or None
    kind: str  # a symbology or an OTHER_KINDS entry
    time_s: float = 0.0  # from the start of the presentation
    held: bool = False  # the phone is at rest in view (not entering or leaving)


@dataclass
class Presentation:
    frames: list[Frame]
    truth: str | None
    kind: str
    size: tuple[int, int]
    hold_start_s: float  # when the phone came to rest
    hold_end_s: float
    conditions: dict = field(default_factory=dict)


# --- what the phone shows ---------------------------------------------------------------------


def diia_digits(rng: np.random.Generator) -> str:
    first12 = "".join(str(d) for d in [rng.integers(1, 10), *rng.integers(0, 10, 11)])
    return first12 + str(ean13_check_digit(first12))


def diia_url(rng: np.random.Generator) -> str:
    kinds = ("internal-passport", "foreign-passport", "driver-license", "taxpayer-card")
    uid = uuid.UUID(bytes=rng.bytes(16), version=4)
    return (f"https://diia.app/documents/{kinds[rng.integers(len(kinds))]}/"
            f"{rng.integers(10**8, 10**10)}/verify/{uid}")


def _modules(text: str, fmt: zxingcpp.BarcodeFormat) -> np.ndarray:
    symbol = zxingcpp.create_barcode(text, fmt)
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False))[0] < 128


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def _bar_strip(modules: np.ndarray, width_px: float, height: int, rng: np.random.Generator
               ) -> np.ndarray:
    """Ink coverage (0..1) of a 1D symbol `width_px` wide: whole-pixel modules, or fractional
    ones anti-aliased by area (an app scaling its bitmap to fit)."""
    n = modules.size
    if rng.random() < 0.5:
        module = max(1, int(width_px // n))
        row = np.repeat(modules.astype(np.float32), module)
    else:
        module = width_px / n
        edges = np.arange(int(np.ceil(width_px)) + 1, dtype=np.float64)
        # Coverage of each pixel [x, x+1) by the modules: integrate the step function.
        cum = np.concatenate([[0.0], np.cumsum(modules.astype(np.float64))])
        pos = np.clip(edges / module, 0, n)
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        value = cum[np.minimum(lo, n)] + np.where(lo < n, frac * modules[np.minimum(lo, n - 1)], 0)
        row = (np.diff(value) / np.diff(pos).clip(1e-9) ).astype(np.float32)
        row = np.nan_to_num(row)
    return np.broadcast_to(row, (height, row.size))


def screen_image(kind: str, phone: Phone, text: str, rng: np.random.Generator
                 ) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The phone's screen in device pixels as luminance 0..1 (the app's card with the symbol,
    or another app's content for the kinds that are no Diia code), and the symbol's box
    (u0, v0, u1, v1)."""
    w, h = phone.width, phone.height
    bg = rng.uniform(0.78, 0.92)
    image = Image.new("F", (w, h), bg)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, w, int(0.09 * h)), fill=bg * 0.9)  # status and title bar
    card_top = int(h * rng.uniform(0.16, 0.24))
    margin = int(w * rng.uniform(0.03, 0.06))
    card_bottom = int(h * rng.uniform(0.66, 0.78))
    card = rng.uniform(0.95, 1.0)
    draw.rounded_rectangle((margin, card_top, w - margin, card_bottom), radius=int(w * 0.04),
                           fill=card)
    draw.text((2 * margin, card_top + int(0.03 * h)), "Код діятиме 3 хв", fill=0.35,
              font=_font(int(w * 0.045)))
    ink = rng.uniform(0.0, 0.08)
    pixels = np.asarray(image, dtype=np.float32).copy()
    if kind in ("EAN-13", "Code128"):
        fmt = zxingcpp.BarcodeFormat.EAN13 if kind == "EAN-13" else zxingcpp.BarcodeFormat.Code128
        modules = _modules(text, fmt)
        width = w * rng.uniform(0.72, 0.88)
        strip = _bar_strip(modules, width, int(width * rng.uniform(0.25, 0.4)), rng)
        top = card_top + int(0.1 * h)
        left = (w - strip.shape[1]) // 2
        region = pixels[top : top + strip.shape[0], left : left + strip.shape[1]]
        region[:] = region * (1 - strip) + ink * strip
        box = (left, top, left + strip.shape[1], top + strip.shape[0])
        digits = Image.new("F", (w, int(0.05 * h)), 0.0)
        ImageDraw.Draw(digits).text((w // 2, 0), "  ".join(text), fill=1.0, anchor="ma",
                                     font=_font(int(w * 0.04)))
        d = np.asarray(digits)
        rows = slice(top + strip.shape[0] + int(0.02 * h),
                     top + strip.shape[0] + int(0.02 * h) + d.shape[0])
        pixels[rows] = pixels[rows] * (1 - d) + ink * d
    elif kind == "QRCode":
        qr = segno.make(text, error="h", micro=False, boost_error=False)
        matrix = np.array(list(qr.matrix_iter(scale=1, border=0)), dtype=np.float32)
        module = max(2, int(w * rng.uniform(0.55, 0.75) / matrix.shape[0]))
        mask = np.kron(matrix, np.ones((module, module), dtype=np.float32))
        top = card_top + int(0.09 * h)
        left = (w - mask.shape[1]) // 2
        region = pixels[top : top + mask.shape[0], left : left + mask.shape[1]]
        region[:] = region * (1 - mask) + ink * mask
        box = (left, top, left + mask.shape[1], top + mask.shape[0])
    else:  # blank-phone: a document card with text and no code
        page = Image.fromarray(pixels)
        d = ImageDraw.Draw(page)
        for line in range(12):
            d.text((2 * margin, card_top + int(0.1 * h) + line * int(0.03 * h)),
                   "ПАСПОРТ ГРОМАДЯНИНА " + str(rng.integers(10**5)), fill=0.2,
                   font=_font(int(w * 0.035)))
        pixels = np.asarray(page, dtype=np.float32).copy()
        box = (2 * margin, card_top, w - 2 * margin, card_top + int(0.4 * h))
    return pixels, box


def _outline(phone: Phone) -> np.ndarray:
    """Which device pixels emit: the rounded corners and the notch or punch hole are dark."""
    w, h = phone.width, phone.height
    mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(mask)
    d.rounded_rectangle((0, 0, w - 1, h - 1), radius=phone.corner, fill=255)
    if phone.cutout == "notch":
        d.rounded_rectangle((int(0.28 * w), -40, int(0.72 * w), int(0.035 * h)), radius=40,
                            fill=0)
    elif phone.cutout == "punch":
        r = int(0.025 * w)
        d.ellipse((w // 2 - r, int(0.02 * h) - r, w // 2 + r, int(0.02 * h) + r), fill=0)
    return np.asarray(mask, dtype=np.float32) / 255.0


def _subpixel_gain(phone: Phone, fu: np.ndarray, fv: np.ndarray, iu: np.ndarray,
                   iv: np.ndarray) -> np.ndarray:
    """Light emitted at a point within a device pixel (fractional position fu, fv), relative
    to the pixel's mean: lit sub-pixels, dark gaps between them."""
    if phone.subpixels == "flat":  # paper: no sub-pixels
        return np.ones_like(fu)
    if phone.subpixels == "stripe":
        # R, G, B columns, each ~0.28 of the pixel wide; luma weights 0.3, 0.59, 0.11.
        col = np.minimum((fu * 3).astype(np.int8), 2)
        inside = (np.abs((fu * 3) % 1 - 0.5) < 0.42) & (np.abs(fv - 0.5) < 0.45)
        weight = np.array([0.3, 0.59, 0.11], dtype=np.float32)[col]
        return inside * weight * 3 / (0.84 * 0.9)
    # Diamond: a green dot in every pixel, red and blue alternating on a checkerboard.
    green = ((fu - 0.5) ** 2 + (fv - 0.25) ** 2) < 0.05
    other = ((fu - 0.5) ** 2 + (fv - 0.75) ** 2) < 0.09
    red = ((iu + iv) % 2) == 0
    gain = green * 0.59 / 0.157 + other * np.where(red, 0.3, 0.11) / 0.283
    return gain.astype(np.float32) / 0.795  # the mean over a pixel pair: 1


# --- the camera ---------------------------------------------------------------------------------


@dataclass
class Pose:
    roll: float  # degrees, in the screen's plane
    pitch: float  # tipped back
    yaw: float
    distance_mm: float
    x: float  # the anchor's offset from the optical axis, mm
    y: float
    anchor: tuple[float, float] = (0.0, 0.0)  # a point on the screen (device px from centre)


def _rotation(p: Pose) -> np.ndarray:
    r, a, b = np.radians([p.roll, p.pitch, p.yaw])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return ry @ rx @ rz


def _homography(phone: Phone, pose: Pose, focal: float, size: tuple[int, int]) -> np.ndarray:
    """Screen device px (u, v, 1) → camera px (homogeneous)."""
    s = phone.mm_per_px
    rot = _rotation(pose)
    # Point on the screen: (u - w/2)·s, (v - h/2)·s, 0 in the phone's frame.
    m = np.column_stack([rot[:, 0] * s, rot[:, 1] * s,
                         rot @ np.array([-(phone.width / 2 + pose.anchor[0]) * s,
                                         -(phone.height / 2 + pose.anchor[1]) * s, 0])
                         + np.array([pose.x, pose.y, pose.distance_mm])])
    k = np.array([[focal, 0, size[0] / 2], [0, focal, size[1] / 2], [0, 0, 1]])
    return k @ m


@dataclass
class Look:
    """Everything about one presentation that is not the pose: lights, hand, camera, ISP."""

    size: tuple[int, int]
    focal: float
    exposure: float  # screen white → sensor level (0..1 of full scale)
    ambient: float  # light reflected by the glass everywhere on the screen
    lights: list[tuple[float, float, float, float]]  # band: angle, offset, width, strength
    thumb: tuple[float, float, float, float] | None  # centre u, v (0..1), radius, side
    cracks: list[np.ndarray]  # polylines in device px
    focus_mm: float  # 0: autofocus (in focus at whatever distance, within 10 %)
    blur_floor: float
    shot: float
    read: float
    sharpen: float
    jpeg: int  # 0: none
    limited_range: bool
    readout_s: float  # rolling shutter: time from the first row to the last
    exposure_s: float
    background: np.ndarray


def make_look(size: tuple[int, int], phone: Phone, rng: np.random.Generator) -> Look:
    w, h = size
    fov = np.radians(rng.uniform(55, 75))  # horizontal field of view
    focal = w / 2 / np.tan(fov / 2)
    lights = [(rng.uniform(0, 180), rng.uniform(-0.5, 0.5), rng.uniform(0.03, 0.12),
               rng.uniform(0.15, 0.8)) for _ in range(int(rng.integers(0, 3)))]
    thumb = None
    if rng.random() < 0.35:
        thumb = (rng.uniform(0.0, 1.0), rng.uniform(0.55, 0.95), rng.uniform(0.07, 0.14),
                 rng.uniform(0.45, 0.7))
    cracks = []
    if rng.random() < 0.25:
        origin = np.array([rng.uniform(0, phone.width), rng.uniform(0, phone.height)])
        for _ in range(int(rng.integers(2, 6))):
            heading = rng.uniform(0, 2 * np.pi)
            points = [origin]
            for _ in range(int(rng.integers(3, 8))):
                heading += rng.normal(0, 0.35)
                step = rng.uniform(60, 260)
                points.append(points[-1] + step * np.array([np.cos(heading), np.sin(heading)]))
            cracks.append(np.array(points))
    # The counter and whatever is behind: smooth blobs of light and shade.
    coarse = rng.uniform(0.15, 0.55, (6, 8)).astype(np.float32)
    background = np.asarray(Image.fromarray(coarse).resize((w, h), Image.Resampling.BICUBIC))
    return Look(
        size=size, focal=focal, exposure=rng.uniform(0.55, 1.05), ambient=rng.uniform(0.0, 0.12),
        lights=lights, thumb=thumb, cracks=cracks,
        focus_mm=0.0 if rng.random() < 0.6 else rng.uniform(120, 300),
        blur_floor=rng.uniform(0.2, 0.7), shot=rng.uniform(0.0002, 0.0012),
        read=rng.uniform(0.002, 0.006), sharpen=rng.uniform(0.0, 1.2),
        jpeg=int(rng.integers(50, 93)) if rng.random() < 0.7 else 0,
        limited_range=bool(rng.random() < 0.5), readout_s=rng.uniform(0.012, 0.03),
        exposure_s=rng.uniform(0.004, 0.025), background=background.copy(),
    )


def _surface(phone: Phone, look: Look, screen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Emitted light (with rounded corners, cutout and the thumb's shadow) and the light the
    glass adds on top (cracks), both in device px."""
    emit = screen * _outline(phone)
    over = np.zeros_like(screen)
    cover = np.zeros_like(screen)
    if look.thumb is not None:
        cu, cv, radius, tone = look.thumb
        side = 0.0 if cu < 0.5 else 1.0  # a thumb comes in from the nearer side
        vv, uu = np.ogrid[: phone.height, : phone.width]
        r = radius * phone.width
        cx, cy = (side + (cu - side) * 0.5) * phone.width, cv * phone.height
        inside = ((uu - cx) / (2.2 * r)) ** 2 + ((vv - cy) / r) ** 2 < 1
        cover = inside.astype(np.float32)
        over = cover * tone
        emit = emit * (1 - cover)
    if look.cracks:
        crack = Image.new("F", (phone.width, phone.height), 0.0)
        d = ImageDraw.Draw(crack)
        for line in look.cracks:
            d.line([tuple(p) for p in line], fill=1.0, width=3)
        lines = _gauss(np.asarray(crack, dtype=np.float32), 1.5)
        over = over + 0.35 * lines
        emit = emit * (1 - 0.5 * np.asarray(crack))
    return emit, over


def render_frame(phone: Phone, screen_emit: np.ndarray, screen_over: np.ndarray, look: Look,
                 pose: Pose, velocity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One camera frame (uint8 luma) of the phone at `pose`, moving at `velocity` (camera px/s)."""
    w, h = look.size
    hom = _homography(phone, pose, look.focal, look.size)
    inv = np.linalg.inv(hom)
    # Where the phone's body (screen + a rim) lands: its box in the frame.
    rim = 0.04 * phone.width
    corners = np.array([[-rim, -rim, 1], [phone.width + rim, -rim, 1],
                        [phone.width + rim, phone.height + rim, 1], [-rim, phone.height + rim, 1]])
    proj = (hom @ corners.T)
    proj = proj[:2] / proj[2]
    shift = float(np.abs(velocity).max()) * look.readout_s + 2
    x0 = int(max(0, np.floor(proj[0].min() - shift)))
    x1 = int(min(w, np.ceil(proj[0].max() + shift)))
    y0 = int(max(0, np.floor(proj[1].min() - shift)))
    y1 = int(min(h, np.ceil(proj[1].max() + shift)))
    frame = look.background * 0.6 * look.exposure
    if x1 > x0 and y1 > y0:
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        # Rolling shutter: row y is read `readout_s · y / h` later; the phone moved meanwhile.
        t = (ys / h - 0.5) * look.readout_s
        xs = xs - velocity[0] * t
        ys = ys - velocity[1] * t
        acc = np.zeros_like(xs)
        body = np.zeros_like(xs)
        # A camera pixel integrates light over its whole aperture, `per_px` device pixels
        # wide: the sub-pixel grid's contrast survives that box as |sinc(per_px)| (its first
        # harmonic), and what survives, sampled once a pixel, aliases into moiré fringes.
        per_px = pose.distance_mm / (look.focal * phone.mm_per_px)
        survives = float(min(1.0, abs(np.sinc(per_px))))
        for dx, dy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
            px, py = xs + dx, ys + dy
            den = inv[2, 0] * px + inv[2, 1] * py + inv[2, 2]
            u = (inv[0, 0] * px + inv[0, 1] * py + inv[0, 2]) / den
            v = (inv[1, 0] * px + inv[1, 1] * py + inv[1, 2]) / den
            iu, iv = np.floor(u).astype(np.int32), np.floor(v).astype(np.int32)
            on = (iu >= 0) & (iu < phone.width) & (iv >= 0) & (iv < phone.height)
            ju, jv = np.clip(iu, 0, phone.width - 1), np.clip(iv, 0, phone.height - 1)
            gain = 1 + (_subpixel_gain(phone, u - iu, v - iv, ju, jv) - 1) * survives
            light = screen_emit[jv, ju] * gain + screen_over[jv, ju]
            acc += np.where(on, light, 0)
            in_body = (u > -rim) & (u < phone.width + rim) & (v > -rim) & (v < phone.height + rim)
            body += in_body
            # Ceiling lights reflected by the glass: bands that move as the phone turns.
            for angle, offset, width, strength in look.lights:
                a = np.radians(angle + 2 * pose.roll)
                d = ((u / phone.width - 0.5) * np.cos(a) + (v / phone.height - 0.5) * np.sin(a)
                     - offset - pose.yaw / 60 - pose.pitch / 60)
                acc += np.where(on, strength * np.exp(-(d / width) ** 2), 0)
        acc /= 4
        body /= 4
        screen_part = (acc * look.exposure + look.ambient) * (body > 0)
        body_dark = 0.05 * look.exposure
        region = frame[y0:y1, x0:x1]
        region[:] = region * (1 - body) + body * body_dark
        region += screen_part * np.minimum(body, 1) - body_dark * body * (acc > 0)
    img = np.clip(frame, 0, 1.5)
    # Optics: focus depends on distance; motion smear during the exposure.
    # Defocus grows with the difference of inverse distances (the thin-lens blur circle).
    focus = look.focus_mm or pose.distance_mm * (1 + 0.1 * np.sin(pose.distance_mm))
    sigma = float(look.blur_floor + 250 * abs(1 / pose.distance_mm - 1 / focus))
    img = _gauss(img.astype(np.float32), sigma)
    smear = velocity * look.exposure_s
    length = float(np.hypot(*smear))
    if length >= 1.0:
        steps = int(min(24, round(length))) + 1
        out = np.zeros_like(img)
        for k in range(steps):
            f = k / (steps - 1) - 0.5
            out += np.roll(img, (round(f * smear[1]), round(f * smear[0])), axis=(0, 1))
        img = out / steps
    # Sensor: shot noise (∝ √signal) and read noise.
    img = np.clip(img, 0, 1)
    img = img + rng.normal(0, 1, img.shape).astype(np.float32) * np.sqrt(
        look.shot * img + look.read**2)
    # ISP: mild denoise, then sharpening (unsharp mask: halos on edges), gamma.
    img = np.clip(img, 0, 1)
    soft, wide = _gauss(img, 0.45), _gauss(img, 1.6)
    img = soft + look.sharpen * (soft - wide)
    img = np.clip(img, 0, 1) ** (1 / 2.2)
    low, high = (16, 235) if look.limited_range else (0, 255)
    luma = np.clip(np.rint(low + img * (high - low)), 0, 255).astype(np.uint8)
    if look.jpeg:
        buf = io.BytesIO()
        Image.fromarray(luma, "L").save(buf, "JPEG", quality=look.jpeg)
        luma = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    return np.ascontiguousarray(luma)


def _gauss(img: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian blur of a float image (edges repeated)."""
    if sigma <= 0.05:
        return img
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        padded = np.pad(img, pad, mode="edge")
        n = img.shape[axis]
        out = np.zeros_like(img)
        for i, weight in enumerate(k):
            out += weight * (padded[i : i + n] if axis == 0 else padded[:, i : i + n])
        img = out
    return img


# --- presentations ------------------------------------------------------------------------------


def _resting_pose(phone: Phone, look: Look, box: tuple[int, int, int, int],
                  rng: np.random.Generator, spans: tuple[float, float] = (0.25, 0.7)) -> Pose:
    """Where a customer holds the phone: the symbol (`box`, device px) near the middle of the
    view, spanning `spans` of the frame's width."""
    w = look.size[0]
    span = rng.uniform(*spans)
    distance = look.focal * (box[2] - box[0]) * phone.mm_per_px / (span * w)
    anchor = ((box[0] + box[2]) / 2 - phone.width / 2, (box[1] + box[3]) / 2 - phone.height / 2)
    roll = rng.normal(0, 12) + (180 if rng.random() < 0.08 else 0)
    if rng.random() < 0.08:
        roll += 90  # held sideways
    return Pose(roll=roll, pitch=rng.normal(0, 15), yaw=rng.normal(0, 10), distance_mm=distance,
                x=rng.normal(0, 0.06) * distance, y=rng.normal(0, 0.04) * distance,
                anchor=anchor)


def presentation(kind: str, size: tuple[int, int], seed: int, still: bool = False
                 ) -> Presentation:
    """A phone (or another thing) presented to the camera: entering, held 0.5-2 s with a hand's
    tremor and drift, leaving. `still`: one frame of the held phone only."""
    rng = np.random.default_rng(seed)
    family = "ios" if kind == "Code128" else "android" if kind == "EAN-13" else None
    choices = [p for p in PHONES if family is None or p.family == family]
    phone = choices[int(rng.integers(len(choices)))]
    truth: str | None = None
    shown = kind
    if kind in ("EAN-13", "Code128"):
        truth = text = diia_digits(rng)
    elif kind == "QRCode":
        truth = text = diia_url(rng)
    else:
        text = ""
    look = make_look(size, phone, rng)
    if kind in ("product", "web-qr"):
        return _other_object(kind, size, seed, rng, look, still)
    if kind == "counter":
        frames = [Frame(_empty(look, rng), None, kind, i / FPS) for i in range(1 if still else 20)]
        return Presentation(frames, None, kind, size, 0.0, len(frames) / FPS)
    screen, box = screen_image(shown if kind != "blank-phone" else "blank", phone, text, rng)
    emit, over = _surface(phone, look, screen)
    rest = _resting_pose(phone, look, box, rng, (0.15, 0.45) if kind == "QRCode" else (0.2, 0.6))
    hold = rng.uniform(0.5, 2.0)
    enter = rng.uniform(0.25, 0.6)
    leave = rng.uniform(0.2, 0.4)
    # Where the phone comes from: off one edge of the frame, at the same distance.
    edge = rng.uniform(0, 2 * np.pi)
    far = rest.distance_mm * look.size[0] / look.focal * 0.9
    start = np.array([rest.x + far * np.cos(edge), rest.y + far * np.sin(edge)])
    end_edge = edge + rng.normal(0, 0.6)
    stop = np.array([rest.x + far * np.cos(end_edge), rest.y + far * np.sin(end_edge)])
    tremor_hz = rng.uniform(6, 11)
    tremor_mm = rng.uniform(0.2, 1.2)
    drift = rng.normal(0, 3.0, 2)  # mm/s
    phase = rng.uniform(0, 2 * np.pi, 3)

    def pose_at(t: float) -> Pose:
        if t < enter:
            f = 1 - (1 - t / enter) ** 2  # decelerating in
            xy = start + (np.array([rest.x, rest.y]) - start) * f
            turn = (1 - f) * 15
        elif t < enter + hold:
            held = t - enter
            xy = np.array([rest.x, rest.y]) + drift * held + tremor_mm * np.array(
                [np.sin(2 * np.pi * tremor_hz * t + phase[0]),
                 np.sin(2 * np.pi * tremor_hz * 1.3 * t + phase[1])])
            turn = 0.8 * np.sin(2 * np.pi * tremor_hz * 0.7 * t + phase[2])
        else:
            f = ((t - enter - hold) / leave) ** 2  # accelerating out
            base = np.array([rest.x, rest.y]) + drift * hold
            xy = base + (stop - base) * f
            turn = f * 12
        return Pose(rest.roll + turn, rest.pitch + turn * 0.5, rest.yaw - turn * 0.3,
                    rest.distance_mm * (1 + 0.02 * np.sin(t * 3)), float(xy[0]), float(xy[1]),
                    rest.anchor)

    times = ([enter + hold * rng.uniform(0.2, 0.8)] if still else
             [i / FPS for i in range(int((enter + hold + leave) * FPS) + 1)])
    frames = []
    for t in times:
        pose = pose_at(t)
        after = pose_at(t + 1 / FPS / 4)
        mm_to_px = look.focal / pose.distance_mm
        velocity = np.array([after.x - pose.x, after.y - pose.y]) * mm_to_px * FPS * 4
        pixels = render_frame(phone, emit, over, look, pose, velocity, rng)
        frames.append(Frame(pixels, truth, kind, t, enter <= t < enter + hold))
    conditions = {"phone": phone.name, "lights": len(look.lights), "thumb": look.thumb is not None,
                  "cracked": bool(look.cracks), "jpeg": look.jpeg, "roll": round(rest.roll)}
    return Presentation(frames, truth, kind, size, enter, enter + hold, conditions)


def _empty(look: Look, rng: np.random.Generator) -> np.ndarray:
    img = look.background * 0.6 * look.exposure
    img = img + rng.normal(0, 1, img.shape).astype(np.float32) * np.sqrt(
        look.shot * np.clip(img, 0, 1) + look.read**2)
    return np.clip(np.rint(np.clip(img, 0, 1) ** (1 / 2.2) * 255), 0, 255).astype(np.uint8)


def _other_object(kind: str, size: tuple[int, int], seed: int, rng: np.random.Generator,
                  look: Look, still: bool) -> Presentation:
    """A printed product barcode on a box, or a web QR on a flyer, held up like a phone."""
    paper = Phone("paper", 900, 1200, 0.09, 0, "none", "stripe", "none")
    page = np.full((paper.height, paper.width), rng.uniform(0.85, 1.0), dtype=np.float32)
    if kind == "product":
        digits = "0" + "".join(str(d) for d in rng.integers(0, 10, 11))
        digits += str(ean13_check_digit(digits))
        strip = _bar_strip(_modules(digits, zxingcpp.BarcodeFormat.EAN13), 95 * 7, 420, rng)
        top, left = 380, (paper.width - strip.shape[1]) // 2
        page[top : top + strip.shape[0], left : left + strip.shape[1]] *= 1 - 0.92 * strip
        box = (left, top, left + strip.shape[1], top + strip.shape[0])
    else:
        qr = segno.make(f"https://example.org/menu/{rng.integers(10**7)}", error="m")
        matrix = np.array(list(qr.matrix_iter(scale=1, border=0)), dtype=np.float32)
        module = 560 // matrix.shape[0]
        mask = np.kron(matrix, np.ones((module, module), dtype=np.float32))
        top, left = 300, (paper.width - mask.shape[1]) // 2
        page[top : top + mask.shape[0], left : left + mask.shape[1]] *= 1 - 0.92 * mask
        box = (left, top, left + mask.shape[1], top + mask.shape[0])
    # Paper reflects: no sub-pixels (a flat "stripe" gain would add them), so lit evenly.
    flat = Phone("paper", paper.width, paper.height, paper.mm_per_px, 0, "none", "flat", "none")
    rest = _resting_pose(flat, look, box, rng)
    n = 1 if still else int(rng.integers(10, 25))
    frames = []
    for i in range(n):
        pose = Pose(rest.roll + rng.normal(0, 0.5), rest.pitch, rest.yaw, rest.distance_mm,
                    rest.x + rng.normal(0, 0.5), rest.y + rng.normal(0, 0.5), rest.anchor)
        pixels = render_frame(flat, page, np.zeros_like(page), look, pose, np.zeros(2), rng)
        frames.append(Frame(pixels, None, kind, i / FPS, True))
    return Presentation(frames, None, kind, size, 0.0, n / FPS)


def still(kind: str, size: tuple[int, int], seed: int) -> Frame:
    """One frame of a held phone (or of a thing that is no Diia code)."""
    return presentation(kind, size, seed, still=True).frames[0]
