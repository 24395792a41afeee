"""A stand-in for picamera2 and libcamera that keeps the real library's timing and rules.

Read against picamera2 0.3.36 (`picamera2.py`, `job.py`, `request.py`, `controls.py`) and
libcamera's Raspberry Pi and UVC pipelines. What it keeps, because the adapter depends on it:

- Time. After `start()` the sensor completes a frame every frame duration (from
  `FrameDurationLimits`, from frame 0 on); libcamera flags the first ones as start-up frames
  while exposure converges (imx708: 7) and picamera2 drops them, so at 15 fps the first frame
  a caller can get is the 8th, ≈ 0.53 s after `start()`. Time is the bay's clock: real time by
  default (the bench), a `FakeClock` in the tests.
- Jobs. `capture_request(wait=…)` queues a job that takes the next completed frame (with
  `queue=False` no frame is kept, so it is always the next one); `wait=None`/`True` blocks for
  ever, a number raises the builtin `TimeoutError` after that many seconds, and `False` (or
  `0`, which is falsy) returns the job, which `wait(job, timeout)` waits on. A timed-out job
  stays queued until `cancel_all_and_flush()`: it then takes a later frame, and a frame
  nobody fetches and releases is a buffer lost until the camera stops; with every buffer
  lost the camera stalls. Releasing a request twice raises, as `CompletedRequest.release`
  does.
- Configuration. `create_video_configuration` has the real keywords and stream keys;
  `configure` refuses what `check_camera_config` refuses (bad format names, odd or non-tuple
  sizes, unknown sensor keys, controls the camera does not advertise, configuring while
  started), and otherwise *adjusts*: a format the camera lacks becomes the first it offers
  (libcamera lists formats in fourcc order, so a UVC webcam with MJPEG and YUYV falls back to
  MJPEG), a size it lacks the nearest it has; the result is written back into
  `camera_config` (and into the caller's stream dict, which picamera2 copies shallowly).
- Buffers as `MappedArray` shows them: YUV420 (h*3/2, stride), YUYV (h, stride/2, 2),
  RGB888/BGR888 (h, w, 3), XBGR8888/XRGB8888 (h, w, 4), MJPEG decoded through PIL to an RGB
  (h, w, 3) array from a real JPEG.
- Losing the camera. A Pi camera whose ribbon is pulled stays listed (its driver probed at
  boot), but a running stream delivers nothing more, even once the ribbon is back, until the
  camera is stopped and started anew; starting while the ribbon is out fails (`start_fails`)
  or silently delivers nothing. A USB webcam pulled out vanishes from the camera list, and
  `Picamera2(n)` then fails with RuntimeError ("No camera number 0 found"). A camera not
  found at boot (`present=False`) is never listed. `stall(s)` drops the frames of the next
  `s` seconds (one slow frame), and opening a camera that another object still holds fails.
- Cost. Making libcamera's camera manager (at the first `global_camera_info()` or
  `Picamera2()`, and again after the last camera is closed, as picamera2 drops it then),
  opening a camera, each `configure()` and each sensor mode probed by the first read of
  `sensor_modes` (picamera2 configures once per mode) take the bay's `StackCosts`; `SLOW_PI`
  is a Pi 4 on a bad day (a 1 s manager, 0.3 s a configure).
- Shutting down (picamera2 0.3.20-0.3.38 `close()`, `stop()`, `cancel_all_and_flush()`).
  `stop()` is a job queued behind the capture jobs: while one waits for a frame that never
  comes, stop never returns (`WouldHang`) unless `cancel_all_and_flush()` went first. A USB
  webcam pulled out is gone for libcamera: `stop()` raises ENODEV ("Failed to stop camera:
  No such device"), so `close()` raises before it releases the camera, leaving it in
  picamera2's camera manager (`Picamera2._cm`) with its notify pipe (real file descriptors)
  open. A bay made with `version` below 0.3.20 has no `cancel_all_and_flush()`, and a number
  passed as `wait=` counts as True (blocks for ever).
- Formats. `MappedArray` refuses NV12/NV21 ("Format NV12 not supported", picamera2 up to
  0.3.36); `reshape=False` gives the raw bytes of the buffer (Y plane, then the chroma; for
  MJPEG the compressed JPEG). A UVC webcam's formats are kept in fourcc order, as libcamera
  lists them, so an adjusted format is the first of those.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum
from types import SimpleNamespace
from typing import Any

import numpy as np
from PIL import Image

# Camera Module 3 (imx708) sensor modes, as picamera2 lists them (abridged).
IMX708_MODES = [
    {"size": (1536, 864), "fps": 120.13, "crop_limits": (768, 432, 3072, 1728)},
    {"size": (2304, 1296), "fps": 56.03, "crop_limits": (0, 0, 4608, 2592)},
    {"size": (4608, 2592), "fps": 14.35, "crop_limits": (0, 0, 4608, 2592)},
]
IMX708_CONTROLS = {
    "AfMode": (0, 2, 0), "AfSpeed": (0, 1, 0), "AfRange": (0, 2, 0),
    "LensPosition": (0.0, 32.0, 1.0),
    "ExposureValue": (-8.0, 8.0, 0.0), "AeMeteringMode": (0, 3, 0), "AeConstraintMode": (0, 3, 0),
    "ExposureTime": (26, 220417486, 20000), "AnalogueGain": (1.0, 16.0, 1.0),
    "FrameDurationLimits": (8333, 220489081, 33333), "NoiseReductionMode": (0, 4, 0),
}
# Camera Module 2 (imx219): fixed focus.
IMX219_MODES = [
    {"size": (1920, 1080), "fps": 47.57, "crop_limits": (680, 692, 1920, 1080)},
    {"size": (1640, 1232), "fps": 41.85, "crop_limits": (0, 0, 3280, 2464)},
    {"size": (3280, 2464), "fps": 21.19, "crop_limits": (0, 0, 3280, 2464)},
]
IMX219_CONTROLS = {k: v for k, v in IMX708_CONTROLS.items() if not k.startswith(("Af", "Lens"))}
UVC_CONTROLS = {"ExposureValue": (-8.0, 8.0, 0.0)}

# The Pi ISP's output formats; a UVC webcam offers what its descriptors list, in fourcc order.
ISP_FORMATS = ("YUV420", "YVU420", "YUYV", "UYVY", "RGB888", "BGR888", "XBGR8888", "XRGB8888")
UVC_FORMATS = ("MJPEG", "YUYV")
UVC_SIZES = ((640, 480), (1280, 720), (1920, 1080))
UVC_FPS = 30.0  # a webcam without FrameDurationLimits runs at its mode's rate
# picamera2's check_stream_config accepts these names (formats.is_YUV / is_RGB, plus MJPEG).
KNOWN_FORMATS = frozenset(ISP_FORMATS) | {"MJPEG", "YVYU", "VYUY", "NV12", "NV21",
                                          "RGB161616", "BGR161616"}
STARTUP_FRAMES = {"imx708": 7, "imx219": 7, "uvc": 0}  # dropped after every start()
ENODEV = "Failed to stop camera: No such device"  # libcamera's binding: std::system_error


@dataclass(frozen=True)
class StackCosts:
    """What the camera stack's calls take, in seconds (guesses, not measured on a Pi: L)."""

    manager_s: float = 0.1  # libcamera's CameraManager: enumerate, load the IPA modules
    open_s: float = 0.15  # Picamera2(n): acquire, make the default configurations
    configure_s: float = 0.03  # each configure(), and each mode `sensor_modes` probes
    start_s: float = 0.02


