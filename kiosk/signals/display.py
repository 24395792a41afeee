"""Which SDL video driver draws the screen: a window on a desktop, the Linux console through
KMS/DRM, or off-screen.

`SDL_VIDEODRIVER` in the environment always wins. Otherwise a desktop session (`DISPLAY` or
`WAYLAND_DISPLAY`) leaves the choice to SDL (x11, wayland); a fullscreen kiosk on a machine
with a DRM card uses `kmsdrm`; anything else draws off-screen on `dummy`.

On the console SDL takes the first /dev/dri/card* it can drive, but a Pi 5 numbers its cards
differently from boot to boot and SDL then misses a DSI panel (SDL issue #13705). The card of
the Pi's display controller is found through /dev/dri/by-path and handed to SDL as
`SDL_KMSDRM_DEVICE_INDEX`. Pure functions over an environment mapping and a directory, so
they are tested without a display.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

DRI_DIR = Path("/dev/dri")
# The display controller's card: Pi 5 (HDMI on the axi bus), then Pi 4 and earlier.
BY_PATH_CARDS = ("platform-axi:gpu-card", "platform-gpu-card")
DESKTOP_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")


def kmsdrm_card_index(dri_dir: Path = DRI_DIR) -> int | None:
    """N of the display controller's /dev/dri/cardN, or None when it cannot be told."""
    for name in BY_PATH_CARDS:
        link = dri_dir / "by-path" / name
        if link.exists():
            found = re.fullmatch(r"card([0-9]+)", Path(os.path.realpath(link)).name)
            if found:
                return int(found.group(1))
    return None


def video_environment(
    environ: Mapping[str, str], fullscreen: bool, dri_dir: Path = DRI_DIR
) -> dict[str, str]:
    """The variables to set before SDL starts; empty when SDL may choose by itself."""
    chosen: dict[str, str] = {}
    driver = environ.get("SDL_VIDEODRIVER", "")
    if not driver:
        if any(environ.get(name) for name in DESKTOP_VARIABLES):
            return chosen
        has_card = dri_dir.is_dir() and any(dri_dir.glob("card*"))
        driver = "kmsdrm" if fullscreen and has_card else "dummy"
        chosen["SDL_VIDEODRIVER"] = driver
    if driver.lower() == "kmsdrm" and "SDL_KMSDRM_DEVICE_INDEX" not in environ:
        index = kmsdrm_card_index(dri_dir)
        if index is not None:
            chosen["SDL_KMSDRM_DEVICE_INDEX"] = str(index)
    return chosen


def prepare_video(
    environ: MutableMapping[str, str], fullscreen: bool, dri_dir: Path = DRI_DIR
) -> None:
    """Set what `video_environment` chooses, before pygame opens the display."""
    environ.update(video_environment(environ, fullscreen, dri_dir))
