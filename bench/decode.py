"""Decoders on phone-screen camera frames: read rate, time per frame, false reads.

    .venv/bin/python bench/decode.py            # the recorded run (~3 min on 2 cores)
    .venv/bin/python bench/decode.py --quick    # a smaller set, for trying an idea
    .venv/bin/python bench/decode.py --ideas    # also the variants that were tried and dropped

Frames are drawn by `kiosk.render` as the Diia app draws its codes (EAN-13, Code 128, QR with
error correction H) on a phone held to the camera: tilt, perspective, blur, glare, moiré,
sensor noise, small and large codes, at 640×480 and 1280×720. Code frames come in *holds*:
one presentation, several frames with a hand's jitter between them, so that the 2-of-3
confirmation can be run over them as in the kiosk. Frames with no Diia code (empty scenes,
noise, stripes, text, product barcodes, non-Diia QRs, a Code 128 with a bad check digit)
count false reads.

Frames are rendered on every core, then every decoder runs on every frame, interleaved
(the order rotates from frame to frame), pinned to one core. Times are ratios against pyzbar
on the same frames in the same run; absolute milliseconds are for orientation only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk import render
from kiosk.decode import (
    Confirmation,
    Decoder,
    PyzbarDecoder,
    RegionAssist,
    ZbarScanner,
    ZxingDecoder,
)
from kiosk.diia.codes import ean13_check_digit
from kiosk.model import Frame
from kiosk.regions import RegionFinder

SIZES = ((640, 480), (1280, 720))
SYMBOLOGIES = ("EAN-13", "Code128", "QRCode")
# Screen px → camera px: a phone at 15–35 cm from the lens, small and large codes.
SCALES = {(640, 480): (0.2, 0.42), (1280, 720): (0.3, 0.66)}
FPS = 15  # the camera's rate on a Pi 4 at 720p, for "time to confirm"


@dataclass
class Sample:
    pixels: np.ndarray
    truth: str | None  # the Diia code shown; None: nothing a kiosk may send
    kind: str  # a symbology, or what the non-Diia frame shows
    size: tuple[int, int]
    hard: bool = False
    hold: int = -1  # frames of one presentation share a hold number


@dataclass
class Tally:
    ms: list[float] = field(default_factory=list)
    read: int = 0
    frames: int = 0
    false_reads: int = 0


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
        return text, render.render_qr(text)
    text = diia_digits(rng)
    draw = render.render_ean13 if symbology == "EAN-13" else render.render_code128
    return text, draw(text)


def hold_params(size: tuple[int, int], hard: bool, rng: np.random.Generator) -> dict:
    lo, hi = SCALES[size]
    if hard:
        return {"scale": rng.uniform(lo, hi), "angle": rng.uniform(-25, 25),
                "squeeze": rng.uniform(0, 0.3), "blur": rng.uniform(0.6, 1.8),
                "glare": rng.uniform(0, 0.6), "noise": rng.uniform(2, 6),
                "moire": rng.uniform(0.2, 0.5) if rng.random() < 0.5 else 0.0}
    return {"scale": rng.uniform(lo, hi), "angle": rng.uniform(-6, 6),
            "squeeze": rng.uniform(0, 0.1), "blur": rng.uniform(0.3, 0.8),
            "glare": rng.uniform(0, 0.3), "noise": rng.uniform(1, 3), "moire": 0.0}


def jitter(params: dict, rng: np.random.Generator) -> dict:
    """The next frame of a hand-held phone: a little turn, a little refocus."""
    out = dict(params)
    out["angle"] += rng.uniform(-1.0, 1.0)
    out["scale"] *= rng.uniform(0.98, 1.02)
    out["blur"] = max(0.2, out["blur"] * rng.uniform(0.85, 1.15))
    return out


def render_hold(job: tuple) -> list[Sample]:
    symbology, size, hard, hold, frames, seed = job
    rng = np.random.default_rng(seed)
    text, screen = screen_for(symbology, rng)
    base = hold_params(size, hard, rng)
    out = []
    for _ in range(frames):
        photo = render.phone_photo(screen, size=size, seed=int(rng.integers(1 << 31)),
                                   **jitter(base, rng))
        out.append(Sample(np.asarray(photo), text, symbology, size, hard, hold))
    return out


def render_other(job: tuple) -> list[Sample]:
    """A presentation of something that is not a Diia code, over `frames` frames."""
    kind, size, hold, frames, seed = job
    rng = np.random.default_rng(seed)
    lo, hi = SCALES[size]
    scene = other_scene(kind, rng)
    base = {"scale": rng.uniform(lo, hi), "angle": rng.uniform(-15, 15),
            "blur": rng.uniform(0.3, 1.2), "noise": rng.uniform(1, 5), "squeeze": 0.0}
    out = []
    for _ in range(frames):
        if scene is None:  # sensor noise alone
            pixels = rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8)
        else:
            photo = render.phone_photo(scene, size=size, seed=int(rng.integers(1 << 31)),
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
        return render.product_ean13("0" + "".join(str(d) for d in rng.integers(0, 10, 11)))
    if kind == "web-qr":
        return render.render_qr(f"https://example.com/menu/{rng.integers(10**6)}")
    if kind == "bad-check":  # the 13 digits with a wrong check digit, drawn as Code 128
        digits = diia_digits(rng)
        wrong = digits[:12] + str((int(digits[12]) + 1 + int(rng.integers(9))) % 10)
        return render.render_code128(wrong)
    raise ValueError(kind)


OTHER_KINDS = ("empty", "noise", "stripes", "text", "product", "web-qr", "bad-check")


def make_samples(quick: bool, workers: int) -> list[Sample]:
    holds_mild, holds_hard, frames_per_hold = (2, 4, 6) if quick else (6, 12, 8)
    others = {"empty": 12, "noise": 4, "stripes": 6, "text": 4, "product": 8, "web-qr": 4,
              "bad-check": 4}
    if quick:
        others = {k: max(2, n // 4) for k, n in others.items()}
    jobs, other_jobs, hold = [], [], 0
    seed = 1000
    for size in SIZES:
        for symbology in SYMBOLOGIES:
            for hard in [False] * holds_mild + [True] * holds_hard:
                jobs.append((symbology, size, hard, hold, frames_per_hold, seed))
                hold += 1
                seed += 1
        for kind, count in others.items():
            for _ in range(count):
                other_jobs.append((kind, size, hold, 3, seed))
                hold += 1
                seed += 1
    with ProcessPoolExecutor(workers) as pool:
        samples = [s for batch in pool.map(render_hold, jobs) for s in batch]
        samples += [s for batch in pool.map(render_other, other_jobs) for s in batch]
    return samples


def decoders(ideas: bool) -> dict[str, Callable[[], Decoder]]:
    chosen: dict[str, Callable[[], Decoder]] = {
        "pyzbar": PyzbarDecoder,
        "zxing": ZxingDecoder,
        "zxing + second look": lambda: ZxingDecoder(RegionAssist()),
    }
    if ideas:
        chosen.update({
            # zbar's 1D scan over the whole frame whenever zxing reads nothing
            "zxing + zbar whole frame": lambda: ZxingDecoder(WholeFrame()),
            # the second look without its QR part (zbar on bars only)
            "zxing + zbar on bars only": lambda: ZxingDecoder(RegionAssist(max_block_px=0)),
            # zbar scanning every row / every second row of a bar patch (default: every third)
            "second look, zbar rows 1": lambda: ZxingDecoder(
                RegionAssist(scanner=ZbarScanner(row_step=1))),
            "second look, zbar rows 2": lambda: ZxingDecoder(
                RegionAssist(scanner=ZbarScanner(row_step=2))),
            # bar patches scanned both ways (rows every 3rd, columns every 4th)
            "second look, zbar both ways": lambda: ZxingDecoder(
                RegionAssist(scanner=ZbarScanner(row_step=3, column_step=4))),
            # a finder that also takes single edges (a phone's rim) for bars
            "second look, edges count as bars": lambda: ZxingDecoder(
                RegionAssist(finder=RegionFinder(alternation=10.0))),
            # enlarging only block patches up to 400 px (the default: up to 800)
            "second look, blocks up to 400 px": lambda: ZxingDecoder(
                RegionAssist(max_block_px=400)),
            # the second look as it was before its small-frame tuning: on 640×480 too, bar
            # patches as they are and block patches enlarged 2× with the wider margin
            "second look, no small-frame tuning": lambda: ZxingDecoder(
                RegionAssist(small_width=0)),
            # on small frames, block patches enlarged 3× instead of 2.5×
            "second look, small-frame blocks 3×": lambda: ZxingDecoder(
                RegionAssist(small_zoom=3.0)),
            # a finder that takes a kind of cell covering over 30 % of the frame for texture
            # (the default: 50 %; a phone screen with moiré is mostly "blocks")
            "second look, texture above 30 %": lambda: ZxingDecoder(
                RegionAssist(finder=RegionFinder(max_block_share=0.3))),
        })
    return chosen


class WholeFrame:
    """The naive assist: zbar's 1D scan over the whole frame."""

    def __init__(self) -> None:
        self.scanner = ZbarScanner(row_step=1, column_step=1)

    def read(self, pixels: np.ndarray, read_qr: object) -> list[tuple[str, str]]:
        return self.scanner.scan(pixels)


