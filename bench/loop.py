"""What the pure loop costs per frame, against decoding that frame.

    .venv/bin/python bench/loop.py

The kiosk feeds `kiosk.loop.step` one input per frame (plus a tick per turn); this times
those steps (an empty frame, a frame holding a code already checked) against zxing-cpp
decoding one 640x480 frame without a code, measured in the same process.
"""

from __future__ import annotations

import time

import numpy as np

from kiosk.decoding.codes import to_code
from kiosk.decoding.decode import make_decoder
from kiosk.loop import Reading, Rules, Tick, start, step
from kiosk.model import Frame

ROUNDS = 20_000


def per_call(fn, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds


def main() -> None:
    rules = Rules(result_seconds=3.0, gone_frames=8)
    code = to_code("3559217693026", "EAN-13")
    assert code is not None
    state, _ = start(rules, 0.0)
    empty = Reading([], [], 0.0)
    held = Reading([code], [], 0.0)

    def empty_turn() -> None:
        step(step(state, Tick(1.0), rules)[0], empty, rules)

    def held_turn() -> None:
        step(step(state, Tick(1.0), rules)[0], held, rules)

    frame = Frame(np.full((480, 640), 200, np.uint8), 0.0)
    decoder = make_decoder("zxing", region_assist=False, watch_changes=False)  # every call decodes
    decode_s = per_call(lambda: decoder.decode(frame), 200)
    empty_s = per_call(empty_turn, ROUNDS)
    held_s = per_call(held_turn, ROUNDS)
    print(f"decode 640x480 (baseline): {decode_s * 1e6:8.1f} us")
    print(f"loop turn, empty frame:    {empty_s * 1e6:8.1f} us  ({empty_s / decode_s:.3f}x)")
    print(f"loop turn, code held:      {held_s * 1e6:8.1f} us  ({held_s / decode_s:.3f}x)")


if __name__ == "__main__":
    main()
