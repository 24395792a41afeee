"""The picamera2 camera source through a fake camera with the same calls."""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

from kiosk import render
from kiosk.app import Kiosk, frame_readings
from kiosk.bootstrap import FaultRelay
from kiosk.decode import ZxingDecoder
from kiosk.model import Fault, Frame, Phase
from kiosk.sources.camera import (
    CameraFrames,
    CameraSettings,
    CameraUnavailable,
    full_view_mode,
    load_picamera2,
    y_plane,
)
from tests.fakes.camera import (
    IMX219_MODES,
    IMX708_MODES,
    AeConstraintModeEnum,
    AeMeteringModeEnum,
    AfModeEnum,
    AfRangeEnum,
    AfSpeedEnum,
    FakeCameraBay,
)
from tests.fakes.clock import FakeClock
from tests.fakes.signals import RecordingSignals


def camera(bay: FakeCameraBay, settings: CameraSettings | None = None, **kwargs):
    clock = kwargs.pop("clock", FakeClock())
    faults: list[bool] = kwargs.pop("faults", [])
    source = CameraFrames(settings, backend=bay.backend, on_fault=faults.append, clock=clock,
                          sleep=clock.sleep, **kwargs)
    return source, clock, faults


def take(source: CameraFrames, n: int) -> list[Frame | None]:
    return list(itertools.islice(source.frames(), n))


# --- configuration ------------------------------------------------------------------------


def test_camera_module_3_gets_720p_yuv420_full_view_15fps_autofocus_and_screen_exposure():
    bay = FakeCameraBay("imx708")
    source, _, _ = camera(bay)
    take(source, 1)
    cam = bay.cameras[0]
    config = cam.config
    assert config["main"] == {"size": (1280, 720), "format": "YUV420"}
    assert config["sensor"] == {"output_size": (2304, 1296)}  # binned full view, not the crop
    assert config["queue"] is False and config["buffer_count"] == 4
    assert cam.controls_set == {
        "FrameDurationLimits": (66667, 66667),
        "AfMode": AfModeEnum.Continuous,
        "AfSpeed": AfSpeedEnum.Fast,
        "AfRange": AfRangeEnum.Macro,
        "ExposureValue": -1.0,
        "AeMeteringMode": AeMeteringModeEnum.Spot,
        "AeConstraintMode": AeConstraintModeEnum.Highlight,
    }


def test_fixed_focus_module_gets_no_autofocus_controls_and_its_binned_mode():
    bay = FakeCameraBay("imx219")
    source, _, _ = camera(bay)
    take(source, 1)
    cam = bay.cameras[0]
    assert not any(name.startswith(("Af", "Lens")) for name in cam.controls_set)
    assert cam.config["sensor"] == {"output_size": (1640, 1232)}


def test_manual_focus_and_fixed_exposure():
    bay = FakeCameraBay("imx708")
    settings = CameraSettings(autofocus="manual", lens_position=5.0, exposure_time_us=8000,
                              fps=30)
    source, _, _ = camera(bay, settings)
    take(source, 1)
    controls = bay.cameras[0].controls_set
    assert controls["AfMode"] == AfModeEnum.Manual and controls["LensPosition"] == 5.0
    assert controls["ExposureTime"] == 8000 and controls["AnalogueGain"] == 1.0
    assert "ExposureValue" not in controls
    assert controls["FrameDurationLimits"] == (33333, 33333)


def test_autofocus_off_sets_no_focus_control():
    bay = FakeCameraBay("imx708")
    source, _, _ = camera(bay, CameraSettings(autofocus="off"))
    take(source, 1)
    assert not any(name.startswith(("Af", "Lens")) for name in bay.cameras[0].controls_set)


def test_usb_webcam_uses_yuyv_and_only_the_controls_it_has():
    bay = FakeCameraBay("uvc")
    scene = np.random.default_rng(1).integers(0, 256, (720, 1280), dtype=np.uint8)
    bay.show(scene)
    source, _, _ = camera(bay)
    frame = take(source, 1)[0]
    cam = bay.cameras[0]
    assert cam.config["main"]["format"] == "YUYV" and "sensor" not in cam.config
    assert cam.controls_set == {"ExposureValue": -1.0}
    assert frame is not None and np.array_equal(frame.pixels, scene)


@pytest.mark.parametrize(
    ("modes", "size", "fps", "expected"),
    [
        (IMX708_MODES, (1280, 720), 15, (2304, 1296)),
        (IMX708_MODES, (1280, 720), 60, None),  # no full-view mode that fast: libcamera picks
        (IMX708_MODES, (2560, 1440), 10, (4608, 2592)),
        (IMX219_MODES, (1280, 720), 30, (1640, 1232)),
        ([], (1280, 720), 15, None),
    ],
)
def test_full_view_mode(modes, size, fps, expected):
    assert full_view_mode(modes, size, fps) == expected


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="autofocus"):
        CameraSettings(autofocus="sometimes")
    with pytest.raises(ValueError):
        CameraSettings(fps=0)


# --- frames -------------------------------------------------------------------------------


def test_frames_are_the_y_plane_only_even_with_a_row_stride():
    bay = FakeCameraBay("imx708", stride=1344)  # rows padded past the width, as on a Pi 4
    scene = np.random.default_rng(2).integers(0, 200, (720, 1280), dtype=np.uint8)
    bay.show(scene)
    source, clock, _ = camera(bay)
    frames = take(source, 3)
    for frame in frames:
        assert frame is not None
        assert frame.pixels.shape == (720, 1280) and frame.pixels.dtype == np.uint8
        assert np.array_equal(frame.pixels, scene)
        assert frame.pixels.flags.c_contiguous
    assert frames[0].timestamp == clock.now


