"""Where frames and codes come from: the two source ports.

A `FrameSource` (camera, image folder) yields grayscale frames for a decoder; a `CodeSource`
(HID scanner, serial scanner, keypad, stdin) yields codes that were decoded by the device.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from kiosk.model import Code, Frame


class FrameSource(Protocol):
    def frames(self) -> Iterator[Frame | None]:
        """Grayscale `uint8` frames, in order; a finite source simply stops. None means "no
        frame this time" (a camera that is away): it gives the loop its turn."""
        ...


class CodeSource(Protocol):
    def codes(self) -> Iterator[Code]:
        """Codes as the device read them; a finite source simply stops."""
        ...