FAST = StackCosts()
SLOW_PI = StackCosts(manager_s=1.0, open_s=0.2, configure_s=0.3, start_s=0.05)


class WouldHang(BaseException):
    """The real call would never return. A BaseException, so that no `except Exception`
    in the code under test can swallow it: the test fails where the kiosk would hang."""


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def fourcc(name: str) -> int:
    """libcamera's PixelFormat order: the little-endian fourcc (MJPEG is 'MJPG')."""
    code = {"MJPEG": "MJPG"}.get(name, name)[:4].ljust(4)
    return int.from_bytes(code.encode(), "little")


class AfModeEnum(IntEnum):
    Manual = 0
    Auto = 1
    Continuous = 2


class AfSpeedEnum(IntEnum):
    Normal = 0
    Fast = 1


class AfRangeEnum(IntEnum):
    Normal = 0
    Macro = 1
    Full = 2


class AeMeteringModeEnum(IntEnum):
    CentreWeighted = 0
    Spot = 1
    Matrix = 2


class AeConstraintModeEnum(IntEnum):
    Normal = 0
    Highlight = 1


CONTROLS = SimpleNamespace(
    AfModeEnum=AfModeEnum, AfSpeedEnum=AfSpeedEnum, AfRangeEnum=AfRangeEnum,
    AeMeteringModeEnum=AeMeteringModeEnum, AeConstraintModeEnum=AeConstraintModeEnum,
)


