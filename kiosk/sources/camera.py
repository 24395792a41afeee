"""The Pi camera (or a USB webcam libcamera drives) as a `FrameSource`, through picamera2.

picamera2 and libcamera are imported when a `CameraFrames` is made, never at `import kiosk`:
on Raspberry Pi OS they come from apt (`python3-picamera2`, with the ABI-tied
`python3-libcamera`) into a venv made with `--system-site-packages`.

What it asks of the camera, and why:
- A YUV420 main stream at 1280×720, of which only the Y plane (the first `height` rows) is
  copied: the decoder wants gray, and copying Y alone is 1/3 less memory traffic than the
  whole buffer, with no colour conversion at all.
- A fixed frame rate (15 fps by default), which also caps the exposure time.
- The sensor mode with the *full field of view* closest above the output size (on a Camera
  Module 3 the pipeline would otherwise pick a 1536×864 centre crop).
- Continuous fast autofocus for near objects where the module has it (Camera Module 3), or a
  fixed lens position; exposure a stop or so under average, metered on the centre and
  holding back highlights, because the subject is a bright phone screen.

USB webcams (UVC) go through the same picamera2 path, which drives them through libcamera
since picamera2 0.3.6: no extra library, the same error handling. They offer YUYV (or
MJPEG, which is decoded in software and too slow); the Y samples are taken from YUYV, and
controls the webcam lacks (autofocus, frame rate) are left out.

The camera can vanish (a loose ribbon cable, a pulled USB plug) and picamera2 then just stops
delivering: every capture waits at most `frame_timeout_s`; after a timeout the pending jobs
are flushed and the camera stopped, closed and made anew, with a growing pause between tries.
While it is away, `frames()` yields None about every 0.2 s, so that the loop keeps drawing
the screen and feeding the watchdog, and `on_fault(True)` is called once (`False` once the
frames are back), which shows the camera banner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from kiosk.model import Frame

log = logging.getLogger(__name__)

AUTOFOCUS_MODES = ("continuous", "manual", "off")
IDLE_YIELD_S = 0.2  # how often frames() gives the loop a turn while the camera is away


class CameraError(Exception):
    """Base of the camera's errors."""


class CameraUnavailable(CameraError):
    """picamera2 (or libcamera's Python bindings) cannot be imported."""


@dataclass(frozen=True)
class CameraSettings:
    """What to ask of the camera; the defaults suit a phone screen at 10–30 cm."""

    size: tuple[int, int] = (1280, 720)
    fps: float = 15.0
    index: int = 0  # picamera2's camera number: Pi (CSI) cameras first, then USB ones
    autofocus: str = "continuous"
    lens_position: float = 6.5  # dioptres (1/m) for autofocus = "manual": ≈ 15 cm
    exposure_value: float = -1.0  # stops, applied while auto exposure is on
    exposure_time_us: int = 0  # 0 = auto exposure; > 0 = fixed shutter time

    def __post_init__(self) -> None:
        if self.autofocus not in AUTOFOCUS_MODES:
            raise ValueError(f"autofocus must be one of {AUTOFOCUS_MODES}, not {self.autofocus!r}")
        if self.fps <= 0 or min(self.size) <= 0:
            raise ValueError("fps and size must be positive")


def load_picamera2() -> SimpleNamespace:
    """picamera2's `Picamera2` and `MappedArray`, and libcamera's `controls`."""
    try:
        from libcamera import controls
        from picamera2 import MappedArray, Picamera2
    except ImportError as exc:
        raise CameraUnavailable(
            f"picamera2 cannot be imported ({exc}). On Raspberry Pi OS: "
            "sudo apt install python3-picamera2, and make the venv with --system-site-packages"
        ) from exc
    return SimpleNamespace(Picamera2=Picamera2, MappedArray=MappedArray, controls=controls)


