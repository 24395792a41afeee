"""What an empty counter costs, and what the change gate costs a customer.

    .venv/bin/python bench/idle.py [--frames 300] [--entries 40]

1. Idle cost: a still 1280×720 shop scene (a counter edge, a price label, a gradient) with
   fresh sensor noise (σ 3–6) on every frame, decoded by pyzbar, by the default decoder
   decoding every frame, and by the default behind `kiosk.decoding.stillness.ChangeGate` (as
   the kiosk runs it), interleaved on the same frames, pinned to one core: time per frame and
   its ratio to pyzbar's.
2. Time to read: a phone with a Diia code (EAN-13, Code 128, QR in turn; mild to hard
   presentations from bench/frames.py) enters the still scene at a random frame and stays;
   frames from its entry to its confirmed read (kiosk.decoding.confirm.Confirmation),
   with and without the gate, over the same frames.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import frames

from kiosk.decoding.confirm import Confirmation
from kiosk.decoding.decode import PyzbarDecoder, make_decoder
from kiosk.model import Frame

SIZE = (1280, 720)


def scene() -> np.ndarray:
    pixels = np.broadcast_to(np.linspace(70, 140, SIZE[0], dtype=np.float32),
                             (SIZE[1], SIZE[0])).copy()
    pixels[520:560, :] = 40
    pixels[180:300, 950:1150] = 220
    return pixels


def noisy(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(base + rng.normal(0, rng.uniform(3, 6), base.shape), 0, 255).astype(np.uint8)


def idle_cost(count: int) -> None:
    rng = np.random.default_rng(5)
    base = scene()
    decoders = {"pyzbar": PyzbarDecoder(corroborate=False),
                "default, every frame": make_decoder("zxing", watch_changes=False),
                "default with the change gate": make_decoder("zxing")}
    ms: dict[str, list[float]] = {name: [] for name in decoders}
    names = list(decoders)
    for i in range(count):
        frame = Frame(noisy(base, rng), 0.0)
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            start = time.perf_counter()
            decoders[name].decode(frame)
            ms[name].append((time.perf_counter() - start) * 1e3)
    base_mean = statistics.mean(ms["pyzbar"])
    print(f"\n1. Still scene, {count} frames of 1280×720 with sensor noise\n")
    print("| decoder | mean ms | median ms | mean ÷ pyzbar |")
    print("|---|---|---|---|")
    for name in names:
        print(f"| {name} | {statistics.mean(ms[name]):.2f} | {statistics.median(ms[name]):.2f}"
              f" | {statistics.mean(ms[name]) / base_mean:.3f} |")


def time_to_read(entries: int) -> None:
    rng = np.random.default_rng(11)
    base = scene()
    waits: dict[str, list[int]] = {"every frame": [], "change gate": []}
    missed = dict.fromkeys(waits, 0)
    for n in range(entries):
        symbology = frames.SYMBOLOGIES[n % 3]
        hard = n % 2 == 1
        samples = frames.render_hold((symbology, SIZE, hard, n, 12, 7000 + n))
        before = int(rng.integers(3, 12))  # still frames before the phone comes in
        still = [noisy(base, rng) for _ in range(before)]
        sequence = still + [s.pixels for s in samples]
        truth = samples[0].truth
        for name, decoder in (("every frame", make_decoder("zxing", watch_changes=False)),
                              ("change gate", make_decoder("zxing"))):
            confirm = Confirmation()
            read_at = None
            for i, pixels in enumerate(sequence):
                sent = confirm.feed(decoder.decode(Frame(pixels, 0.0)))
                if any(c.text == truth for c in sent):
                    read_at = i - before + 1
                    break
            if read_at is None:
                missed[name] += 1
            else:
                waits[name].append(read_at)
    print(f"\n2. A phone entering the still scene, {entries} times (12 frames held)\n")
    print("| decoder | read | mean frames from entry to confirmed read | median |")
    print("|---|---|---|---|")
    for name, values in waits.items():
        print(f"| {name} | {len(values)} of {entries} | {statistics.mean(values):.2f} |"
              f" {statistics.median(values):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--entries", type=int, default=42)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    idle_cost(args.frames)
    time_to_read(args.entries)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