def run(samples: list[Sample], chosen: dict[str, Callable[[], Decoder]]) -> dict:
    built = {name: make() for name, make in chosen.items()}
    names = list(built)
    results: dict[str, list[tuple[list[str], float]]] = {name: [] for name in names}
    for i, sample in enumerate(samples):
        frame = Frame(sample.pixels, 0.0)
        for k in range(len(names)):  # interleaved, the order rotating
            name = names[(i + k) % len(names)]
            start = time.perf_counter()
            codes = built[name].decode(frame)
            results[name].append(([c.text for c in codes], (time.perf_counter() - start) * 1e3))
    return results


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(samples: list[Sample], results: dict, out=sys.stdout) -> None:
    names = list(results)
    base = names[0]

    def line(*cells: object) -> None:
        print("| " + " | ".join(str(c) for c in cells) + " |", file=out)

    print("\n### Time per frame (ms, one core) and ratio to pyzbar on the same frames\n", file=out)
    line("decoder", "frames", "median", "p95", "mean", "median ÷ pyzbar", "mean ÷ pyzbar")
    line(*["---"] * 7)
    for size in SIZES:
        idx = [i for i, s in enumerate(samples) if s.size == size]
        base_ms = [results[base][i][1] for i in idx]
        for name in names:
            ms = [results[name][i][1] for i in idx]
            line(f"{name} @ {size[0]}×{size[1]}", len(ms), f"{np.median(ms):.2f}",
                 f"{pct(ms, 95):.2f}", f"{np.mean(ms):.2f}",
                 f"{np.median(ms) / np.median(base_ms):.2f}",
                 f"{np.mean(ms) / np.mean(base_ms):.2f}")

    print("\n### Read rate per frame (the frame's code among the decoder's reads)\n", file=out)
    line("decoder", *[f"{sym} {w}×{h} {cond}" for (w, h) in SIZES for sym in SYMBOLOGIES
                      for cond in ("mild", "hard")])
    line(*["---"] * (1 + len(SIZES) * len(SYMBOLOGIES) * 2))
    for name in names:
        cells = []
        for size in SIZES:
            for sym in SYMBOLOGIES:
                for hard in (False, True):
                    idx = [i for i, s in enumerate(samples)
                           if s.size == size and s.kind == sym and s.hard == hard]
                    ok = sum(samples[i].truth in results[name][i][0] for i in idx)
                    cells.append(f"{100 * ok / len(idx):.0f} %")
        line(name, *cells)

    print(f"\n### Per presentation: confirmed (2 of 3 frames for 1D) within the hold, "
          f"and frames to confirm (at {FPS} fps)\n", file=out)
    line("decoder", *[f"{sym} {w}×{h}" for (w, h) in SIZES for sym in SYMBOLOGIES],
         "all: median s to confirm")
    line(*["---"] * (2 + len(SIZES) * len(SYMBOLOGIES)))
    holds: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        if s.hold >= 0:
            holds[s.hold].append(i)
    for name in names:
        confirmed: dict[tuple, list[bool]] = defaultdict(list)
        to_confirm: list[int] = []
        for members in holds.values():
            first = samples[members[0]]
            confirm = Confirmation()
            when = None
            for n, i in enumerate(members, 1):
                texts = results[name][i][0]
                codes = [_code(t) for t in texts]
                if any(c.text == first.truth for c in confirm.feed(codes)) and when is None:
                    when = n
            confirmed[first.size, first.kind].append(when is not None)
            if when is not None:
                to_confirm.append(when)
        cells = [f"{100 * sum(v) / len(v):.0f} %" for size in SIZES for sym in SYMBOLOGIES
                 for v in [confirmed[size, sym]]]
        median_s = statistics.median(to_confirm) / FPS if to_confirm else float("nan")
        line(name, *cells, f"{median_s:.2f}")

    print("\n### False reads: codes a decoder returned that were not shown, in frames → "
          "after the 2-of-3 confirmation (presentations of 3 frames)\n", file=out)
    line("decoder", *OTHER_KINDS, "misread Diia code")
    line(*["---"] * (2 + len(OTHER_KINDS)))
    for name in names:
        before: dict[str, int] = defaultdict(int)
        after: dict[str, int] = defaultdict(int)
        shown: dict[str, int] = defaultdict(int)
        for members in holds.values():
            kind = samples[members[0]].kind
            key = kind if kind in OTHER_KINDS else "misread Diia code"
            shown[key] += 1
            confirm = Confirmation()
            for i in members:
                wrong = [t for t in results[name][i][0] if t != samples[i].truth]
                before[key] += len(wrong)
                got = confirm.feed([_code(t) for t in results[name][i][0]])
                after[key] += sum(c.text != samples[i].truth for c in got)
        line(name, *[f"{before[k]} → {after[k]} of {shown[k]}"
                     for k in (*OTHER_KINDS, "misread Diia code")])


def _code(text: str):
    from kiosk.codes import to_code

    return to_code(text, "QRCode" if text.startswith("https://") else "EAN-13")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller frame set")
    parser.add_argument("--ideas", action="store_true", help="also the variants tried")
    args = parser.parse_args()
    started = time.perf_counter()
    samples = make_samples(args.quick, workers=os.cpu_count() or 1)
    rendered = time.perf_counter() - started
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core for decoding
    codes = sum(s.truth is not None for s in samples)
    print(f"{len(samples)} frames ({codes} with a Diia code, in holds; "
          f"{len(samples) - codes} without) rendered in {rendered:.0f} s")
    results = run(samples, decoders(args.ideas))
    report(samples, results)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
