"""The benchmarks' camera frames: Diia codes on phones held to the lens, and things that are not.

Everything is drawn by `kiosk.decoding.code_images` from a seed, so a set of frames is named
by its seeds:
the *tuning* set is what the decoder's settings were chosen on, the *held-back* set is drawn
from seeds picked only after those settings were committed (bench/README.md names both).

A *hard* presentation draws each of these independently: tilt up to ±30° (one in ten upside
down), perspective (the phone tipped back), glare, screen moiré at sub-pixel pitches 2–5,
Gaussian blur or a defocused lens (a disc), motion smear, low contrast, small and large codes
(scale: screen px → camera px), sensor noise. Both phone families: Android draws EAN-13, iOS
Code 128 (same 13 digits); both draw the QR.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from kiosk.decoding import code_images
from kiosk.diia.codes import ean13_check_digit

SIZES = ((640, 480), (1280, 720))
SYMBOLOGIES = ("EAN-13", "Code128", "QRCode")
# Screen px → camera px: a phone at ~12–35 cm from the lens (a Code 128 module: 1.3–5 px).
SCALES = {(640, 480): (0.2, 0.5), (1280, 720): (0.28, 0.8)}
OTHER_KINDS = ("empty", "noise", "stripes", "text", "product", "web-qr", "bad-check")


@dataclass
class Sample:
    pixels: np.ndarray
    truth: str | None  # the Diia code shown; None: nothing a kiosk may send
    kind: str  # a symbology, or what the non-Diia frame shows
    size: tuple[int, int]
    hard: bool = False
    hold: int = -1  # frames of one presentation share a hold number


def diia_digits(rng: np.random.Generator) -> str:
    first12 = str(rng.integers(1, 10)) + "".join(str(d) for d in rng.integers(0, 10, 11))
    return first12 + str(ean13_check_digit(first12))


def diia_url(rng: np.random.Generator) -> str:
    doc = rng.integers(10**9, 10**10)
    uid = uuid.UUID(bytes=rng.bytes(16), version=4)
    return f"https://diia.app/documents/internal-passport/{doc}/verify/{uid}"


def screen_for(symbology: str, rng: np.random.Generator) -> tuple[str, Image.Image]:
    if symbology == "QRCode":
        text = diia_url(rng)
        return text, code_images.render_qr(text)
    text = diia_digits(rng)
    draw = code_images.render_ean13 if symbology == "EAN-13" else code_images.render_code128
    return text, draw(text)


def hard_params(size: tuple[int, int], rng: np.random.Generator) -> dict:
    lo, hi = SCALES[size]
    angle = rng.uniform(-30, 30) + (180.0 if rng.random() < 0.1 else 0.0)
    params = {"scale": rng.uniform(lo, hi), "angle": angle, "squeeze": rng.uniform(0, 0.35),
              "blur": rng.uniform(0.4, 1.6), "glare": rng.uniform(0.2, 0.7) * (rng.random() < 0.5),
              "noise": rng.uniform(2, 6)}
    if rng.random() < 0.5:
        params["moire"] = rng.uniform(0.2, 0.55)
        params["moire_pitch"] = int(rng.integers(2, 6))
    if rng.random() < 0.2:  # a lens out of focus instead of a soft one
        params["defocus"] = 1
        params["blur"] = rng.uniform(0.2, 0.5)
    if rng.random() < 0.2:
        params["motion"] = rng.uniform(1.5, 4)
        params["motion_angle"] = rng.uniform(0, 180)
    if rng.random() < 0.25:
        params["contrast"] = rng.uniform(0.4, 0.8)
    return params


def mild_params(size: tuple[int, int], rng: np.random.Generator) -> dict:
    lo, hi = SCALES[size]
    return {"scale": rng.uniform(lo, hi), "angle": rng.uniform(-6, 6),
            "squeeze": rng.uniform(0, 0.1), "blur": rng.uniform(0.3, 0.8),
            "glare": rng.uniform(0, 0.3), "noise": rng.uniform(1, 3)}


def jitter(params: dict, rng: np.random.Generator) -> dict:
    """The next frame of a hand-held phone: a little turn, a little refocus."""
    out = dict(params)
    out["angle"] += rng.uniform(-1.0, 1.0)
    out["scale"] *= rng.uniform(0.98, 1.02)
    out["blur"] = max(0.2, out["blur"] * rng.uniform(0.85, 1.15))
    return out


def render_hold(job: tuple) -> list[Sample]:
    """One presentation of a Diia code: (symbology, size, hard, hold, frames, seed)."""
    symbology, size, hard, hold, frames, seed = job
    rng = np.random.default_rng(seed)
    text, screen = screen_for(symbology, rng)
    base = hard_params(size, rng) if hard else mild_params(size, rng)
    out = []
    for _ in range(frames):
        photo = code_images.phone_photo(screen, size=size, seed=int(rng.integers(1 << 31)),
                                   **jitter(base, rng))
        out.append(Sample(np.asarray(photo), text, symbology, size, hard, hold))
    return out


def render_other(job: tuple) -> list[Sample]:
    """A presentation of something that is not a Diia code: (kind, size, hold, frames, seed)."""
    kind, size, hold, frames, seed = job
    rng = np.random.default_rng(seed)
    lo, hi = SCALES[size]
    scene = other_scene(kind, rng)
    base = {"scale": rng.uniform(lo, hi), "angle": rng.uniform(-25, 25),
            "blur": rng.uniform(0.3, 1.5), "noise": rng.uniform(1, 5), "squeeze": 0.0}
    if rng.random() < 0.4:
        base["moire"] = rng.uniform(0.2, 0.5)
        base["moire_pitch"] = int(rng.integers(2, 6))
    out = []
    for _ in range(frames):
        if scene is None:  # sensor noise alone
            pixels = rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)
        else:
            photo = code_images.phone_photo(scene, size=size, seed=int(rng.integers(1 << 31)),
                                       **jitter(base, rng))
            pixels = np.asarray(photo)
        out.append(Sample(pixels, None, kind, size, hold=hold))
    return out


def other_scene(kind: str, rng: np.random.Generator) -> Image.Image | None:
    """What is held to the camera instead of a Diia code."""
    if kind == "empty":  # a phone showing no code
        return Image.new("L", (1080, 1900), int(rng.integers(160, 240)))
    if kind == "noise":
        return None
    if kind == "stripes":  # a striped shirt or a shelf edge: bars that are not a symbol
        period = rng.uniform(6, 30)
        xs = np.arange(1080)
        row = np.where(np.sin(2 * np.pi * xs / period + rng.uniform(0, 6)) > 0, 30, 220)
        return Image.fromarray(np.broadcast_to(row, (1300, 1080)).astype(np.uint8), "L")
    if kind == "text":  # a receipt or a document held up instead of a code
        page = Image.new("L", (1080, 1500), 235)
        draw = ImageDraw.Draw(page)
        for line in range(30):
            words = " ".join(
                "".join(chr(int(c)) for c in rng.integers(65, 91, rng.integers(2, 9)))
                for _ in range(8))
            draw.text((40, 40 + line * 48), words, fill=20, font_size=36)
        return page
    if kind == "product":  # a retail EAN-13 (UPC-compatible, first digit 0)
        return code_images.product_ean13("0" + "".join(str(d) for d in rng.integers(0, 10, 11)))
    if kind == "web-qr":
        return code_images.render_qr(f"https://example.com/menu/{rng.integers(10**6)}")
    if kind == "bad-check":  # the 13 digits with a wrong check digit, drawn as Code 128
        digits = diia_digits(rng)
        wrong = digits[:12] + str((int(digits[12]) + 1 + int(rng.integers(9))) % 10)
        return code_images.render_code128(wrong)
    raise ValueError(kind)