class FakeCameraBay:
    """The world the fake cameras live in: what is plugged in and when, what the camera sees,
    the clock, and a log of calls so that tests can assert the order of the recovery steps."""

    def __init__(
        self,
        model: str = "imx708",
        stride: int | None = None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        present: bool = True,
        formats: tuple[str, ...] | None = None,
        start_fails: bool = True,
        costs: StackCosts = FAST,
        version: str = "0.3.36",
    ) -> None:
        import time

        self.model = model
        self.costs = costs
        self.version = version
        self.stride = stride
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.present = present
        self.formats = formats or (UVC_FORMATS if model == "uvc" else ISP_FORMATS)
        if model == "uvc":
            self.formats = tuple(sorted(self.formats, key=fourcc))
        self.start_fails = start_fails  # starting with the ribbon out raises (else: silence)
        self.startup_frames = STARTUP_FRAMES[model]
        self.scene = np.zeros((720, 1280), np.uint8)
        self.calls: list[str] = []
        self.cameras: list[FakePicamera2] = []
        self.captures = 0
        self.modes_fail = False  # listing sensor modes fails (picamera2 probes by configuring)
        self._plug_log: list[tuple[float, bool]] = []  # (when, plugged) in time order
        self._stalls: list[tuple[float, float]] = []
        self.manager = FakeCameraManager(self)
        bay = self
        old = version_tuple(version) < (0, 3, 20)

        class Picamera2(FakePicamera2 if old else FlushingPicamera2):  # type: ignore[misc]
            _cm = bay.manager  # picamera2's global camera manager, one per process

            def __init__(self, camera_num: int = 0) -> None:
                super().__init__(bay, camera_num)

            @staticmethod
            def global_camera_info() -> list[dict[str, Any]]:
                bay.manager.cms  # noqa: B018  (made on first use, at its cost)
                return bay.listed()

        self.backend = SimpleNamespace(
            Picamera2=Picamera2, MappedArray=FakeMappedArray, controls=CONTROLS, version=version
        )

    # --- what the test does to the world ------------------------------------------------

    def show(self, pixels: np.ndarray) -> None:
        self.scene = pixels

    @property
    def plugged(self) -> bool:
        return self.plugged_at(self.clock())

    @plugged.setter
    def plugged(self, value: bool) -> None:
        self.plug_at(self.clock(), value)

    def plug_at(self, when: float, value: bool) -> None:
        """The ribbon (or USB plug) goes out (False) or back in (True) at `when`."""
        self._plug_log.append((when, value))
        self._plug_log.sort(key=lambda event: event[0])

    def device_at(self, when: float) -> int:
        """Which plugging-in of the device is there at `when` (a USB webcam put back is a new
        device to libcamera; a ribbon is not)."""
        return sum(1 for at, value in self._plug_log if at <= when and value)

    def gone(self, camera: FakePicamera2) -> bool:
        """A USB webcam pulled out (or replaced by a new plugging-in) since `camera` opened."""
        now = self.clock()
        return self.model == "uvc" and (not self.plugged_at(now)
                                        or self.device_at(now) != camera.device)

    def leaked(self) -> list[FakePicamera2]:
        """Cameras no longer in use whose notify pipe is still open (picamera2's close()
        releases it last, after stopping)."""
        live = [cam for cam in self.cameras if cam.is_open and not self.gone(cam)]
        return [cam for cam in self.cameras if cam not in live and cam.pipe_open()]

    def plugged_at(self, when: float) -> bool:
        state = True
        for at, value in self._plug_log:
            if at > when:
                break
            state = value
        return state

    def pulled_between(self, start: float, end: float) -> float | None:
        """When the ribbon first went out in (start, end], if it did."""
        if not self.plugged_at(start):
            return start
        for at, value in self._plug_log:
            if start < at <= end and not value:
                return at
        return None

    def stall(self, seconds: float) -> None:
        """No frame completes for the next `seconds` (a slow or corrupt frame or two)."""
        now = self.clock()
        self._stalls.append((now, now + seconds))

    def stalled(self, when: float) -> bool:
        return any(a <= when < b for a, b in self._stalls)

    def listed(self) -> list[dict[str, Any]]:
        if not self.present or (self.model == "uvc" and not self.plugged):
            return []
        where = ("/base/axi/pcie@120000/rp1/usb@200000-1:1.0-046d:0825" if self.model == "uvc"
                 else "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a")
        return [{"Model": self.model, "Id": where, "Num": 0}]


