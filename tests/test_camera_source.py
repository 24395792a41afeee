"""The picamera2 camera source through a fake camera with the same calls."""

from __future__ import annotations

import itertools
import queue
import sys

import numpy as np
import pytest

from kiosk.app import Kiosk, frame_readings
from kiosk.decoding import code_images
from kiosk.decoding.decode import ZxingDecoder
from kiosk.loop import FaultChanged
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
    SLOW_PI,
    AeConstraintModeEnum,
    AeMeteringModeEnum,
    AfModeEnum,
    AfRangeEnum,
    AfSpeedEnum,
    FakeCameraBay,
)
from tests.fakes.clock import FakeClock
from tests.fakes.signals import RecordingSignals


def bay_on(clock: FakeClock, model: str = "imx708", **kwargs) -> FakeCameraBay:
    return FakeCameraBay(model, clock=clock, sleep=clock.sleep, **kwargs)


def camera(bay: FakeCameraBay, settings: CameraSettings | None = None, **kwargs):
    clock = kwargs.pop("clock", None) or bay.clock
    assert isinstance(clock, FakeClock), "make the bay with bay_on(clock)"
    faults: list[bool] = kwargs.pop("faults", [])
    source = CameraFrames(settings, backend=bay.backend, on_fault=faults.append, clock=clock,
                          sleep=clock.sleep, **kwargs)
    return source, clock, faults


def take(source: CameraFrames, n: int) -> list[Frame | None]:
    return list(itertools.islice(source.frames(), n))


# --- configuration ------------------------------------------------------------------------


def test_camera_module_3_gets_720p_yuv420_full_view_15fps_autofocus_and_screen_exposure():
    bay = bay_on(FakeClock())
    source, _, _ = camera(bay)
    take(source, 1)
    cam = bay.cameras[0]
    config = cam.config
    assert (config["main"]["size"], config["main"]["format"]) == ((1280, 720), "YUV420")
    assert config["sensor"] == {"output_size": (2304, 1296)}  # binned full view, not the crop
    assert config["queue"] is False and config["buffer_count"] == 4
    assert cam.controls_set == {
        "NoiseReductionMode": 1,  # picamera2's video default, kept
        "FrameDurationLimits": (66667, 66667),
        "AfMode": AfModeEnum.Continuous,
        "AfSpeed": AfSpeedEnum.Fast,
        "AfRange": AfRangeEnum.Macro,
        "ExposureValue": -1.0,
        "AeMeteringMode": AeMeteringModeEnum.Spot,
        "AeConstraintMode": AeConstraintModeEnum.Highlight,
    }


def test_fixed_focus_module_gets_no_autofocus_controls_and_its_binned_mode():
    bay = bay_on(FakeClock(), "imx219")
    source, _, _ = camera(bay)
    take(source, 1)
    cam = bay.cameras[0]
    assert not any(name.startswith(("Af", "Lens")) for name in cam.controls_set)
    assert cam.config["sensor"] == {"output_size": (1640, 1232)}


def test_manual_focus_and_fixed_exposure():
    bay = bay_on(FakeClock())
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
    bay = bay_on(FakeClock())
    source, _, _ = camera(bay, CameraSettings(autofocus="off"))
    take(source, 1)
    assert not any(name.startswith(("Af", "Lens")) for name in bay.cameras[0].controls_set)


def test_usb_webcam_uses_yuyv_and_only_the_controls_it_has():
    bay = bay_on(FakeClock(), "uvc")
    scene = np.random.default_rng(1).integers(0, 256, (720, 1280), dtype=np.uint8)
    bay.show(scene)
    source, _, _ = camera(bay)
    frame = take(source, 1)[0]
    cam = bay.cameras[0]
    assert cam.config["main"]["format"] == "YUYV" and cam.config["sensor"] is None
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


def first_frames(stream, n: int = 1, limit: int = 500) -> list[Frame]:
    """The next `n` frames, passing over the Nones that keep the loop turning meanwhile."""
    got = list(itertools.islice((f for f in itertools.islice(stream, limit) if f is not None), n))
    assert len(got) == n, "no frame came"
    return got