def full_view_mode(
    modes: Sequence[dict[str, Any]], size: tuple[int, int], fps: float
) -> tuple[int, int] | None:
    """The output size of the smallest sensor mode that sees the whole sensor, is at least
    `size` and runs at `fps` or faster; None when no mode qualifies (let libcamera choose).

    A mode sees the whole sensor when its crop is (nearly) as wide and high as the widest
    mode's: binned modes do, cropped high-speed modes don't.
    """
    crops = [mode.get("crop_limits") for mode in modes if mode.get("crop_limits")]
    if not crops:
        return None
    full_w = max(crop[2] for crop in crops)
    full_h = max(crop[3] for crop in crops)
    fitting = [
        tuple(mode["size"])
        for mode in modes
        if mode.get("crop_limits")
        and mode["crop_limits"][2] >= 0.95 * full_w
        and mode["crop_limits"][3] >= 0.95 * full_h
        and mode["size"][0] >= size[0]
        and mode["size"][1] >= size[1]
        and mode.get("fps", 0) >= fps
    ]
    return min(fitting, key=lambda s: s[0] * s[1]) if fitting else None


def y_plane(array: np.ndarray, pixel_format: str, size: tuple[int, int]) -> np.ndarray:
    """A copy of the gray (Y) samples of a mapped YUV420 or YUYV buffer, `size` = (w, h).

    YUV420: Y is the first h rows (the rows may be wider than w: the stride). YUYV: picamera2
    gives (h, w, 2) with Y in [..., 0], or (h, stride) with Y in every other byte.
    """
    width, height = size
    if pixel_format == "YUYV":
        if array.ndim == 3:
            return np.ascontiguousarray(array[:height, :width, 0])
        return np.ascontiguousarray(array[:height, 0 : 2 * width : 2])
    return array[:height, :width].copy()