class FakeCameraManager:
    """picamera2's `CameraManager` (`Picamera2._cm`): the cameras open in this process by
    libcamera index, and libcamera's manager, made on first use and dropped with the last
    camera."""

    def __init__(self, bay: FakeCameraBay) -> None:
        self.bay = bay
        self.cameras: dict[int, FakePicamera2] = {}
        self._cms: object | None = None
        self.made = 0

    @property
    def cms(self) -> object:
        if self._cms is None:
            self.bay.sleep(self.bay.costs.manager_s)
            self._cms = object()
            self.made += 1
        return self._cms

    def add(self, index: int, camera: FakePicamera2) -> None:
        self.cameras[index] = camera

    def cleanup(self, index: int) -> None:
        del self.cameras[index]
        if not self.cameras:
            self._cms = None


class FakeJob:
    """picamera2's Job: a queued wish for the next completed frame, and its future. Once its
    frame has come the request is the job's until someone fetches and releases it: a job
    that is never fetched holds its buffer for good."""

    def __init__(self, camera: FakePicamera2) -> None:
        self.camera = camera
        self.frame_time: float = math.inf  # when its frame completes (inf: never)
        self.cancelled = False

    def get_result(self, timeout: float | None = None) -> FakeCompletedRequest:
        bay = self.camera.bay
        if self.cancelled:
            from concurrent.futures import CancelledError

            raise CancelledError
        now = bay.clock()
        if timeout is None:
            if self.frame_time == math.inf:
                raise WouldHang("the real picamera2 would block here for ever")
        elif self.frame_time > now + timeout:
            bay.sleep(timeout)
            raise TimeoutError  # concurrent.futures.TimeoutError is the builtin since 3.11
        bay.sleep(max(0.0, self.frame_time - now))
        if self in self.camera.jobs:
            self.camera.jobs.remove(self)
        bay.captures += 1
        return FakeCompletedRequest(self.camera, self.frame_time)