def test_frames_are_the_y_plane_only_even_with_a_row_stride():
    bay = bay_on(FakeClock(), stride=1344)  # rows padded past the width, as on a Pi 4
    scene = np.random.default_rng(2).integers(0, 200, (720, 1280), dtype=np.uint8)
    bay.show(scene)
    source, clock, _ = camera(bay)
    stream = source.frames()
    frames = [next(f for f in stream if f is not None) for _ in range(3)]
    for frame in frames:
        assert frame.pixels.shape == (720, 1280) and frame.pixels.dtype == np.uint8
        assert np.array_equal(frame.pixels, scene)
        assert frame.pixels.flags.c_contiguous
    assert frames[-1].timestamp == clock.now


def test_the_first_frame_waits_for_the_start_up_frames_and_the_camera_is_opened_once():
    clock = FakeClock()
    bay = bay_on(clock)
    source, _, faults = camera(bay)
    turns: list[float] = []
    stream = source.frames()
    for item in stream:
        turns.append(clock.now)
        if item is not None:
            break
    # 7 start-up frames dropped, the 8th delivered, at 15 fps from start(): ≈ 0.53 s.
    assert item.timestamp - bay.cameras[0].started_at == pytest.approx(8 / 15, abs=0.01)
    assert source.opened == 1 and faults == [] and bay.calls.count("open") == 1
    streaming = bay.cameras[0].started_at
    assert max(b - a for a, b in itertools.pairwise([streaming, *turns])) <= 0.2 + 1e-6
    # Then paced by the frame duration: 30 more frames take 2 s.
    frames = first_frames(stream, 30)
    assert frames[-1].timestamp - item.timestamp == pytest.approx(2.0, abs=0.07)


@pytest.mark.parametrize("fps", [2.0, 4.0, 15.0, 30.0])
def test_slow_frame_rates_get_a_long_enough_first_wait(fps):
    bay = bay_on(FakeClock())
    source, _, faults = camera(bay, CameraSettings(fps=fps))
    frame = first_frames(source.frames())[0]
    assert source.first_wait_s >= 8 / fps + 0.4  # the start-up frames, with room to spare
    assert source.opened == 1 and faults == []
    assert frame.timestamp - bay.cameras[0].started_at == pytest.approx(8 / fps, abs=0.01)


def test_a_single_slow_frame_is_not_a_lost_camera_and_leaves_no_job_behind():
    bay = bay_on(FakeClock())
    source, _, faults = camera(bay)
    stream = source.frames()
    first_frames(stream, 5)
    bay.stall(0.9)  # longer than a later frame's wait, shorter than a start
    frames = first_frames(stream, 20)
    assert source.slow_frames == 1 and faults == [] and source.opened == 1
    assert bay.calls.count("flush") == 0 and bay.calls.count("open") == 1
    cam = bay.cameras[0]
    assert cam.held == [] and len(cam.jobs) <= 1  # no buffer kept by a forgotten job
    gaps = [b.timestamp - a.timestamp for a, b in itertools.pairwise(frames)]
    assert max(gaps) == pytest.approx(1 / 15, abs=0.01)


def test_many_slow_frames_never_run_the_camera_out_of_buffers():
    bay = bay_on(FakeClock())
    source, _, faults = camera(bay)
    stream = source.frames()
    for _ in range(12):  # more stalls than the 4 buffers
        first_frames(stream, 3)
        bay.stall(0.7)
    first_frames(stream, 3)
    assert faults == [] and source.opened == 1 and source.slow_frames == 12


def test_formats_the_webcam_lacks_are_swapped_and_read_back_mjpeg_becomes_gray():
    bay = bay_on(FakeClock(), "uvc", formats=("MJPEG",))
    photo = code_images.phone_photo(code_images.render_ean13("3559217693026"), angle=4.0)
    scene = np.asarray(photo)
    bay.show(scene)
    source, _, faults = camera(bay)
    readings = frame_readings(source, ZxingDecoder())
    confirmed = next(r for r in itertools.islice(readings, 20) if r.confirmed)
    assert [c.text for c in confirmed.confirmed] == ["3559217693026"]
    assert bay.cameras[0].config["main"]["format"] == "MJPEG"  # asked YUYV, got MJPEG
    frame = first_frames(source.frames())[0]
    assert frame.pixels.shape == scene.shape[:2] and frame.pixels.dtype == np.uint8
    assert np.abs(frame.pixels.astype(int) - scene[:720, :1280]).mean() < 3  # JPEG is lossy
    assert faults == []


