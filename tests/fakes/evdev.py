"""A stand-in for python-evdev's `InputDevice`: a real pipe for `select()`, scripted events.

`FakeInputBus` holds the plugged-in devices by path and plays evdev's `list_devices` and
`InputDevice(path)`; a device's events are queued with `type_text()` / `press()` and its
fd becomes readable, as a real event node does. `unplug()` makes reads fail with ENODEV.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections import deque
from dataclasses import dataclass

from kiosk.sources.keyboard import (
    EV_KEY,
    KEY_A,
    KEY_ENTER,
    KEY_LEFTSHIFT,
    US_KEYMAP,
)

EV_SYN = 0
_CHAR_TO_KEY = {}
for _code, (_plain, _shifted) in US_KEYMAP.items():
    if _code < 71 or _code > 83:  # main block, not the keypad
        _CHAR_TO_KEY.setdefault(_plain, (_code, False))
        _CHAR_TO_KEY.setdefault(_shifted, (_code, True))


@dataclass(frozen=True)
class InputEvent:
    type: int
    code: int
    value: int
    sec: int = 0
    usec: int = 0


class FakeInputDevice:
    def __init__(self, bus: FakeInputBus, path: str, name: str, keys: list[int]) -> None:
        self.bus = bus
        self.path = path
        self.name = name
        self._keys = keys
        self._queue: deque[InputEvent] = deque()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self.grabbed_by: object | None = None
        self.unplugged = False
        self.opened = 0

    # --- what the test does ---------------------------------------------------------------

    def press(self, code: int, value: int = 1) -> None:
        self._queue.append(InputEvent(EV_KEY, code, value))
        self._queue.append(InputEvent(EV_SYN, 0, 0))
        os.write(self._write_fd, b"!")

    def type_text(self, text: str, enter: bool = True) -> None:
        for ch in text:
            code, shifted = _CHAR_TO_KEY[ch]
            if shifted:
                self.press(KEY_LEFTSHIFT, 1)
            self.press(code, 1)
            self.press(code, 0)
            if shifted:
                self.press(KEY_LEFTSHIFT, 0)
        if enter:
            self.press(KEY_ENTER, 1)
            self.press(KEY_ENTER, 0)

    def unplug(self) -> None:
        self.unplugged = True
        self.grabbed_by = None
        os.write(self._write_fd, b"x")  # a real node turns readable, then the read fails

    # --- what evdev's InputDevice offers --------------------------------------------------

    @property
    def fd(self) -> int:
        return self._read_fd

    def capabilities(self) -> dict[int, list[int]]:
        return {EV_KEY: list(self._keys)}

    def grab(self) -> None:
        if self.grabbed_by is not None:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed_by = self.bus.current_handle

    def ungrab(self) -> None:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if self.grabbed_by is None:
            raise OSError(errno.EINVAL, "Invalid argument")
        self.grabbed_by = None

    def read(self):
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        with contextlib.suppress(BlockingIOError):
            os.read(self._read_fd, 4096)
        if not self._queue:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        events, self._queue = list(self._queue), deque()
        return iter(events)

    def close(self) -> None:
        self.bus.closes += 1


class FakeInputBus:
    """The /dev/input of a test: devices by path; `open` and `list_devices` for the scanner."""

    def __init__(self) -> None:
        self.devices: dict[str, FakeInputDevice] = {}
        self.opens = 0
        self.closes = 0
        self.current_handle: object = object()

    def plug(self, path: str, name: str, keys: list[int] | None = None) -> FakeInputDevice:
        device = self.devices.get(path)
        if device is None or device.unplugged:
            device = FakeInputDevice(self, path, name, keys or [KEY_A, KEY_ENTER])
            self.devices[path] = device
        return device

    def list_devices(self) -> list[str]:
        return [p for p, d in sorted(self.devices.items()) if not d.unplugged]

    def open(self, path: str) -> FakeInputDevice:
        device = self.devices.get(path)
        if device is None or device.unplugged:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self.opens += 1
        device.opened += 1
        return device
