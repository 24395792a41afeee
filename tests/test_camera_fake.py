"""The camera fake keeps picamera2's rules: what the real library refuses, it refuses; what
the real library adjusts or tolerates, it adjusts or tolerates (picamera2 0.3.36 source)."""

from __future__ import annotations

from concurrent.futures import CancelledError

import pytest

from tests.fakes.camera import SLOW_PI, FakeCameraBay, WouldHang
from tests.fakes.clock import FakeClock


def started(model: str = "imx708", fps: float = 15.0, queue: bool = False, **kwargs):
    clock = FakeClock()
    bay = FakeCameraBay(model, clock=clock, sleep=clock.sleep, **kwargs)
    cam = bay.backend.Picamera2(0)
    period = round(1e6 / fps)
    controls = {"FrameDurationLimits": (period, period)} if model != "uvc" else {}
    cam.configure(cam.create_video_configuration(
        main={"size": (1280, 720), "format": "YUV420"}, controls=controls, buffer_count=4,
        queue=queue))
    cam.start()
    return bay, cam, clock


def test_a_capture_waits_for_the_start_up_frames_and_times_out_as_picamera2_does():
    _bay, cam, clock = started()
    with pytest.raises(TimeoutError), cam.captured_request(wait=0.5):
        pass  # the 8th frame (the first one kept) comes at 0.53 s
    with cam.captured_request(wait=0.5) as request:
        # The timed-out job took the 8th frame; this one gets the 9th.
        assert request.timestamp - cam.started_at == pytest.approx(9 / 15, abs=1e-3)
    # The forgotten job's frame was never released: that buffer is gone for good.
    assert len([j for j in cam.jobs if j.frame_time <= clock.now]) == 1


def test_timed_out_jobs_that_are_never_flushed_stall_the_camera():
    _bay, cam, clock = started()
    for _ in range(4):  # one per buffer: each takes a frame nobody releases
        with pytest.raises(TimeoutError), cam.captured_request(wait=0.01):
            pass
    clock.sleep(1.0)
    with pytest.raises(TimeoutError), cam.captured_request(wait=5.0):
        pass


def test_flushing_cancels_the_waiting_job_and_frees_its_frame():
    _bay, cam, _clock = started()
    job = cam.capture_request(wait=False)
    with pytest.raises(TimeoutError):
        cam.wait(job, 0.1)
    cam.cancel_all_and_flush()
    with pytest.raises(CancelledError):
        cam.wait(job, 1.0)
    with cam.captured_request(wait=1.0) as request:
        assert request.timestamp - cam.started_at == pytest.approx(8 / 15, abs=1e-3)


def test_wait_zero_is_falsy_and_returns_the_job_and_no_wait_blocks_for_ever():
    bay, cam, _clock = started()
    job = cam.capture_request(wait=0)
    assert hasattr(job, "get_result")
    cam.cancel_all_and_flush()
    bay.plugged = False
    with pytest.raises(WouldHang, match="block here for ever"):
        cam.capture_request()


def test_requests_are_released_once_and_mapped_only_while_held():
    bay, cam, _clock = started()
    request = cam.capture_request(wait=1.0)
    request.release()
    with pytest.raises(RuntimeError, match="negative ref_count"):
        request.release()
    with pytest.raises(AssertionError):
        bay.backend.MappedArray(request, "main")


def test_configure_refuses_what_picamera2_refuses():
    clock = FakeClock()
    bay = FakeCameraBay("imx219", clock=clock, sleep=clock.sleep)
    cam = bay.backend.Picamera2(0)
    with pytest.raises(RuntimeError, match="not advertised"):
        cam.configure(cam.create_video_configuration(controls={"AfMode": 2}))
    with pytest.raises(RuntimeError, match="should be"):
        cam.configure(cam.create_video_configuration(main={"size": [1280, 720]}))
    with pytest.raises(RuntimeError, match="Bad format"):
        cam.configure(cam.create_video_configuration(main={"format": "H264"}))
    with pytest.raises(ValueError, match="Bad key"):
        cam.create_video_configuration(main={"fps": 15})
    with pytest.raises(TypeError):
        cam.create_video_configuration(frame_rate=15)
    with pytest.raises(RuntimeError, match="not been configured"):
        cam.start()
    with pytest.raises(RuntimeError, match="did not complete"):
        bay.backend.Picamera2(0)  # the first one still holds the camera