@pytest.mark.parametrize("fmt", ["RGB888", "BGR888", "XBGR8888", "XRGB8888", "UYVY", "YUYV"])
def test_every_format_libcamera_may_swap_in_is_read_as_gray(fmt):
    bay = bay_on(FakeClock(), formats=(fmt,))
    scene = np.random.default_rng(3).integers(0, 256, (720, 1280), dtype=np.uint8)
    bay.show(scene)
    source, _, _ = camera(bay)
    frame = first_frames(source.frames())[0]
    assert np.array_equal(frame.pixels, scene)


def test_colour_is_weighted_to_luma_in_the_right_channel_order():
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 0] = 255  # R, G, B as PIL decodes MJPEG
    assert y_plane(red, "MJPEG", (2, 2)).tolist() == [[76, 76], [76, 76]]
    assert y_plane(red, "RGB888", (2, 2))[0, 0] == 29  # picamera2's RGB888 is B, G, R
    assert y_plane(np.dstack([red, red[..., :1]]), "XRGB8888", (2, 2))[0, 0] == 29


def test_a_webcam_size_is_adjusted_and_read_back():
    bay = bay_on(FakeClock(), "uvc")
    source, _, _ = camera(bay, CameraSettings(size=(1024, 576)))
    frame = first_frames(source.frames())[0]
    assert frame.pixels.shape == (720, 1280)


def test_a_format_the_kiosk_cannot_read_is_a_camera_fault_with_a_clear_line(caplog):
    bay = bay_on(FakeClock(), formats=("RGB161616",))
    source, _, faults = camera(bay)
    assert take(source, 5) == [None] * 5
    assert faults == [True]
    assert "delivers RGB161616, which the kiosk cannot read" in caplog.text


def test_a_code_shown_to_the_camera_is_decoded():
    bay = bay_on(FakeClock())
    photo = code_images.phone_photo(code_images.render_ean13("3559217693026"), angle=4.0)
    bay.show(np.asarray(photo))
    source, _, _ = camera(bay)
    readings = frame_readings(source, ZxingDecoder())
    confirmed = next(r for r in itertools.islice(readings, 20) if r.confirmed)
    assert [c.text for c in confirmed.confirmed] == ["3559217693026"]


# --- losing the camera and getting it back ------------------------------------------------


def until_frame(stream, clock: FakeClock, limit_s: float = 120.0) -> Frame:
    start = clock.now
    for item in stream:
        if item is not None:
            return item
        assert clock.now - start < limit_s, "the camera never came back"
    raise AssertionError("the stream ended")


@pytest.mark.parametrize("start_fails", [True, False])
def test_a_ribbon_pulled_is_a_fault_once_and_put_back_is_frames_again_within_3_s(start_fails):
    clock = FakeClock()
    bay = bay_on(clock, start_fails=start_fails)
    source, _, faults = camera(bay)
    stream = source.frames()
    first_frames(stream, 3)
    bay.plugged = False
    bay.calls.clear()
    pulled = clock.now
    opens_at: list[float] = []
    while clock.now - pulled < 12:
        calls = len(bay.calls)
        assert next(stream) is None
        if "open" in bay.calls[calls:]:
            opens_at.append(clock.now)
    # No frame for as long as a start may take → the documented order for a loose cable.
    assert [c for c in bay.calls if c != "capture"][:3] == ["flush", "stop", "close"]
    assert faults == [True]
    gaps = [b - a for a, b in itertools.pairwise(opens_at)]
    assert gaps and min(gaps) >= 1.0 - 1e-6, "re-opening never faster than a start"
    assert 3 <= len(opens_at) <= 8
    bay.plugged = True
    back = clock.now
    frame = until_frame(stream, clock)
    assert frame.timestamp - back < 3.0
    assert faults == [True, False]


