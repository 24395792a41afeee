"""deploy/kiosk.service started before its camera's device class exists, under systemd 252.

On a Pi the camera's drivers (videodev, mc) may register their majors after the kiosk's unit
has started, and systemd looks `DeviceAllow=char-video4linux` up in /proc/devices once, at
start. Here the same happens on a box of its own (`Box` from box.py: systemd as PID 1 in
fresh namespaces on an overlay of the Debian root the package's tests use): /proc/devices
inside the box is a copy of the host's without any video4linux line, bind-mounted over the
real one (systemd reads it by path); /dev/video0 is a stand-in node (c 81:0, root:video
0660, as udev makes it). The unit is deploy/kiosk.service byte for byte (no drop-in); the
kiosk runs from the repository in a venv that sees the tests' packages (bound read-only,
ahead of the root's dist-packages), and its picamera2 is a stand-in over the project's
fake (tests/fakes/camera.py) that lists the camera only while /dev/video0 may be opened, as
libcamera skips nodes it cannot open. Diia is the sandbox on the box's loopback.

What it shows: the kiosk, refused its camera (EPERM), exits and is restarted; once the class
is in /proc/devices (a late module), the next start gets frames: a code in front of the
camera is checked with Diia. The figures (restarts, time from the class appearing to the
verdict) are printed with `pytest -s`.
"""

from __future__ import annotations

import re
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.box import Box, in_netns, wait_for, why_no_boot
from tests.system.debian_root import root_for, why_no_root
from tests.system.debs import REPO, build, why_no_build

REFUSED = why_no_boot() or why_no_build() or why_no_root()
pytestmark = pytest.mark.skipif(REFUSED is not None, reason=REFUSED or "")

STANDIN = '''"""picamera2 for the boot-order system test: the project's fake, in real time, listing
the camera only while /dev/video0 may be read and written (as libcamera skips nodes it
cannot open), showing the code in /etc/kiosk/standin-code."""
import os

import numpy as np

from kiosk.decoding.code_images import render_ean13
from tests.fakes.camera import FakeCameraBay


class _Bay(FakeCameraBay):
    def listed(self):
        usable = os.access("/dev/video0", os.R_OK | os.W_OK)
        return super().listed() if usable else []


_bay = _Bay("imx708")
_code = open("/etc/kiosk/standin-code").read().strip()
_scene = np.full((720, 1280), 255, np.uint8)
_picture = render_ean13(_code).convert("L")
_picture.thumbnail((1000, 600))
_image = np.asarray(_picture)
_scene[100:100 + _image.shape[0], 200:200 + _image.shape[1]] = _image
_bay.show(_scene)
Picamera2 = _bay.backend.Picamera2
MappedArray = _bay.backend.MappedArray
'''
LIBCAMERA = "from tests.fakes.camera import CONTROLS as controls  # noqa: F401\n"
FIGURES: dict[str, str] = {}


def devices_without(text: str, *names: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if not re.fullmatch(rf"\s*\d+ ({'|'.join(names)})\n?", line))


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    lower = root_for(build("amd64"))  # the same cached root as test_appliance.py
    started = time.monotonic()
    deps = sysconfig.get_paths()["purelib"]
    box = Box(lower, tmp_path_factory.mktemp("boot-order") / "console.log",
              {str(REPO): "/opt/kiosk-src", deps: "/opt/kiosk-deps"})
    try:
        assert wait_for(lambda: box.run("systemctl", "is-system-running", check=False)
                        .stdout.strip() in ("running", "degraded"), 60, 0.2)
        FIGURES["boot"] = f"{time.monotonic() - started:.1f} s"
        yield box
    finally:
        box.close()