def test_configure_adjusts_a_format_the_webcam_lacks_and_writes_it_back():
    clock = FakeClock()
    bay = FakeCameraBay("uvc", clock=clock, sleep=clock.sleep)
    cam = bay.backend.Picamera2(0)
    config = cam.create_video_configuration(main={"size": (1280, 720), "format": "YUV420"})
    cam.configure(config)  # no error: libcamera adjusts, picamera2 logs and carries on
    assert cam.camera_config["main"]["format"] == "MJPEG"  # the first offered, fourcc order
    assert config["main"]["format"] == "MJPEG"  # the stream dict is the caller's own
    assert cam.stream_configuration("main")["stride"] == 1280


def test_a_pulled_ribbon_kills_the_stream_until_the_camera_is_started_anew():
    bay, cam, clock = started()
    with cam.captured_request(wait=2.0):
        pass
    bay.plugged = False
    clock.sleep(0.5)
    bay.plugged = True
    with pytest.raises(TimeoutError), cam.captured_request(wait=2.0):
        pass
    cam.cancel_all_and_flush()
    cam.stop()
    cam.close()
    again = bay.backend.Picamera2(0)
    again.configure(again.create_video_configuration(main={"format": "YUV420"}))
    again.start()
    with again.captured_request(wait=2.0) as request:
        assert request.timestamp - again.started_at == pytest.approx(8 / 30, abs=1e-3)  # 30 fps


# --- the harsh parts: cost, shutting down, formats, versions --------------------------------


def test_the_stack_costs_time_the_manager_once_per_life_and_modes_once_per_object():
    clock = FakeClock()
    bay = FakeCameraBay(clock=clock, sleep=clock.sleep, costs=SLOW_PI)
    cam = bay.backend.Picamera2(0)
    assert clock.now - 100.0 == pytest.approx(SLOW_PI.manager_s + SLOW_PI.open_s)
    before = clock.now
    modes = cam.sensor_modes
    assert clock.now - before == pytest.approx(3 * SLOW_PI.configure_s)  # one per mode
    assert cam.sensor_modes is modes and clock.now - before == pytest.approx(0.9)
    cam.close()
    assert bay.manager.cameras == {} and bay.manager.made == 1
    again = bay.backend.Picamera2(0)  # the manager went with the last camera: made anew
    assert bay.manager.made == 2
    before = clock.now
    assert again.sensor_modes == modes  # a new object probes again
    assert clock.now - before == pytest.approx(0.9)


def test_stop_waits_behind_a_capture_that_never_comes_unless_flushed_first():
    bay, cam, _clock = started()
    bay.plugged = False
    cam.capture_request(wait=False)
    with pytest.raises(WouldHang, match="cancel_all_and_flush"):
        cam.stop()
    cam.cancel_all_and_flush()
    cam.stop()
    cam.close()
    assert not bay.leaked() and bay.manager.cameras == {}


def test_a_pulled_webcam_fails_to_stop_and_close_leaving_it_registered_and_its_pipe_open():
    bay, cam, _clock = started("uvc")
    bay.plugged = False
    with pytest.raises(RuntimeError, match="No such device"):
        cam.stop()
    with pytest.raises(RuntimeError, match="No such device"):
        cam.close()
    assert bay.manager.cameras == {0: cam} and bay.leaked() == [cam]
    assert bay.backend.Picamera2.global_camera_info() == []
    bay.plugged = True  # a new device to libcamera: it opens although the old one is stuck
    again = bay.backend.Picamera2(0)
    assert bay.manager.cameras == {0: again} and bay.leaked() == [cam]


def test_mapped_array_refuses_nv12_and_reshape_false_gives_the_raw_bytes():
    bay, cam, _clock = started("uvc", formats=("MJPEG", "NV12"))
    assert cam.camera_config["main"]["format"] == "NV12"  # fourcc order: 'NV12' < 'MJPG'
    with cam.captured_request(wait=1.0) as request:
        with pytest.raises(RuntimeError, match="Format NV12 not supported"), \
                bay.backend.MappedArray(request, "main"):
            pass
        with bay.backend.MappedArray(request, "main", reshape=False) as mapped:
            assert mapped.array.shape == (1280 * 720 * 3 // 2,)


def test_before_0_3_20_there_is_no_flush_and_a_number_as_wait_blocks_for_ever():
    bay, cam, _clock = started(version="0.3.19")
    assert not hasattr(bay.backend.Picamera2, "cancel_all_and_flush")
    bay.plugged = False
    with pytest.raises(WouldHang):
        cam.capture_request(wait=0.5)