def test_a_usb_webcam_unplugged_vanishes_and_is_opened_again_when_back():
    clock = FakeClock()
    bay = bay_on(clock, "uvc")
    source, _, faults = camera(bay)
    stream = source.frames()
    first_frames(stream, 2)
    bay.plugged = False
    for _ in range(40):
        assert next(stream) is None
    assert faults == [True] and bay.listed() == []
    bay.plugged = True
    back = clock.now
    assert until_frame(stream, clock).timestamp - back < 3.0
    assert faults == [True, False] and source.opened == 2


def test_no_camera_at_start_shows_the_fault_and_backs_off_the_longer_it_is_away():
    clock = FakeClock()
    bay = bay_on(clock, present=False)
    source, _, faults = camera(bay)
    opens_at: list[float] = []
    stream = source.frames()
    while clock.now < 100.0 + 300:
        calls = len(bay.calls)
        assert next(stream) is None
        if "open" in bay.calls[calls:]:
            opens_at.append(clock.now)
    assert faults == [True]
    assert max(b - a for a, b in itertools.pairwise(clock.sleeps and [0, *clock.sleeps])) < 1
    gaps = [b - a for a, b in itertools.pairwise(opens_at)]
    assert gaps[:3] == pytest.approx([1.0, 2.0, 2.0], abs=0.25)
    assert max(gaps) == pytest.approx(10.0, abs=0.25)  # after a minute away
    assert 30 <= len(opens_at) <= 60  # where a fixed 1 s would make 300


def test_close_stops_the_frames_and_releases_the_camera():
    bay = bay_on(FakeClock())
    source, _, _ = camera(bay)
    stream = source.frames()
    first_frames(stream)
    source.close()
    assert list(stream) == []
    assert bay.calls[-3:] == ["flush", "stop", "close"]
    assert bay.cameras[0].closed and bay.cameras[0].held == []


def test_the_kiosk_keeps_ticking_and_shows_the_camera_banner_while_the_camera_is_lost():
    clock = FakeClock()
    bay = bay_on(clock)
    inbox: queue.SimpleQueue = queue.SimpleQueue()  # the loop's, as bootstrap hands it over

    def relay(lost: bool) -> None:
        inbox.put(FaultChanged(Fault.CAMERA, lost, clock()))

    source = CameraFrames(backend=bay.backend, on_fault=relay, clock=clock, sleep=clock.sleep)

    def script():
        stream = frame_readings(source, ZxingDecoder())
        for i, reading in enumerate(stream):
            if i == 10:
                bay.plugged = False
            if i == 60:
                bay.plugged = True
            if i == 120:
                return
            yield reading

    signals = RecordingSignals()
    kiosk = Kiosk(readings=script(), checker=None, signals=[signals], result_seconds=0,
                  inbox=inbox)
    kiosk.run()
    banners = [Fault.CAMERA in s.faults for s in signals.states]
    assert banners.count(True) >= 1 and banners[-1] is False
    assert all(s.phase is Phase.IDLE for s in signals.states)
    assert signals.ticks >= 120  # one tick per reading, frames or not


def test_without_picamera2_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraUnavailable, match="python3-picamera2"):
        load_picamera2()
    with pytest.raises(CameraUnavailable):
        CameraFrames()


def test_sensor_modes_that_cannot_be_listed_leave_the_choice_to_libcamera():
    bay = bay_on(FakeClock())
    bay.modes_fail = True
    source, _, faults = camera(bay)
    assert first_frames(source.frames())[0] is not None
    assert not bay.cameras[0].config["sensor"] and faults == []


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


# --- a slow stack, odd formats, a pulled webcam, an old picamera2 -------------------------


def frames_within(stream, clock: FakeClock, seconds: float) -> list[Frame]:
    start, got = clock.now, []
    while clock.now - start < seconds:
        item = next(stream)
        if item is not None and item.timestamp - start <= seconds:
            got.append(item)
    return got


@pytest.mark.parametrize("fps", [15.0, 5.0])
def test_a_slow_camera_stack_starts_first_time_and_is_never_reopened(fps):
    clock = FakeClock()
    bay = bay_on(clock, costs=SLOW_PI)  # a 1 s manager, 0.3 s a configure
    source, _, faults = camera(bay, CameraSettings(fps=fps))
    frames = frames_within(source.frames(), clock, 8.0)
    cam = bay.cameras[0]
    assert source.opened == 1 and bay.calls.count("open") == 1 and faults == []
    # Creating, probing and configuring took over 2 s; the window began at start().
    assert cam.started_at - 100.0 > 2.0
    assert frames[0].timestamp - cam.started_at == pytest.approx(8 / fps, abs=0.01)
    assert len(frames) >= int((100.0 + 8.0 - frames[0].timestamp) * fps) - 1


