"""The real camera through picamera2: size, speed and the Y plane (skips without one)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kiosk.sources.camera import CameraFrames, CameraSettings, CameraUnavailable, load_picamera2


@pytest.fixture(scope="module")
def backend():
    try:
        backend = load_picamera2()
    except CameraUnavailable as exc:
        pytest.skip(f"no picamera2 here: {exc}")
    if not backend.Picamera2.global_camera_info():
        pytest.skip("picamera2 is installed but libcamera sees no camera")
    return backend


def test_camera_gives_720p_gray_frames_at_15_fps_or_more(backend):
    faults: list[bool] = []
    made = time.monotonic()
    source = CameraFrames(CameraSettings(), backend=backend, on_fault=faults.append)
    frames = source.frames()
    try:
        first = next(f for f in frames if f is not None)  # the start-up frames come first
        # Opening, configuring and ~7 dropped start-up frames, without a single re-open.
        assert first.timestamp - made < 2.5 and source.opened == 1
        assert first.pixels.shape == (720, 1280) and first.pixels.dtype == np.uint8
        start = time.monotonic()
        got = [f for _, f in zip(range(45), frames, strict=False) if f is not None]
        elapsed = time.monotonic() - start
        assert len(got) == 45
        assert len(got) / elapsed >= 14.0, f"{len(got) / elapsed:.1f} fps"
        assert 5 < float(np.mean(got[-1].pixels)) < 250, "not a black or white frame"
        assert faults == []
    finally:
        source.close()