class CameraFrames:
    """A `FrameSource` over a picamera2 camera that survives the camera going away.

    `backend` is what `load_picamera2()` returns (the seam for tests: a fake with the same
    calls). `on_fault(lost)` is told when the camera is lost and when it is back.
    """

    def __init__(
        self,
        settings: CameraSettings | None = None,
        *,
        on_fault: Callable[[bool], None] | None = None,
        backend: Any = None,
        frame_timeout_s: float = 0.5,
        retry_s: tuple[float, float] = (0.5, 10.0),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or CameraSettings()
        self._backend = backend if backend is not None else load_picamera2()
        self._on_fault = on_fault or (lambda lost: None)
        self.frame_timeout_s = frame_timeout_s
        self._retry_first, self._retry_max = retry_s
        self._clock = clock
        self._sleep = sleep
        self._camera: Any = None
        self._format = "YUV420"
        self._size = self.settings.size
        self._lost = False
        self._closed = False
        self.opened = 0  # how many times a camera was opened (for tests and the log)

    def frames(self) -> Iterator[Frame | None]:
        """Frames while the camera delivers; None about every 0.2 s while it does not."""
        retry = self._retry_first
        while not self._closed:
            if self._camera is None:
                try:
                    self._open()
                except Exception as exc:  # libcamera raises anything; retry all
                    self._fault(f"cannot open the camera: {exc}")
                    yield from self._pause(retry)
                    retry = min(retry * 2, self._retry_max)
                    continue
            try:
                pixels = self._capture()
            except Exception as exc:  # a timeout or a dead pipeline: reopen
                self._fault(f"camera stopped delivering frames: {exc!r}")
                self._drop()
                yield None
                yield from self._pause(retry)
                retry = min(retry * 2, self._retry_max)
                continue
            retry = self._retry_first
            if self._lost:
                self._lost = False
                log.info("camera is back")
                self._on_fault(False)
            yield Frame(pixels, self._clock())

    def close(self) -> None:
        self._closed = True
        self._drop()

    # --- the camera's life ---------------------------------------------------------------

    def _open(self) -> None:
        s = self.settings
        camera = self._backend.Picamera2(s.index)
        try:
            available = dict(camera.camera_controls)
            usb = self._is_usb(s.index)
            self._format = "YUYV" if usb else "YUV420"
            controls = self._controls(available)
            kwargs: dict[str, Any] = {
                "main": {"size": s.size, "format": self._format},
                "controls": controls,
                "buffer_count": 4,
                "queue": False,  # never hand out a frame that waited in a queue
            }
            sensor = None if usb else self._full_view(camera)
            if sensor is not None:
                kwargs["sensor"] = {"output_size": sensor}
            config = camera.create_video_configuration(**kwargs)
            camera.configure(config)
            self._size = tuple(camera.stream_configuration("main")["size"])
            camera.start()
        except Exception:
            _quietly(camera.close)
            raise
        self._camera = camera
        self.opened += 1
        log.info("camera %d open: %dx%d %s at %g fps", s.index, *self._size, self._format, s.fps)

    def _full_view(self, camera: Any) -> tuple[int, int] | None:
        try:
            modes = camera.sensor_modes  # picamera2 probes the modes: it can fail
        except Exception as exc:  # then libcamera chooses, perhaps a crop, but frames come
            log.warning("cannot list the sensor modes (%s); the view may be cropped", exc)
            return None
        return full_view_mode(modes, self.settings.size, self.settings.fps)

    def _is_usb(self, index: int) -> bool:
        # libcamera names USB cameras by their USB path; Pi cameras by their I2C/CSI one.
        cameras = self._backend.Picamera2.global_camera_info()
        return index < len(cameras) and "/usb" in str(cameras[index].get("Id", ""))

    def _controls(self, available: dict[str, Any]) -> dict[str, Any]:
        """The libcamera controls to set, limited to those this camera has."""
        s = self.settings
        enums = self._backend.controls
        period_us = round(1_000_000 / s.fps)
        wanted: dict[str, Any] = {"FrameDurationLimits": (period_us, period_us)}
        if s.autofocus == "continuous":
            wanted.update(
                AfMode=enums.AfModeEnum.Continuous,
                AfSpeed=enums.AfSpeedEnum.Fast,
                AfRange=enums.AfRangeEnum.Macro,
            )
        elif s.autofocus == "manual":
            wanted.update(AfMode=enums.AfModeEnum.Manual, LensPosition=s.lens_position)
        if s.exposure_time_us > 0:
            # A fixed shutter, and AE's gain fixed too: both 0 would hand them back to AE.
            wanted.update(ExposureTime=s.exposure_time_us, AnalogueGain=1.0)
        else:
            wanted.update(
                ExposureValue=s.exposure_value,
                AeMeteringMode=enums.AeMeteringModeEnum.Spot,
                AeConstraintMode=enums.AeConstraintModeEnum.Highlight,
            )
        return {name: value for name, value in wanted.items() if name in available}

    def _capture(self) -> np.ndarray:
        camera = self._camera
        with (
            camera.captured_request(wait=self.frame_timeout_s) as request,
            self._backend.MappedArray(request, "main") as mapped,
        ):
            return y_plane(mapped.array, self._format, self._size)

    def _drop(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            # The order picamera2's own docs give for a camera whose cable came loose.
            _quietly(camera.cancel_all_and_flush)
            _quietly(camera.stop)
            _quietly(camera.close)

    def _fault(self, why: str) -> None:
        if not self._lost:
            self._lost = True
            log.error("%s; retrying", why)
            self._on_fault(True)
        else:
            log.debug("%s", why)

    def _pause(self, seconds: float) -> Iterator[None]:
        until = self._clock() + seconds
        while not self._closed:
            left = until - self._clock()
            if left <= 0:
                return
            self._sleep(min(IDLE_YIELD_S, left))
            yield None


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as exc:  # tidying up a camera that is already gone
        log.debug("ignored while closing the camera: %r", exc)