def test_the_chosen_sensor_mode_is_kept_so_a_reopen_configures_once():
    clock = FakeClock()
    bay = bay_on(clock, costs=SLOW_PI)
    source, _, faults = camera(bay)
    stream = source.frames()
    first_frames(stream)
    bay.plugged = False
    until_none = clock.now
    while source.opened < 2 and clock.now - until_none < 30:
        if next(stream) is None and not bay.plugged and clock.now - until_none > 3:
            bay.plugged = True
    until_frame(stream, clock)
    second = bay.cameras[-1]
    opened_at = max(i for i, call in enumerate(bay.calls) if call == "open")
    assert bay.calls[opened_at:].count("configure") == 1  # no second probe of the modes
    assert second.config["sensor"] == {"output_size": (2304, 1296)}  # still the full view
    assert faults == [True, False]


def test_an_nv12_webcam_is_read_from_its_y_plane():
    bay = bay_on(FakeClock(), "uvc", formats=("MJPEG", "NV12"), stride=1344)
    scene = np.random.default_rng(4).integers(0, 256, (720, 1280), dtype=np.uint8)
    bay.show(scene)
    source, _, faults = camera(bay)
    frames = first_frames(source.frames(), 3)
    assert bay.cameras[0].config["main"]["format"] == "NV12"
    assert all(np.array_equal(f.pixels, scene) for f in frames)
    assert frames[0].pixels.flags.c_contiguous
    assert source.opened == 1 and faults == []


def test_a_webcam_pulled_and_put_back_three_times_gives_frames_and_leaks_nothing():
    clock = FakeClock()
    bay = bay_on(clock, "uvc")
    source, _, faults = camera(bay)
    stream = source.frames()
    first_frames(stream)
    for _ in range(3):
        bay.plugged = False
        for _ in range(30):
            assert next(stream) is None
        bay.plugged = True
        back = clock.now
        assert until_frame(stream, clock).timestamp - back < 3.0
    live = bay.cameras[-1]
    assert bay.leaked() == [] and bay.manager.cameras == {0: live}
    assert all(cam.closed for cam in bay.cameras if cam is not live)
    assert source.opened == 4 and faults == [True, False] * 3


def test_picamera2_before_0_3_20_is_refused_with_the_doctors_words():
    from kiosk.ops.doctor import Doctor

    bay = bay_on(FakeClock(), version="0.3.19")
    with pytest.raises(CameraUnavailable) as refused:
        camera(bay)
    assert "picamera2 0.3.19 is older than 0.3.20" in str(refused.value)
    doctor = Doctor({}, version_of=lambda name: "0.3.19", has_module=lambda name: True)
    assert doctor.picamera2_finding("0.3.19").detail in str(refused.value)
    assert bay.calls == []  # refused before any camera was touched: nothing to hang on


def test_a_picamera2_without_flush_is_refused_even_when_its_version_is_unknown():
    bay = bay_on(FakeClock(), version="0.3.19")
    bay.backend.version = None
    with pytest.raises(CameraUnavailable, match="cancel_all_and_flush"):
        camera(bay)


def test_camera_nodes_refused_by_the_device_policy_end_the_source_for_a_restart():
    from pathlib import Path

    from kiosk.ops.devices import DeviceDenied

    clock = FakeClock()
    bay = bay_on(clock, present=False)  # libcamera skips nodes it may not open: no camera
    answers = [[], [], [Path("/dev/video0")]]  # the node appears, its driver too late
    source, _, faults = camera(bay, refused_nodes=lambda: answers.pop(0) if answers else [])
    stream = source.frames()
    with pytest.raises(DeviceDenied, match=r"/dev/video0 refused .* \(EPERM\)"):
        while True:
            assert next(stream) is None
    assert bay.calls.count("open") == 3 and faults == [True]  # two ordinary retries first
