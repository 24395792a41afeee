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
since picamera2 0.3.6: no extra library, the same error handling. The kiosk asks them for
YUYV; libcamera silently swaps in a format the webcam has (MJPEG, decoded by picamera2 to an
RGB array; or NV12, which picamera2's `MappedArray` refuses up to 0.3.36, so its Y plane is
read from the raw buffer), so the format is read back after configuring and converted to
gray whatever it is. Controls the webcam lacks (autofocus, frame rate) are left out.

Starting can be slow on a Pi 4: making libcamera's camera manager, opening the camera,
probing the sensor modes (one reconfigure each) and configuring can take seconds. None of
that counts against the first frame's wait, which starts when `start()` returns, and the
mode chosen for a camera (by its libcamera id) is kept, so a re-open does not probe again.
picamera2 older than 0.3.20 is refused (`camera_stack`): it cannot let go of a lost camera.

The camera can vanish (a loose ribbon cable, a pulled USB plug) and picamera2 then just stops
delivering, with no error. Frames are waited for with a deadline (see `CameraFrames`); when
none has come for as long as a start takes, the pending job is cancelled and the camera
stopped, closed and made anew, with a growing pause between tries. While no frame comes,
`frames()` yields None about every 0.2 s, so that the loop keeps drawing the screen and
feeding the watchdog, and `on_fault(True)` is called once (`False` once the frames are back),
which shows the camera banner. One failure is not retried: camera nodes refused by the
service's device policy (EPERM, `kiosk.ops.devices`) can only be cured by a restart, so
`frames()` raises `DeviceDenied` then, and the kiosk exits for systemd to start it again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from PIL import Image

from kiosk.model import Frame
from kiosk.ops.devices import CAMERA_NODES, denied, refused
from kiosk.sources.camera_stack import UPGRADE_ADVICE, installed_picamera2, too_old

log = logging.getLogger(__name__)

AUTOFOCUS_MODES = ("continuous", "manual", "off")
IDLE_YIELD_S = 0.2  # how often frames() gives the loop a turn while no frame comes
LONG_AWAY_S = 60.0  # away this long, the camera is tried less often


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
    """picamera2's `Picamera2` and `MappedArray`, libcamera's `controls`, and picamera2's
    version (None when its package metadata is missing)."""
    try:
        from libcamera import controls
        from picamera2 import MappedArray, Picamera2
    except ImportError as exc:
        raise CameraUnavailable(
            f"picamera2 cannot be imported ({exc}). On Raspberry Pi OS: "
            "sudo apt install python3-picamera2, and make the venv with --system-site-packages"
        ) from exc
    return SimpleNamespace(Picamera2=Picamera2, MappedArray=MappedArray, controls=controls,
                           version=installed_picamera2())


def full_view_mode(
    modes: Sequence[dict[str, Any]], size: tuple[int, int], fps: float
) -> tuple[int, int] | None:
    """The output size of the smallest sensor mode that sees the whole sensor, is at least
    `size` and runs at `fps` or faster; None when no mode qualifies (let libcamera choose).

    A mode sees the whole sensor when its crop is (nearly) as wide and high as the widest
    mode's: binned modes do, cropped high-speed modes don't.
    """
    crops = [crop for mode in modes if (crop := mode.get("crop_limits"))]
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


YUV_PLANAR = ("YUV420", "YVU420")  # Y first: h rows of `stride` bytes
# Y first too, then interleaved chroma; picamera2 up to 0.3.36 cannot shape them
# ("Format NV12 not supported"), so they are mapped unshaped and cut here.
YUV_SEMIPLANAR = ("NV12", "NV21")
# Packed 4:2:2 as picamera2 shapes it, (h, stride/2, 2): which of the two bytes is Y.
YUV_PACKED_Y = {"YUYV": 0, "YVYU": 0, "UYVY": 1, "VYUY": 1}
# Colour arrays, (h, w, 3 or 4), by the byte order PIL unpacks them in: picamera2's "RGB888"
# is B, G, R in memory (its PIL mode is "BGR"); MJPEG is decoded by PIL to R, G, B.
RGB_ORDER = {"MJPEG": "RGB", "BGR888": "RGB", "XBGR8888": "RGBX",
             "RGB888": "BGR", "XRGB8888": "BGRX"}