def test_a_kiosk_started_before_its_cameras_class_restarts_into_frames(box: Box) -> None:
    from kiosk.diia.sandbox import DiiaSandbox

    # The kiosk as the unit runs it: its user and groups, a venv in /opt/diia-kiosk.
    for group in ("gpio", "video", "render", "input", "dialout"):
        box.run("groupadd", "--system", "-f", group)
    box.run("useradd", "--system", "--user-group", "--no-create-home", "--shell",
            "/usr/sbin/nologin", "--groups", "gpio,video,render,input,dialout", "kiosk")
    box.run("/usr/bin/python3", "-m", "venv", "--system-site-packages", "--without-pip",
            "/opt/diia-kiosk/venv")
    site = next(box.path("/opt/diia-kiosk/venv/lib").glob("python3*/site-packages"))
    (site / "kiosk-boot-order.pth").write_text("/opt/kiosk-standin\n/opt/kiosk-src\n"
                                               "/opt/kiosk-deps\n")
    program = box.path("/opt/diia-kiosk/venv/bin/kiosk")
    program.write_text("#!/opt/diia-kiosk/venv/bin/python\nimport sys\nfrom kiosk.cli import main\n"
                       "sys.exit(main())\n")
    program.chmod(0o755)
    standin = box.path("/opt/kiosk-standin")
    for name, text in (("picamera2", STANDIN), ("libcamera", LIBCAMERA)):
        (standin / name).mkdir(parents=True)
        (standin / name / "__init__.py").write_text(text)

    # The camera's node is there (udev made it), but its class is not in /proc/devices yet.
    box.run("mknod", "-m", "0660", "/dev/video0", "c", "81", "0")
    box.run("chown", "root:video", "/dev/video0")
    devices = box.path("/run/kiosk-systest-devices")
    devices.write_text(devices_without(Path("/proc/devices").read_text(), "video4linux",
                                       "media"))
    box.run("mount", "--bind", "/run/kiosk-systest-devices", "/proc/devices")

    with in_netns(box.pid1):
        sandbox = DiiaSandbox(one_time_codes=False).__enter__()
    try:
        code = sandbox.mint("valid", age=30)
        etc = box.path("/etc/kiosk")
        (etc / "credentials").mkdir(parents=True, mode=0o700)
        (etc / "credentials/diia-acquirer-token").write_text(sandbox.credentials.acquirer_token)
        (etc / "credentials/diia-auth-token").write_text(sandbox.credentials.auth_token)
        (etc / "standin-code").write_text(code)
        (etc / "kiosk.toml").write_text(f"""
[kiosk]
mode = "validate"
result_seconds = 0.3
[diia]
base_url = "{sandbox.base_url}"
branch_id = "{sandbox.branch_id}"
[source]
kind = "camera"
[signals]
gpio = "off"
screen = "off"
events = "stdout"
""")
        box.run("chgrp", "-R", "kiosk", "/etc/kiosk")
        box.run("chmod", "0750", "/etc/kiosk")
        box.run("chmod", "0640", "/etc/kiosk/kiosk.toml")
        unit = box.path("/etc/systemd/system/kiosk.service")
        unit.write_text((REPO / "deploy/kiosk.service").read_text())
        box.run("systemctl", "daemon-reload")
        box.run("systemctl", "start", "--no-block", "kiosk.service")

        def journal() -> str:
            return box.run("journalctl", "--no-pager", "-o", "cat", "-u", "kiosk.service").stdout

        def restarts() -> int:
            return int(box.show("NRestarts")["NRestarts"])

        # Refused (EPERM by the device policy, not by the node's mode): out, and back.
        assert wait_for(lambda: restarts() >= 1, 30, 0.2), journal()[-3000:]
        assert "/dev/video0 refused by the service's device policy (EPERM)" in journal()
        first = box.show("InvocationID")["InvocationID"]
        assert not [e for e in box.events(first) if e.get("outcome")]  # no frame, no verdict
        before = restarts()

        # The late module: its class appears in /proc/devices, among the character devices
        # (written over in place: the bind mount holds this file).
        text = devices.read_text()
        devices.write_text(text.replace("\nBlock devices:", " 81 video4linux\n\nBlock devices:"))
        appeared = time.monotonic()

        def verdict() -> list[dict[str, object]]:
            invocation = box.show("InvocationID")["InvocationID"]
            return [e for e in box.events(invocation) if e.get("outcome")]

        assert wait_for(lambda: "camera 0 open" in journal(), 30, 0.1), journal()[-3000:]
        opened = time.monotonic() - appeared
        seen = wait_for(verdict, 40, 0.2)
        took = time.monotonic() - appeared
        assert seen and seen[0]["outcome"] == "pass", journal()[-3000:]
        restarted = restarts() - before
        assert restarted <= 1  # the next start after the class appeared had frames
        assert box.show("ActiveState")["ActiveState"] == "active"
        FIGURES["restarts while refused"] = f"{before} (RestartSec=3)"
        FIGURES["class appears -> camera open"] = f"{opened:.1f} s ({restarted} more restart(s))"
        FIGURES["class appears -> verdict"] = (f"{took:.1f} s (frames, a code read, Diia's "
                                               "answer)")
        box.run("systemctl", "stop", "kiosk.service", timeout=30)
    finally:
        sandbox.__exit__(None, None, None)
    print("\nboot order under systemd 252:", file=sys.__stdout__)
    for name, value in FIGURES.items():
        print(f"  {name:<28} {value}", file=sys.__stdout__)