def test_y_plane_of_yuyv_packed_as_bytes():
    width, height = 4, 2
    packed = np.array([[10, 0, 11, 0, 12, 0, 13, 0], [20, 0, 21, 0, 22, 0, 23, 0]], np.uint8)
    assert y_plane(packed, "YUYV", (width, height)).tolist() == [[10, 11, 12, 13],
                                                                  [20, 21, 22, 23]]


def test_a_code_shown_to_the_camera_is_decoded():
    bay = FakeCameraBay("imx708")
    photo = render.phone_photo(render.render_ean13("3559217693026"), angle=4.0)
    bay.show(np.asarray(photo))
    source, _, _ = camera(bay)
    decoder = ZxingDecoder()
    readings = list(itertools.islice(frame_readings(source, decoder), 2))
    assert [c.text for c in readings[1].confirmed] == ["3559217693026"]


# --- losing the camera and getting it back ------------------------------------------------


def test_a_lost_camera_is_flushed_closed_and_reopened_and_the_fault_shown_once():
    bay = FakeCameraBay("imx708")
    source, clock, faults = camera(bay)
    stream = source.frames()
    assert next(stream) is not None
    bay.plugged = False
    bay.calls.clear()
    idle = [next(stream) for _ in range(25)]
    assert idle == [None] * 25
    # Timeout → the order picamera2 documents for a loose cable, then tries to open again.
    assert bay.calls[:4] == ["capture", "flush", "stop", "close"]
    assert set(bay.calls[4:]) == {"open"}
    assert faults == [True]
    # While away the loop gets its turn at least every 0.2 s, and retries back off.
    assert max(clock.sleeps) <= 0.2 + 1e-9
    opens = bay.calls.count("open")
    assert 2 <= opens < 10, "retries back off instead of hammering"
    bay.plugged = True
    frames = [f for f in itertools.islice(stream, 60) if f is not None]
    assert frames, "frames come back once the camera does"
    assert faults == [True, False]
    assert source.opened == 2


def test_no_camera_at_start_shows_the_fault_and_keeps_the_loop_turning():
    bay = FakeCameraBay("imx708")
    bay.plugged = False
    source, clock, faults = camera(bay, retry_s=(0.5, 4.0))
    assert take(source, 200) == [None] * 200
    assert faults == [True]
    assert max(clock.sleeps) <= 0.2 + 1e-9
    # 200 turns of at most 0.2 s (≤ 40 s): backing off 0.5, 1, 2, 4, 4 … s gives about a
    # dozen tries, where a fixed 0.5 s would give 80.
    assert 5 <= bay.calls.count("open") <= 15


def test_close_stops_the_frames_and_releases_the_camera():
    bay = FakeCameraBay("imx708")
    source, _, _ = camera(bay)
    stream = source.frames()
    next(stream)
    source.close()
    assert list(stream) == []
    assert bay.calls[-3:] == ["flush", "stop", "close"]


def test_the_kiosk_keeps_ticking_and_shows_the_camera_banner_while_the_camera_is_lost():
    bay = FakeCameraBay("imx708")
    relay = FaultRelay(Fault.CAMERA)
    clock = FakeClock()
    source = CameraFrames(backend=bay.backend, on_fault=relay, clock=clock, sleep=clock.sleep)

    def script():
        stream = frame_readings(source, ZxingDecoder())
        for i, reading in enumerate(stream):
            if i == 3:
                bay.plugged = False
            if i == 40:
                bay.plugged = True
            if i == 80:
                return
            yield reading

    signals = RecordingSignals()
    kiosk = Kiosk(readings=script(), checker=None, signals=[signals], result_seconds=0)
    relay.attach(kiosk)
    kiosk.run()
    banners = [Fault.CAMERA in s.faults for s in signals.states]
    assert banners.count(True) >= 1 and banners[-1] is False
    assert all(s.phase is Phase.IDLE for s in signals.states)
    assert signals.ticks >= 80  # one tick per reading, frames or not


def test_without_picamera2_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraUnavailable, match="python3-picamera2"):
        load_picamera2()
    with pytest.raises(CameraUnavailable):
        CameraFrames()


def test_sensor_modes_that_cannot_be_listed_leave_the_choice_to_libcamera():
    bay = FakeCameraBay("imx708")
    bay.modes_fail = True
    source, _, faults = camera(bay)
    assert take(source, 1)[0] is not None
    assert "sensor" not in bay.cameras[0].config and faults == []


def test_the_config_builds_a_camera_source_or_says_what_to_install(monkeypatch):
    from kiosk.bootstrap import build_readings, camera_settings
    from kiosk.config import ConfigError, parse_config

    config = parse_config({"source": {"kind": "camera"},
                           "camera": {"size": "640x480", "fps": 30.0, "autofocus": "manual",
                                      "lens_position": 4.0}})
    settings = camera_settings(config)
    assert (settings.size, settings.fps, settings.autofocus, settings.lens_position) == (
        (640, 480), 30.0, "manual", 4.0)
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(ConfigError, match="python3-picamera2") as caught:
        build_readings(config)
    assert caught.value.key == "source.kind"


def test_a_bad_camera_size_is_a_config_error():
    from kiosk.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"camera\.size"):
        parse_config({"camera": {"size": "big"}})