class FakePicamera2:
    _cm: FakeCameraManager

    def __init__(self, bay: FakeCameraBay, camera_num: int) -> None:
        bay.calls.append("open")
        self.is_open = False  # picamera2 sets it first: a failed open leaves nothing to close
        # picamera2 looks the number up in the camera list before anything else.
        cameras = type(self).global_camera_info()  # type: ignore[attr-defined]
        if camera_num >= len(cameras):
            raise RuntimeError(f"No camera number {camera_num} found - use "
                               '"rpicam-hello --list-cameras" to check connected cameras')
        num = cameras[camera_num]["Num"]
        self.device = bay.device_at(bay.clock())
        if any(cam.camera_num == num and cam.is_open and not bay.gone(cam)
               for cam in bay.cameras):
            raise RuntimeError("Camera __init__ sequence did not complete.")  # EBUSY
        bay.sleep(bay.costs.open_s)
        # picamera2's notify pipe, real: closing it is part of what close() must do.
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.notifymeread = os.fdopen(r, "rb")
        self.notifyme_w = w
        self._pipe = (os.fstat(r).st_ino, w)
        self.bay = bay
        self.camera_num = self.camera_idx = num
        self.camera_config: dict[str, Any] = {}
        self.started = False
        self.controls_set: dict[str, Any] = {}
        self.jobs: list[FakeJob] = []
        self.held: list[FakeCompletedRequest] = []  # handed out, not yet released
        self._stream_start = math.inf
        self._last_frame = -math.inf  # the last frame any job took
        self._sensor_modes: list[dict[str, Any]] = []
        bay.cameras.append(self)
        bay.manager.add(num, self)
        self.is_open = True
        table = {"imx708": (IMX708_MODES, IMX708_CONTROLS),
                 "imx219": (IMX219_MODES, IMX219_CONTROLS), "uvc": ([], UVC_CONTROLS)}
        self._modes, self.camera_controls = table[bay.model]

    @property
    def closed(self) -> bool:
        return not self.is_open

    @property
    def config(self) -> dict[str, Any]:
        return self.camera_config

    def pipe_open(self) -> bool:
        """Whether this object's notify pipe is still open (an fd number may be reused by
        then, so the write end counts as open only while it is still this pipe)."""
        inode, w = self._pipe
        try:
            return not self.notifymeread.closed or os.fstat(w).st_ino == inode
        except OSError:
            return False

    @property
    def sensor_modes(self) -> list[dict[str, Any]]:
        if self.bay.model == "uvc":
            return [{"format": name} for name in self.bay.formats]
        if self._sensor_modes:  # picamera2 keeps them, per Picamera2 object
            return self._sensor_modes
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        for _mode in self._modes:  # one configure per mode
            self.bay.calls.append("configure")
            self.bay.sleep(self.bay.costs.configure_s)
            if self.bay.modes_fail:
                raise RuntimeError("Failed to configure camera")
        self._sensor_modes = [dict(mode) for mode in self._modes]
        return self._sensor_modes

    def create_video_configuration(
        self, main: dict[str, Any] | None = None, lores: Any = None, raw: Any = None,
        transform: Any = None, colour_space: Any = None, buffer_count: int = 6,
        controls: dict[str, Any] | None = None, display: str | None = "main",
        encode: str | None = "main", queue: bool = True, sensor: dict[str, Any] | None = None,
        use_case: str = "video",
    ) -> dict[str, Any]:
        assert not self.closed, "Camera not opened"
        stream = {"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True}
        for key, value in (main or {}).items():
            if key not in ("format", "size", "stride", "preserve_ar"):
                raise ValueError(f"Bad key {key!r}: valid stream configuration keys are ...")
            stream[key] = value
        defaults: dict[str, Any] = {}
        if {"NoiseReductionMode", "FrameDurationLimits"} <= set(self.camera_controls):
            defaults = {"NoiseReductionMode": 1, "FrameDurationLimits": (33333, 33333)}
        usb = self.bay.model == "uvc"
        return {"use_case": use_case, "buffer_count": buffer_count, "queue": queue,
                "main": stream, "lores": lores, "raw": None if usb else raw,
                "controls": defaults | (controls or {}),
                "sensor": None if usb else (sensor or {}),
                "display": display, "encode": encode}

    def configure(self, config: dict[str, Any]) -> None:
        self.bay.calls.append("configure")
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        config = dict(config)  # shallow, as picamera2's: the stream dicts are the caller's
        main = config["main"]
        fmt, size = main.get("format"), main.get("size")
        if not isinstance(fmt, str) or fmt not in KNOWN_FORMATS:
            raise RuntimeError(f"Bad format {fmt} in stream main")
        if type(size) is not tuple or len(size) != 2:
            raise RuntimeError("size in main stream should be (width, height)")
        if size[0] % 2 or size[1] % 2:
            raise RuntimeError("width and height should be even")
        bad = set(config.get("sensor") or {}) - {"bit_depth", "output_size"}
        if bad:
            raise RuntimeError(f"Unexpected keys {bad} in sensor configuration")
        for name in config.get("controls", {}):
            if name not in self.camera_controls and name != "FrameRate":
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        self.bay.sleep(self.bay.costs.configure_s)
        # libcamera's validate(): adjust, never refuse, what the camera cannot do.
        if fmt not in self.bay.formats:
            fmt = self.bay.formats[0]
        if self.bay.model == "uvc" and size not in UVC_SIZES:
            wanted = size
            size = min(UVC_SIZES, key=lambda s: abs(s[0] - wanted[0]) + abs(s[1] - wanted[1]))
        width = size[0]
        main["format"], main["size"] = fmt, size
        bytes_per_pixel = {"YUYV": 2, "UYVY": 2, "YVYU": 2, "VYUY": 2, "RGB888": 3,
                           "BGR888": 3, "XBGR8888": 4, "XRGB8888": 4}.get(fmt, 1)
        main["stride"] = self.bay.stride or width * bytes_per_pixel
        self.camera_config = config
        self.controls_set = dict(config.get("controls", {}))

    def stream_configuration(self, name: str = "main") -> dict[str, Any]:
        return self.camera_config[name]

    def start(self) -> None:
        self.bay.calls.append("start")
        if not self.camera_config:
            raise RuntimeError("Camera has not been configured")
        if self.started:
            return
        self.bay.sleep(self.bay.costs.start_s)
        now = self.bay.clock()
        if (self.bay.start_fails and not self.bay.plugged_at(now)) or self.bay.gone(self):
            raise RuntimeError("Failed to start camera: Input/output error")
        self.started = True
        self.started_at = self._stream_start = now
        self._last_frame = now

    # --- frames and jobs ----------------------------------------------------------------

    @property
    def frame_period(self) -> float:
        limits = self.camera_config.get("controls", {}).get("FrameDurationLimits")
        if limits and "FrameDurationLimits" in self.camera_controls:
            return limits[0] / 1e6
        return 1.0 / UVC_FPS

    def _frames_after(self, after: float) -> Iterator[float]:
        """When the frames a job can take complete, the first after `after`."""
        if not self.started:
            return
        period, t0 = self.frame_period, self._stream_start
        # The stream dies at the first pull after it started; frames need a free buffer.
        k = max(self.bay.startup_frames + 1, math.floor((after - t0) / period) + 1)
        while True:
            when = t0 + k * period
            dead = self.bay.pulled_between(t0, when)
            if dead is not None and when >= dead:
                return
            taken = sum(j.frame_time <= when for j in self.jobs)  # done, never fetched
            if taken + len(self.held) >= self.camera_config["buffer_count"]:
                return  # every buffer is held: the pipeline has nothing to fill
            if when > after and not self.bay.stalled(when):
                yield when
            k += 1
            if when - after > 3600:
                return

    def _queue_job(self) -> FakeJob:
        now = self.bay.clock()
        job = FakeJob(self)
        if not self.camera_config.get("queue", True):
            after = max(now, self._last_frame)
        else:
            after = max(now - self.frame_period, self._last_frame)  # the kept frame, if any
        job.frame_time = next(self._frames_after(after), math.inf)
        if job.frame_time < math.inf:
            self._last_frame = job.frame_time
        self.jobs.append(job)
        return job

    def wait(self, job: FakeJob, timeout: float | None = None) -> FakeCompletedRequest:
        return job.get_result(timeout=timeout)

    def capture_request(self, wait: Any = None, signal_function: Any = None,
                        flush: Any = None) -> Any:
        assert flush is None, "the adapter does not use flush="
        self.bay.calls.append("capture")
        job = self._queue_job()
        if wait is None:
            wait = signal_function is None
        timeout = None if wait is True else wait
        if wait and version_tuple(self.bay.version) < (0, 3, 20):
            timeout = None  # before 0.3.20 a number counts as True
        return job.get_result(timeout=timeout) if wait else job

    @contextmanager
    def captured_request(self, wait: Any = None, flush: Any = None) -> Iterator[Any]:
        request = self.capture_request(wait=wait, flush=flush)
        try:
            yield request
        finally:
            request.release()

    def stop(self) -> None:
        self.bay.calls.append("stop")
        self._stop_job()

    def _stop_job(self) -> None:
        if not self.started:
            return
        # stop() is a job queued behind the capture jobs, run when they are done.
        now = self.bay.clock()
        waiting = [job.frame_time for job in self.jobs
                   if not job.cancelled and job.frame_time > now]
        if waiting:
            if max(waiting) == math.inf:
                raise WouldHang("stop() waits behind a capture job whose frame never comes: "
                                "cancel_all_and_flush() first")
            self.bay.sleep(max(waiting) - now)
        if self.bay.gone(self):
            raise RuntimeError(ENODEV)  # and picamera2 still counts the camera as started
        self._stop()

    def _stop(self) -> None:
        if not self.started:
            return
        self.started = False
        self._stream_start = math.inf
        self.jobs = []  # stopping recycles every request (a restart makes new ones)

    def close(self) -> None:
        self.bay.calls.append("close")
        if not self.is_open:
            return
        self._stop_job()  # raises for a webcam pulled out: nothing below is done then
        self._cm.cleanup(self.camera_idx)
        self.is_open = False
        self.camera_config = {}
        self.notifymeread.close()
        os.close(self.notifyme_w)


class FlushingPicamera2(FakePicamera2):
    """picamera2 0.3.20 and later."""

    def cancel_all_and_flush(self) -> None:
        self.bay.calls.append("flush")
        now = self.bay.clock()
        for job in self.jobs:
            job.cancelled = job.frame_time > now  # a job whose frame came is done already
        self.jobs = [job for job in self.jobs if not job.cancelled]
        self._last_frame = min(self._last_frame, now)


class FakeCompletedRequest:
    def __init__(self, camera: FakePicamera2, when: float) -> None:
        self.camera = camera
        self.request: object | None = object()
        self.config = dict(camera.camera_config)
        self.config["main"] = dict(camera.camera_config["main"])
        self.scene = camera.bay.scene
        self.timestamp = when
        self.ref_count = 1
        camera.held.append(self)

    def release(self) -> None:
        self.ref_count -= 1
        if self.ref_count < 0:
            raise RuntimeError("CompletedRequest: lock now has negative ref_count")
        if self.ref_count == 0:
            self.camera.held.remove(self)
            self.request = None

    def buffer(self) -> np.ndarray:
        """The main stream's buffer, shaped as picamera2's `_make_array_shared` shapes it."""
        main = self.config["main"]
        (width, height), fmt, stride = main["size"], main["format"], main["stride"]
        grey = np.zeros((height, width), np.uint8)
        h, w = min(height, self.scene.shape[0]), min(width, self.scene.shape[1])
        grey[:h, :w] = self.scene[:h, :w]
        if fmt in ("YUV420", "YVU420", "NV12", "NV21"):
            out = np.full((height * 3 // 2, stride), 128, np.uint8)  # U, V: neutral grey
            out[:height, :width] = grey
            out[:height, width:] = 255  # padding past the width: must never reach a frame
            return out
        if fmt in ("YUYV", "YVYU", "UYVY", "VYUY"):
            out = np.full((height, stride // 2, 2), 128, np.uint8)
            out[:, :width, 0 if fmt in ("YUYV", "YVYU") else 1] = grey
            return out
        if fmt in ("RGB888", "BGR888", "XBGR8888", "XRGB8888"):
            channels = 4 if fmt.startswith("X") else 3
            out = np.full((height, width, channels), 255, np.uint8)
            out[..., :3] = grey[..., None]
            return out
        if fmt == "MJPEG":  # a real JPEG, decoded the way MappedArray decodes it (PIL, RGB)
            encoded = io.BytesIO()
            Image.fromarray(grey).convert("RGB").save(encoded, "JPEG", quality=90)
            return np.array(Image.open(io.BytesIO(encoded.getvalue())))
        raise RuntimeError("Format " + fmt + " not supported")

    def raw(self) -> np.ndarray:
        """The buffer's bytes as `MappedArray(..., reshape=False)` maps them: 1-D uint8."""
        if self.config["main"]["format"] == "MJPEG":
            encoded = io.BytesIO()
            Image.fromarray(self.buffer()).save(encoded, "JPEG", quality=90)
            return np.frombuffer(encoded.getvalue(), np.uint8)
        return np.ascontiguousarray(self.buffer()).reshape(-1)


class FakeMappedArray:
    def __init__(self, request: FakeCompletedRequest, stream: str, reshape: bool = True,
                 write: bool = True) -> None:
        if stream != "main":
            raise KeyError(stream)
        assert request.request is not None, "the request was already released"
        self._request = request
        self._reshape = reshape
        self.array: np.ndarray | None = None

    def __enter__(self) -> FakeMappedArray:
        if not self._reshape:
            self.array = self._request.raw()
            return self
        if self._request.config["main"]["format"] in ("NV12", "NV21"):
            # picamera2's _make_array_shared up to 0.3.36 has no branch for them.
            raise RuntimeError("Format " + self._request.config["main"]["format"]
                               + " not supported")
        self.array = self._request.buffer()
        return self

    def __exit__(self, *exc: object) -> None:
        self.array = None

