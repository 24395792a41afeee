"""A stand-in for picamera2 and libcamera with the calls `CameraFrames` makes.

`FakeCameraBay` is the world the fake cameras live in: which cameras are plugged in, what
they see, and a log of every call, so tests can assert the order of the recovery steps.
Frames come back as picamera2 maps them: a YUV420 buffer of h*3/2 rows (Y, then U and V),
rows `stride` bytes wide, or YUYV as (h, w, 2) for a USB webcam.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from types import SimpleNamespace
from typing import Any

import numpy as np

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
    "FrameDurationLimits": (8333, 220489081, 33333),
}
# Camera Module 2 (imx219): fixed focus.
IMX219_MODES = [
    {"size": (1920, 1080), "fps": 47.57, "crop_limits": (680, 692, 1920, 1080)},
    {"size": (1640, 1232), "fps": 41.85, "crop_limits": (0, 0, 3280, 2464)},
    {"size": (3280, 2464), "fps": 21.19, "crop_limits": (0, 0, 3280, 2464)},
]
IMX219_CONTROLS = {k: v for k, v in IMX708_CONTROLS.items() if not k.startswith(("Af", "Lens"))}
UVC_CONTROLS = {"ExposureValue": (-8.0, 8.0, 0.0)}


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
    """The cameras plugged in, and the picamera2 module that sees them (`backend`)."""

    def __init__(self, model: str = "imx708", stride: int | None = None) -> None:
        self.model = model
        self.plugged = True
        self.stride = stride
        self.scene = np.zeros((720, 1280), np.uint8)
        self.calls: list[str] = []
        self.cameras: list[FakePicamera2] = []
        self.captures = 0
        self.modes_fail = False  # listing sensor modes fails (picamera2 probes by configuring)
        bay = self

        class Picamera2(FakePicamera2):
            def __init__(self, camera_num: int = 0) -> None:
                super().__init__(bay, camera_num)

            @staticmethod
            def global_camera_info() -> list[dict[str, Any]]:
                if not bay.plugged:
                    return []
                where = "/base/axi/pcie@120000/rp1/i2c@88000/imx708@1a" if bay.model != "uvc" \
                    else "/base/axi/pcie@120000/rp1/usb@200000-1:1.0-046d:0825"
                return [{"Model": bay.model, "Id": where, "Num": 0}]

        self.backend = SimpleNamespace(
            Picamera2=Picamera2, MappedArray=FakeMappedArray, controls=CONTROLS
        )

    def show(self, pixels: np.ndarray) -> None:
        self.scene = pixels


class FakePicamera2:
    def __init__(self, bay: FakeCameraBay, camera_num: int) -> None:
        bay.calls.append("open")
        if not bay.plugged:
            # What picamera2 raises when libcamera lists no camera.
            raise IndexError("list index out of range")
        self.bay = bay
        self.camera_num = camera_num
        self.config: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.controls_set: dict[str, Any] = {}
        bay.cameras.append(self)
        table = {"imx708": (IMX708_MODES, IMX708_CONTROLS),
                 "imx219": (IMX219_MODES, IMX219_CONTROLS), "uvc": ([], UVC_CONTROLS)}
        self._modes, self.camera_controls = table[bay.model]

    @property
    def sensor_modes(self) -> list[dict[str, Any]]:
        if self.bay.modes_fail:
            raise RuntimeError("Failed to configure the camera")
        return self._modes

    def create_video_configuration(self, **kwargs: Any) -> dict[str, Any]:
        assert set(kwargs) <= {"main", "sensor", "controls", "buffer_count", "queue"}
        return kwargs

    def configure(self, config: dict[str, Any]) -> None:
        self.bay.calls.append("configure")
        fmt = config["main"]["format"]
        if self.bay.model == "uvc" and fmt != "YUYV":
            raise RuntimeError(f"Failed to configure camera: {fmt} not offered")
        self.config = config
        self.controls_set = dict(config.get("controls", {}))

    def stream_configuration(self, name: str) -> dict[str, Any]:
        assert self.config is not None and name == "main"
        return {"size": self.config["main"]["size"], "format": self.config["main"]["format"]}

    def start(self) -> None:
        self.bay.calls.append("start")
        self.started = True

    @contextmanager
    def captured_request(self, wait: float | None = None) -> Iterator[FakeRequest]:
        assert wait is not None and 0 < wait <= 2, "every capture must be bounded"
        assert self.started and not self.closed
        self.bay.calls.append("capture")
        if not self.bay.plugged:
            raise TimeoutError  # picamera2's job wait gives up after `wait` seconds
        self.bay.captures += 1
        yield FakeRequest(self)

    def cancel_all_and_flush(self) -> None:
        self.bay.calls.append("flush")

    def stop(self) -> None:
        self.bay.calls.append("stop")
        self.started = False

    def close(self) -> None:
        self.bay.calls.append("close")
        self.closed = True


class FakeRequest:
    def __init__(self, camera: FakePicamera2) -> None:
        self.camera = camera

    def buffer(self) -> np.ndarray:
        """The mapped main-stream buffer, as picamera2's MappedArray shows it."""
        assert self.camera.config is not None
        width, height = self.camera.config["main"]["size"]
        fmt = self.camera.config["main"]["format"]
        scene = self.camera.bay.scene
        if fmt == "YUYV":
            out = np.full((height, width, 2), 128, np.uint8)
            out[..., 0] = scene[:height, :width]
            return out
        stride = self.camera.bay.stride or width
        out = np.full((height * 3 // 2, stride), 128, np.uint8)  # U, V: neutral gray
        out[:height, :width] = scene[:height, :width]
        out[:height, width:] = 255  # padding past the width: must never reach a frame
        return out


class FakeMappedArray:
    def __init__(self, request: FakeRequest, stream: str) -> None:
        assert stream == "main"
        self.array = request.buffer()

    def __enter__(self) -> FakeMappedArray:
        return self

    def __exit__(self, *exc: object) -> None:
        self.array = None


