"""Which picamera2 the kiosk can drive, in the words both the camera and `kiosk doctor` use.

picamera2 0.3.20 brought capture timeouts (`wait=<seconds>`) and `cancel_all_and_flush()`.
Before it (0.3.17-0.3.19) a number passed as `wait=` blocks for ever, and `stop()` on a camera
that stopped delivering waits behind the stuck capture for ever: a lost camera can be neither
let go of nor opened again. The camera refuses such a picamera2 rather than hang on it.
"""

from __future__ import annotations

import importlib.metadata
import re

PICAMERA2_MINIMUM = (0, 3, 20)
# Raspberry Pi's documented way: a partial upgrade of the camera stack alone can leave
# libcamera newer than the kernel and firmware (see deploy/install.sh).
UPGRADE_ADVICE = "sudo apt update && sudo apt full-upgrade, then reboot"


def version_tuple(text: str) -> tuple[int, ...]:
    """(0, 3, 36) from "0.3.36", "0.3.36-1" or "0.3.36+rpt1"."""
    return tuple(int(part) for part in re.findall(r"[0-9]+", text.split("-")[0].split("+")[0]))


def installed_picamera2() -> str | None:
    """The installed picamera2's version (apt's python3-picamera2 has package metadata)."""
    try:
        return importlib.metadata.version("picamera2")
    except importlib.metadata.PackageNotFoundError:
        return None


def too_old(version: str | None, has_flush: bool = True) -> str | None:
    """Why this picamera2 cannot drive the kiosk's camera, or None when it can."""
    if version is not None and version_tuple(version) < PICAMERA2_MINIMUM:
        return (f"picamera2 {version} is older than 0.3.20: no capture timeouts, a lost "
                "camera is never opened again")
    if not has_flush:
        return (f"picamera2 {version or '(version unknown)'} has no cancel_all_and_flush() "
                "(0.3.20 or later is needed): a lost camera is never opened again")
    return None
