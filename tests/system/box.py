"""systemd as PID 1 in fresh namespaces on a root of its own (boot.sh), driven from outside.

The root booted is an overlay of a Debian root made by mmdebstrap (debian_root.py), with a
tmpfs upper layer: nothing is written to the host's file system, and the host's own
/usr/lib/python3/dist-packages is nowhere in it. Its network namespace has loopback only;
servers the tests run for it (the Diia sandbox, the apt repository) are made inside that
namespace from the test process (`in_netns`). It is killed from outside at the end.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

BOOT = Path(__file__).with_name("boot.sh")
SYSTEMD = Path("/lib/systemd/systemd")
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
T = TypeVar("T")


def cgroup2_root() -> Path | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def why_no_boot() -> str | None:
    """Why the boot cannot happen here, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux (namespaces, mounts, a cgroup)"
    for tool in ("unshare", "nsenter", "pivot_root", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlayfs"
    root = cgroup2_root()
    if root is None or not os.access(root, os.W_OK):
        return "no writable cgroup2 hierarchy for systemd to run in"
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--net", "--cgroup",
                            "true"], capture_output=True, text=True, check=False)
    if probe.returncode:
        return f"the machine refuses new namespaces: {probe.stderr.strip()}"
    return None


def wait_for(check: Callable[[], T], timeout: float, step: float = 0.1) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


@contextlib.contextmanager
def in_netns(pid: int) -> Iterator[None]:
    """The calling thread in `pid`'s network namespace (sockets made now stay there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/self/ns/net") as home, open(f"/proc/{pid}/ns/net") as there:
        if libc.setns(there.fileno(), CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "setns into the box's network namespace")
        try:
            yield
        finally:
            libc.setns(home.fileno(), CLONE_NEWNET)


class Box:
    """The booted systemd: run commands inside, read and write its files."""

    def __init__(self, lower: Path, console: Path, binds: dict[str, str] | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="kiosk-systest."))
        root = cgroup2_root()
        assert root is not None
        self.cgroup = root / f"kiosk-systest-{os.getpid()}"
        self.cgroup.mkdir()
        cgroup_procs = self.cgroup / "cgroup.procs"

        def own_cgroup() -> None:  # so that the cgroup namespace's root is ours alone
            cgroup_procs.write_text(str(os.getpid()))
            # If the tests die, unshare dies, and with it (--kill-child) the box's PID 1.
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

        self.console = console.open("w")
        self.unshare = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--net", "--cgroup", "--kill-child",
             "--", "bash", str(BOOT), str(self.base), str(lower),
             *(f"{host}:{inside}" for host, inside in (binds or {}).items())],
            stdout=self.console, stderr=subprocess.STDOUT, preexec_fn=own_cgroup)
        self.pid1 = self._pid1()

    def _pid1(self) -> int:
        children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = children.read_text().split() if children.exists() else []
            if found and os.readlink(f"/proc/{found[0]}/exe").endswith("/systemd"):
                return int(found[0])
            if self.unshare.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("systemd did not start: "
                             + Path(self.console.name).read_text()[-2000:])

    def path(self, inside: str) -> Path:
        return Path(f"/proc/{self.pid1}/root") / inside.lstrip("/")

    def run(self, *cmd: str, env: dict[str, str] | None = None, check: bool = True,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        variables = [f"{k}={v}" for k, v in {"PATH": PATH, "LANG": "C.UTF-8",
                                               **(env or {})}.items()]
        result = subprocess.run(
            ["nsenter", "-t", str(self.pid1), "-m", "-p", "-n", "-C", "-r", "-w", "--",
             "env", "-i", *variables, *cmd],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
            check=False)
        if check and result.returncode:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def show(self, *names: str, unit: str = "kiosk.service") -> dict[str, str]:
        out = self.run("systemctl", "show", unit, *(f"-p{n}" for n in names)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def events(self, invocation: str) -> list[dict[str, object]]:
        """The kiosk's JSON events (stdout) in the journal, of one invocation of the unit."""
        out = self.run("journalctl", "--no-pager", "-o", "cat",
                       f"_SYSTEMD_INVOCATION_ID={invocation}").stdout
        return [json.loads(line) for line in out.splitlines() if line.startswith('{"ts"')]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid1, 9)  # PID 1 of its namespace: every process in it goes too
        self.unshare.wait(timeout=20)
        self.console.close()
        deadline = time.monotonic() + 10
        while self.cgroup.exists() and time.monotonic() < deadline:
            for path in sorted(self.cgroup.rglob("*"), key=lambda p: -len(p.parts)):
                if path.is_dir():
                    with contextlib.suppress(OSError):
                        path.rmdir()
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()
            time.sleep(0.1)
        with contextlib.suppress(OSError):
            self.base.rmdir()