READABLE_FORMATS = (*YUV_PLANAR, *YUV_SEMIPLANAR, *YUV_PACKED_Y, *RGB_ORDER)
STARTUP_FRAMES = 8  # libcamera's start-up frames (imx708: 6 + 1), dropped, then the first kept
FIRST_FRAME_MARGIN = 4  # frame periods of slack: stream-on, a long first exposure


def first_frame_wait(fps: float) -> float:
    """How long the first frame may take, counted from when `start()` returns: the start-up
    frames come at the configured rate, so slow rates need longer; never under 2 s."""
    return max(2.0, (STARTUP_FRAMES + FIRST_FRAME_MARGIN) / fps)


def frame_wait(fps: float) -> float:
    """How long a later frame may take before it counts as slow."""
    return max(0.5, 3.0 / fps)


def y_plane(array: np.ndarray, pixel_format: str, size: tuple[int, int],
            stride: int | None = None) -> np.ndarray:
    """A contiguous gray copy of a mapped buffer of `pixel_format`, `size` = (w, h).

    YUV420: Y is the first h rows (the rows may be wider than w: the stride). NV12/NV21 come
    unshaped (1-D, mapped with `reshape=False`): Y is the first h rows of `stride` bytes.
    YUYV and kin:
    picamera2 gives (h, stride/2, 2), or (h, stride) as plain bytes. Colour (an MJPEG
    webcam, or RGB formats): luma from the three channels (BT.601 weights).
    """
    width, height = size
    if pixel_format in YUV_SEMIPLANAR and array.ndim == 1:
        rows = stride or width
        return array[: height * rows].reshape(height, rows)[:, :width].copy()
    if pixel_format in YUV_PACKED_Y:
        which = YUV_PACKED_Y[pixel_format]
        if array.ndim == 3:
            return np.ascontiguousarray(array[:height, :width, which])
        return np.ascontiguousarray(array[:height, which : 2 * width : 2])
    if pixel_format in RGB_ORDER and array.ndim == 3:
        # PIL's luma (ITU-R 601, in C): ~10x quicker than the same sums in numpy.
        pixels = np.ascontiguousarray(array[:height, :width])
        rawmode = RGB_ORDER[pixel_format] if pixels.shape[2] == len(RGB_ORDER[pixel_format]) \
            else "RGBX"[: pixels.shape[2]]
        image = Image.frombuffer("RGB", (width, height), pixels, "raw", rawmode, 0, 1)
        return np.asarray(image.convert("L")).copy()
    if pixel_format in YUV_PLANAR or array.ndim == 2:  # a gray JPEG decodes to (h, w)
        return array[:height, :width].copy()
    raise CameraError(f"the camera delivers {pixel_format}, which the kiosk cannot read")


