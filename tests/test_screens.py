"""bench/screens.py, the independent frame source: a seed names a frame, and the frames show
readable Diia codes (a small fixed sample; bench/independent.py measures the rest)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import itertools

import screens

from kiosk.decoding.codes import to_code
from kiosk.decoding.decode import make_decoder
from kiosk.model import Frame

# Seeds whose 640×480 still the default decoder reads (found once, kept fixed).
READABLE = [("EAN-13", 2), ("Code128", 5), ("QRCode", 2)]


@pytest.mark.parametrize(("kind", "seed"), READABLE)
def test_a_still_shows_a_diia_code_the_default_reads(kind: str, seed: int) -> None:
    still = screens.still(kind, (640, 480), seed)
    assert still.pixels.shape == (480, 640) and still.pixels.dtype == np.uint8
    assert still.truth is not None and to_code(still.truth, kind) is not None
    decoder = make_decoder("zxing", watch_changes=False)
    assert [c.text for c in decoder.decode(Frame(still.pixels, 0.0))] == [still.truth]
    again = screens.still(kind, (640, 480), seed)
    assert again.truth == still.truth and np.array_equal(again.pixels, still.pixels)


def test_a_presentation_enters_rests_and_leaves_at_15_fps() -> None:
    shown = screens.presentation("EAN-13", (640, 480), 7)
    times = [f.time_s for f in shown.frames]
    assert np.allclose(np.diff(times), 1 / screens.FPS)
    held = [f for f in shown.frames if f.held]
    assert 0.5 <= len(held) / screens.FPS <= 2.0 + 1 / screens.FPS
    assert not shown.frames[0].held and not shown.frames[-1].held  # entering, leaving
    assert 0 < shown.hold_start_s < shown.hold_end_s < times[-1] + 1 / screens.FPS
    # The hand shakes: no two held frames are the same.
    assert all(not np.array_equal(a.pixels, b.pixels) for a, b in itertools.pairwise(held))


def test_what_is_no_diia_code_has_no_truth() -> None:
    for kind in screens.OTHER_KINDS:
        assert screens.still(kind, (640, 480), 3).truth is None
