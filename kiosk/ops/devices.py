"""Device nodes the service's device policy refuses: the unit started before their driver.

systemd resolves `DeviceAllow=char-video4linux` (and `char-media`, `char-drm`) against
/proc/devices once, when the unit starts (systemd src/core/bpf-devices.c). A driver that
registers its major later is refused for the whole life of the process: every open of its
nodes fails with EPERM from the cgroup's device program, whatever the node's mode and groups
say (those fail with EACCES instead). Trying again in the process cannot help; a restart
resolves the classes anew. So a part that cannot open its device and finds it refused this
way raises `DeviceDenied`, which ends `kiosk run` with status 1, and systemd
(`Restart=always`) starts the kiosk again. deploy/modules-load.conf loads those drivers'
cores before the unit, so on an installed kiosk this is the safety net, not the rule.

The check is access(2): the kernel runs the same device check as for open(2)
(inode_permission), without opening the device, so no driver is woken.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable
from pathlib import Path

CAMERA_NODES = ("video*", "media*")  # libcamera's V4L2 and media-controller nodes
SCREEN_NODES = ("dri/card*",)  # SDL's KMS/DRM driver

_libc = ctypes.CDLL(None, use_errno=True)


class DeviceDenied(RuntimeError):
    """A device node is refused by the service's device policy (EPERM)."""


def access_errno(path: Path) -> int:
    """0 if `path` may be read and written, else the errno access(2) gave."""
    if _libc.access(os.fsencode(path), os.R_OK | os.W_OK) == 0:
        return 0
    return ctypes.get_errno()


def refused(dev: Path, patterns: Iterable[str]) -> list[Path]:
    """The nodes under `dev` matching `patterns` that the device policy refuses."""
    nodes = sorted({node for pattern in patterns for node in dev.glob(pattern)})
    return [node for node in nodes if access_errno(node) == errno.EPERM]


def denied(what: str, nodes: list[Path]) -> DeviceDenied:
    """The error for `what` (the camera, the screen) refused `nodes`."""
    return DeviceDenied(
        f"{what}: {', '.join(map(str, nodes))} refused by the service's device policy "
        "(EPERM): its driver registered after the unit started; exiting so that systemd "
        "starts the kiosk again (deploy/modules-load.conf loads the drivers before it)")