class CameraFrames:
    """A `FrameSource` over a picamera2 camera that survives the camera going away.

    `backend` is what `load_picamera2()` returns (the seam for tests: a fake with the same
    calls). `on_fault(lost)` is told when the camera is lost and when it is back.

    Timing. One capture job is queued at a time (`capture_request(wait=False)`) and waited
    on in slices of at most 0.2 s (`wait(job, timeout)`), so the loop gets a turn (None)
    while a frame is due and no timed-out job is left queued to swallow a later frame. After
    `start()` the first frame may take `first_frame_wait` (the start-up frames); later ones
    `frame_wait`, past which a frame is slow (logged, counted) but the camera is not lost;
    it is lost only when no frame has come for as long as a start may take. Re-opening waits
    at least that start time between tries, doubling to 2 s for the first minute away (so a
    ribbon put back is seen within ~3 s) and to 10 s after that.
    """

    def __init__(
        self,
        settings: CameraSettings | None = None,
        *,
        on_fault: Callable[[bool], None] | None = None,
        backend: Any = None,
        retry_s: tuple[float, float, float] = (1.0, 2.0, 10.0),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        refused_nodes: Callable[[], list[Path]] = lambda: refused(Path("/dev"), CAMERA_NODES),
    ) -> None:
        self.settings = settings or CameraSettings()
        self._refused_nodes = refused_nodes
        self._backend = backend if backend is not None else load_picamera2()
        why = too_old(getattr(self._backend, "version", None),
                      hasattr(self._backend.Picamera2, "cancel_all_and_flush"))
        if why is not None:  # it would hang on the first lost camera: refuse it now
            raise CameraUnavailable(f"{why}; {UPGRADE_ADVICE}")
        self._on_fault = on_fault or (lambda lost: None)
        fps = self.settings.fps
        self.first_wait_s = first_frame_wait(fps)
        self.frame_wait_s = frame_wait(fps)
        first, short_max, long_max = retry_s
        self._retry_first = max(first, 10.0 / fps)  # never faster than the camera starts
        self._retry_caps = (max(short_max, self._retry_first), max(long_max, self._retry_first))
        self._clock = clock
        self._sleep = sleep
        self._camera: Any = None
        self._job: Any = None
        self._format = "YUV420"
        self._size = self.settings.size
        self._stride: int | None = None
        self._modes: dict[str, tuple[int, int] | None] = {}  # camera id -> mode chosen
        self._lost = False
        self._lost_since = 0.0
        self._last_frame = self._due = 0.0  # when the last frame came; when the next is due
        self._slow = False  # the frame now due is late already
        self._closed = False
        self._retry = self._retry_first
        self.opened = 0  # how many times a camera was opened (for tests and the log)
        self.slow_frames = 0  # frames later than `frame_wait_s` (the camera kept)

    def frames(self) -> Iterator[Frame | None]:
        """Frames while the camera delivers; None about every 0.2 s while it does not."""
        next_try = self._clock()
        while not self._closed:
            if self._camera is None:
                yield from self._pause(next_try - self._clock())
                if self._closed:
                    return
                next_try = self._clock() + self._next_retry()
                try:
                    self._open()
                except Exception as exc:  # libcamera raises anything; retry all
                    nodes = self._refused_nodes()  # but not what only a restart cures
                    if nodes:
                        raise denied("the camera", nodes) from exc
                    self._fault(f"cannot open the camera: {exc}")
                    continue
                # The first frame's wait starts now that start() has returned: making,
                # probing and configuring the camera may have taken seconds already.
                started = self._clock()
                self._last_frame, self._due = started, started + self.first_wait_s
                self._slow = False
            now = self._clock()
            try:
                pixels = self._poll(max(0.0, min(IDLE_YIELD_S, self._due - now)))
            except Exception as exc:  # a dead pipeline: open it anew
                self._fault(f"the camera failed: {exc!r}")
                self._drop()
                yield None
                continue
            now = self._clock()
            if pixels is None:
                waited = now - self._last_frame
                if now >= self._due and waited < self.first_wait_s:
                    if not self._slow:
                        self._slow = True
                        self.slow_frames += 1
                        log.debug("a slow frame: none for %.2f s", waited)
                    self._due = self._last_frame + self.first_wait_s
                elif now >= self._due:
                    self._fault(f"no frame from the camera for {waited:.1f} s")
                    self._drop()
                yield None
                continue
            self._last_frame, self._due, self._slow = now, now + self.frame_wait_s, False
            self._retry = self._retry_first
            if self._lost:
                self._lost = False
                log.info("camera is back")
                self._on_fault(False)
            yield Frame(pixels, now)

    def close(self) -> None:
        self._closed = True
        self._drop()

    # --- the camera's life ---------------------------------------------------------------

    def _open(self) -> None:
        s = self.settings
        camera = self._backend.Picamera2(s.index)
        try:
            available = dict(camera.camera_controls)
            camera_id = self._camera_id(s.index)
            usb = "/usb" in camera_id  # libcamera names USB cameras by their USB path
            kwargs: dict[str, Any] = {
                "main": {"size": tuple(s.size), "format": "YUYV" if usb else "YUV420"},
                "controls": self._controls(available),
                "buffer_count": 4,
                "queue": False,  # never hand out a frame that waited in a queue
            }
            sensor = None if usb else self._full_view(camera, camera_id)
            if sensor is not None:
                kwargs["sensor"] = {"output_size": sensor}
            camera.configure(camera.create_video_configuration(**kwargs))
            # libcamera adjusts what the camera cannot do (a webcam without YUYV sends
            # MJPEG, another size) and picamera2 only logs it: read back what was set.
            main = camera.camera_config["main"]
            self._format, self._size = str(main["format"]), tuple(main["size"])
            self._stride = main.get("stride")
            if self._format not in READABLE_FORMATS:
                raise CameraError(f"the camera delivers {self._format}, which the kiosk "
                                  "cannot read (it needs YUV420, YUYV, RGB or MJPEG)")
            if self._format == "MJPEG":
                log.warning("the camera sends MJPEG only: each frame is decoded in software, "
                            "expect fewer frames a second (a YUYV webcam is faster)")
            camera.start()
        except Exception:
            _close(camera)
            raise
        self._camera = camera
        self._job = None
        self.opened += 1
        log.info("camera %d open: %dx%d %s at %g fps", s.index, *self._size, self._format, s.fps)

    def _full_view(self, camera: Any, camera_id: str) -> tuple[int, int] | None:
        if camera_id in self._modes:  # probed at an earlier open: a reconfigure per mode
            return self._modes[camera_id]
        try:
            modes = camera.sensor_modes  # picamera2 probes the modes: it can fail
        except Exception as exc:  # then libcamera chooses, perhaps a crop, but frames come
            log.warning("cannot list the sensor modes (%s); the view may be cropped", exc)
            return None
        chosen = self._modes[camera_id] = full_view_mode(modes, self.settings.size,
                                                         self.settings.fps)
        return chosen

    def _camera_id(self, index: int) -> str:
        """libcamera's id of camera `index`: its I2C/CSI path, or its USB path."""
        cameras = self._backend.Picamera2.global_camera_info()
        return str(cameras[index].get("Id", "")) if index < len(cameras) else ""

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

    def _poll(self, timeout: float) -> np.ndarray | None:
        """The next frame's gray pixels, or None if it has not come within `timeout`."""
        camera = self._camera
        if self._job is None:
            self._job = camera.capture_request(wait=False)
        try:
            request = camera.wait(self._job, timeout)
        except TimeoutError:
            return None  # the job stays queued and takes the next frame
        self._job = None
        # picamera2 up to 0.3.36 cannot shape NV12/NV21: those are mapped as they are.
        unshaped = {"reshape": False} if self._format in YUV_SEMIPLANAR else {}
        try:
            with self._backend.MappedArray(request, "main", **unshaped) as mapped:
                return y_plane(mapped.array, self._format, self._size, self._stride)
        finally:
            request.release()

    def _next_retry(self) -> float:
        """The pause before the next try to open: doubling, capped low for the first minute
        away (a ribbon put back is seen soon), higher after that."""
        retry = self._retry
        away = self._clock() - self._lost_since if self._lost else 0.0
        cap = self._retry_caps[0] if away < LONG_AWAY_S else self._retry_caps[1]
        self._retry = min(retry * 2, cap)
        return min(retry, cap)

    def _drop(self) -> None:
        camera, self._camera = self._camera, None
        job, self._job = self._job, None
        if camera is not None:
            if job is not None:  # its frame may have come: hand the buffer back
                with contextlib.suppress(Exception):
                    camera.wait(job, 0).release()
            # The order picamera2's own docs give for a camera whose cable came loose.
            _quietly(camera.cancel_all_and_flush)
            _quietly(camera.stop)
            _close(camera)

    def _fault(self, why: str) -> None:
        if not self._lost:
            self._lost = True
            self._lost_since = self._clock()
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


def _quietly(action: Callable[[], object]) -> bool:
    try:
        action()
    except Exception as exc:  # tidying up a camera that is already gone
        log.debug("ignored while closing the camera: %r", exc)
        return False
    return True


def _close(camera: Any) -> None:
    """Close `camera`; if picamera2 cannot, release by hand what its `close()` would have.

    A USB webcam pulled out is gone for libcamera: `stop()` fails (ENODEV), and picamera2's
    `close()` raises there, before it takes the camera out of its process-wide camera
    manager and closes its notify pipe; each replug would leak them, and the manager's
    listener thread would never stop. What `close()` does after stopping is done here
    instead (picamera2 0.3.20-0.3.38 `Picamera2.close`), each step on its own. The
    libcamera camera itself cannot be released (it refuses with ENODEV too); it goes when
    picamera2's object does.
    """
    if _quietly(camera.close) or not getattr(camera, "is_open", False):
        return
    manager = getattr(type(camera), "_cm", None)
    index = getattr(camera, "camera_idx", None)
    if manager is not None and getattr(manager, "cameras", {}).get(index) is camera:
        _quietly(lambda: manager.cleanup(index))
    camera.is_open = False  # its finaliser must not try (and fail) again
    _quietly(lambda: camera.notifymeread.close())
    _quietly(lambda: os.close(camera.notifyme_w))
    log.info("the camera was gone: released what picamera2 could not")
