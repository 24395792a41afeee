"""deploy/kiosk.service under a real systemd 252 as PID 1, installed by deploy/install.sh.

systemd boots in fresh PID, mount, network and cgroup namespaces on a root of its own
(`boot.sh`: an overlay of / with a tmpfs upper layer, fresh /run, /tmp, /var/tmp, /dev,
pivot_root, / made shared, the host's hardware, kernel-setting and network units masked),
and is killed from outside at the end. Nothing is written to the host's file system.

Inside, `deploy/install.sh` runs unchanged, as root, as on a Pi: it creates the `kiosk`
user, the venv in /opt/kiosk/venv (from the system python3, `--system-site-packages`), the
package, /etc/kiosk, the unit (enabled, started once the secrets exist) and the console
boot target. What a Pi takes from apt, the sandbox takes from the test's own environment:
`apt-get` is a stub that installs nothing, and the Python packages apt would bring are on
the system path through a .pth file (pip finds them installed and downloads nothing; the
only file it needs, a setuptools wheel to build the package, is fetched before the boot).
The config (an image-folder source: the codes, then blank frames; the Diia sandbox and a
TUF repository made by `kiosk.ops.fleet`, both served on the namespace's loopback), its
trusted root and the secrets are put in place first, so that install.sh keeps them and
starts the unit. The unit is the file from deploy/ byte for byte; one drop-in shortens
WatchdogSec= to 4 s, only so that the watchdog step takes seconds, not half a minute.

Figures (time to READY, verdicts, watchdog restart, stop time, secrets in the journal) are
printed at the end (`pytest -s tests/system`). The test skips, saying why, where the machine
refuses what it needs (root, namespaces, overlayfs, a writable cgroup2, python3-venv).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.decoding import code_images
from kiosk.diia.sandbox import DiiaSandbox
from tests.fleet_repo import ServedRepository

REPO = Path(__file__).resolve().parents[2]
BOOT = Path(__file__).with_name("boot.sh")
SYSTEMD = Path("/lib/systemd/systemd")
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FIGURES: dict[str, str] = {}


def cgroup2_root() -> Path | None:
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def why_not() -> str | None:
    """Why the boot cannot happen here, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux (namespaces, mounts, a cgroup)"
    for tool in ("unshare", "nsenter", "pivot_root", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux)"
    if not SYSTEMD.exists():
        return f"{SYSTEMD} is missing (the systemd package)"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlayfs"
    root = cgroup2_root()
    if root is None or not os.access(root, os.W_OK):
        return "no writable cgroup2 hierarchy for systemd to run in"
    probe = subprocess.run(["/usr/bin/python3", "-c", "import ensurepip, sys, venv; "
                            "print('%d.%d' % sys.version_info[:2])"],
                           capture_output=True, text=True, check=False)
    if probe.returncode:
        return "/usr/bin/python3 cannot make a venv (python3-venv), as install.sh needs"
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if probe.stdout.strip() != mine:
        return (f"the system's python3 is {probe.stdout.strip()}, the tests' {mine}: the "
                "tests' packages cannot stand in for apt's")
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--net", "--cgroup",
                            "true"], capture_output=True, text=True, check=False)
    if probe.returncode:
        return f"the machine refuses new namespaces: {probe.stderr.strip()}"
    return None


REFUSED = why_not()
pytestmark = pytest.mark.skipif(REFUSED is not None, reason=REFUSED or "")


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

    def __init__(self, tmp: Path) -> None:
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

        deps = sysconfig.get_paths()["purelib"]
        self.console = (tmp / "console.log").open("w")
        self.unshare = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--net", "--cgroup", "--kill-child",
             "--", "bash", str(BOOT), str(self.base), str(REPO), deps],
            stdout=self.console, stderr=subprocess.STDOUT, preexec_fn=own_cgroup)
        self.pid1 = self._pid1()

    def _pid1(self) -> int:
        children = Path(f"/proc/{self.unshare.pid}/task/{self.unshare.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = children.read_text().split() if children.exists() else []
            if found and Path(f"/proc/{found[0]}/exe").resolve() == SYSTEMD.resolve():
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
            capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def show(self, *names: str) -> dict[str, str]:
        out = self.run("systemctl", "show", "kiosk.service", *(f"-p{n}" for n in names)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

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


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    tmp = tmp_path_factory.mktemp("system")
    wheels = tmp / "wheels"
    # cryptography too: apt's (bookworm: 38) is older than securesystemslib needs, so the
    # venv takes its own, as pip does on a Pi.
    import cryptography

    fetched = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(wheels), "setuptools>=77", f"cryptography=={cryptography.__version__}"],
        capture_output=True, text=True, check=False)
    if fetched.returncode:
        pytest.skip(f"no setuptools or cryptography wheel to build the package offline: "
                    f"{fetched.stderr[-300:]}")
    started = time.monotonic()
    box = Box(tmp)
    try:
        def booted() -> str:
            state = box.run("systemctl", "is-system-running", check=False).stdout.strip()
            return state if state in ("running", "degraded") else ""

        state = wait_for(booted, 60, 0.2)
        assert state, "systemd did not finish booting"
        FIGURES["boot"] = f"{time.monotonic() - started:.1f} s ({state})"
        shutil.copytree(wheels, box.path("/opt/kiosk-wheels"))
        yield box
    finally:
        box.close()


class Served:
    """The Diia sandbox and the fleet's TUF repository, on the box's loopback."""

    install_log = ""  # install.sh's messages
    invocation = ""  # the unit's invocation id once restarted by the test

    def __init__(self, box: Box, folder: Path) -> None:
        with in_netns(box.pid1):
            # install.sh starts the kiosk and the timed restart starts it again over the same
            # images: the first run may have checked the valid code already, which a one-time
            # code would then answer "used" in the run the tests read.
            self.diia = DiiaSandbox(one_time_codes=False).__enter__()
            self.fleet = ServedRepository(folder / "fleet")  # made by the fleet tool
        self.fleet.publish("kiosks/box-01.toml", "[kiosk]\nmin_age = 21\n")

    def close(self) -> None:
        self.fleet.stop()
        self.diia.__exit__(None, None, None)


@pytest.fixture(scope="module")
def installed(box: Box, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(box, tmp_path_factory.mktemp("fleet"))
    sandbox = served.diia
    codes = {"valid": sandbox.mint("valid", age=30), "expired": sandbox.mint("expired"),
             "used": sandbox.mint("used")}
    folder = box.path("/srv/kiosk-codes")
    folder.mkdir(parents=True)
    for i, (state, code) in enumerate(codes.items()):
        code_images.render_ean13(code).save(folder / f"{i}-{state}.png")
    blank = code_images.render_ean13(codes["valid"]).convert("L").point(lambda _: 200)
    for i in range(300):  # then nothing in view for ~2 minutes: the loop runs on
        blank.save(folder / f"9-{i:03d}-blank.png")
    etc = box.path("/etc/kiosk")
    (etc / "credentials").mkdir(parents=True, mode=0o700)
    (etc / "credentials/diia-acquirer-token").write_text(sandbox.credentials.acquirer_token)
    (etc / "credentials/diia-auth-token").write_text(sandbox.credentials.auth_token)
    shutil.copy(served.fleet.root_file, etc / "root.json")  # what the playbook installs
    (etc / "kiosk.toml").write_text(f"""
[kiosk]
mode = "validate"
result_seconds = 0.3
id = "box-01"
[diia]
base_url = "{sandbox.base_url}"
branch_id = "{sandbox.branch_id}"
[source]
kind = "images"
path = "/srv/kiosk-codes"
hold_frames = 4
fps = 10
[signals]
gpio = "off"
screen = "off"
events = "stdout"
[remote]
url = "{served.fleet.url}"
allow_http_loopback = true
interval_s = 10
""")
    dropin = box.path("/etc/systemd/system/kiosk.service.d")
    dropin.mkdir(parents=True)
    (dropin / "watchdog.conf").write_text("[Service]\nWatchdogSec=4\n")
    # apt-get: the Pi's packages are not on this machine; the stub records and succeeds.
    stub = box.path("/usr/local/sbin/apt-get")
    stub.write_text('#!/bin/sh\necho "apt-get $*" >>/var/log/apt-get-stub.log\n')
    stub.chmod(0o755)
    # What apt would put on the system path: the test's own packages.
    deps = box.path("/usr/lib/python3/dist-packages/kiosk-test-deps.pth")
    deps.write_text("/opt/kiosk-deps\n")
    box.run("sh", "-c", "mkdir -p /usr/src/kiosk && tar -C /opt/kiosk-src --exclude=./.venv "
            "--exclude=./.git -cf - . | tar -C /usr/src/kiosk -xf -")
    started = time.monotonic()
    result = box.run("bash", "/usr/src/kiosk/deploy/install.sh", timeout=300,
                     env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/opt/kiosk-wheels",
                          "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    FIGURES["install.sh"] = f"{time.monotonic() - started:.1f} s"
    served.install_log = result.stderr
    try:
        yield served
    finally:
        served.close()


def events(box: Box, invocation: str) -> list[dict[str, object]]:
    out = box.run("journalctl", "--no-pager", "-o", "cat",
                  f"_SYSTEMD_INVOCATION_ID={invocation}").stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"ts"')]


def wait_for(check, timeout: float, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


def test_install_sh_installs_and_starts_the_unit_which_is_ready_within_seconds(
    box: Box, installed: Served
) -> None:
    log = installed.install_log
    assert "kept the existing /etc/kiosk/kiosk.toml" in log
    unit = box.path("/etc/systemd/system/kiosk.service").read_text()
    assert unit == (REPO / "deploy/kiosk.service").read_text()  # byte for byte
    assert box.path("/opt/kiosk/venv/bin/kiosk").exists()
    assert "apt-get install -y -qq --only-upgrade python3-picamera2 python3-libcamera" in \
        box.path("/var/log/apt-get-stub.log").read_text()
    assert box.run("systemctl", "get-default").stdout.strip() == "multi-user.target"
    assert box.run("systemctl", "is-enabled", "kiosk.service").stdout.strip() == "enabled"
    mode = box.path("/etc/kiosk").stat().st_mode & 0o777
    assert mode == 0o750
    # install.sh started it (the secrets were there): restart once more and time it.
    started = time.monotonic()
    box.run("systemctl", "restart", "kiosk.service", timeout=60)  # Type=notify: READY=1
    took = time.monotonic() - started
    props = box.show("ActiveState", "ExecMainStartTimestampMonotonic",
                     "ActiveEnterTimestampMonotonic", "InvocationID", "MainPID")
    assert props["ActiveState"] == "active"
    ready = (int(props["ActiveEnterTimestampMonotonic"])
             - int(props["ExecMainStartTimestampMonotonic"])) / 1e6
    FIGURES["time to READY"] = f"{ready:.2f} s from exec ({took:.2f} s for systemctl restart)"
    assert ready < 10
    installed.invocation = props["InvocationID"]
    assert not box.path("/etc/kiosk/credentials").stat().st_mode & 0o077


def test_verdicts_come_right_and_the_secrets_only_through_load_credential(
    box: Box, installed: Served
) -> None:
    invocation = installed.invocation
    seen = wait_for(lambda: len(events(box, invocation)) >= 3 and events(box, invocation), 30)
    reasons = [e["reason"] for e in seen]
    FIGURES["verdicts"] = ", ".join(f"{e['outcome']}/{e['reason']}" for e in seen)
    assert reasons[:3] == ["valid", "expired", "used"], reasons
    assert [e["outcome"] for e in seen[:3]] == ["pass", "fail", "fail"]
    pid = box.show("MainPID")["MainPID"]
    environ = box.path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert any(v.startswith(b"CREDENTIALS_DIRECTORY=") for v in environ)
    sandbox = installed.diia
    secrets = (sandbox.credentials.acquirer_token, sandbox.credentials.auth_token)
    assert not any(s.encode() in v for s in secrets for v in environ)
    assert sandbox.logins >= 1  # the secrets it logged in with came from $CREDENTIALS_DIRECTORY
    journal = box.run("journalctl", "--no-pager", "-o", "verbose").stdout
    leaked = [s for s in secrets if s in journal]
    FIGURES["secrets in the journal"] = f"{len(leaked)} of 2 ({len(journal)} chars searched)"
    assert leaked == []


def test_a_tuf_remote_config_is_applied_under_the_unit(box: Box, installed: Served) -> None:
    def applied() -> bool:
        out = box.run("journalctl", "--no-pager", "-o", "cat", "-u", "kiosk.service").stdout
        return bool(re.search(r"config version \d+ \(kiosks/box-01\.toml\) applied without "
                              "a restart", out))

    assert wait_for(applied, 20, 0.5)
    stored = list(box.path("/var/lib/kiosk").rglob("*"))
    assert any(p.is_file() and "min_age = 21" in p.read_text(errors="replace")
               for p in stored), stored
    FIGURES["remote config"] = "kiosks/box-01.toml from TUF, applied live, kept in /var/lib/kiosk"


def test_the_kernel_clock_check_runs_under_the_units_syscall_filter(box: Box,
                                                                     installed: Served) -> None:
    unit = (REPO / "deploy/kiosk.service").read_text()
    filters = re.findall(r"^(SystemCallFilter=.*|SystemCallErrorNumber=.*|"
                         r"SystemCallArchitectures=.*)$", unit, re.M)
    probe = ["/opt/kiosk/venv/bin/python", "-c",
             "from kiosk.ops.clock import kernel_clock_synced as k; print(k())"]

    def under(directives: list[str]) -> str:
        props = [arg for d in directives for arg in ("-p", d)]
        return box.run("systemd-run", "--wait", "--pipe", "--quiet", "-p", "User=kiosk",
                       *props, *probe).stdout.strip()

    assert under(filters) in ("True", "False")  # the kernel answered
    without = [f for f in filters if not f.startswith("SystemCallFilter=adjtimex ")]
    assert under(without) == "None"  # EPERM: the allow line is what makes it work


def test_a_stopped_main_loop_is_killed_by_the_watchdog_and_restarted(
    box: Box, installed: Served
) -> None:
    before = box.show("MainPID", "NRestarts", "WatchdogUSec")
    assert before["WatchdogUSec"] in ("4s", "4000000")
    started = time.monotonic()
    box.run("kill", "-STOP", before["MainPID"])  # the whole process: the loop stops

    def restarted() -> bool:
        now = box.show("MainPID", "NRestarts", "ActiveState")
        return (now["ActiveState"] == "active" and now["MainPID"] != before["MainPID"]
                and int(now["NRestarts"]) > int(before["NRestarts"]))

    assert wait_for(restarted, 30, 0.2)
    took = time.monotonic() - started
    FIGURES["watchdog kill and restart"] = f"{took:.1f} s after SIGSTOP (WatchdogSec=4 drop-in)"
    journal = box.run("journalctl", "--no-pager", "-o", "cat", "-u", "kiosk.service").stdout
    assert "Watchdog timeout" in journal
    assert "Fatal Python error: Aborted" in journal  # PYTHONFAULTHANDLER: stacks, no core
    assert took < 4 + 15 + 3 + 10


def test_systemctl_stop_ends_it_within_timeout_stop_sec(box: Box, installed: Served) -> None:
    limit = int(re.search(r"^TimeoutStopSec=(\d+)", (REPO / "deploy/kiosk.service")
                          .read_text(), re.M).group(1))
    started = time.monotonic()
    box.run("systemctl", "stop", "kiosk.service", timeout=limit + 10)
    took = time.monotonic() - started
    props = box.show("ActiveState", "Result")
    FIGURES["systemctl stop"] = f"{took:.2f} s (TimeoutStopSec={limit}), result {props['Result']}"
    assert props["ActiveState"] == "inactive" and props["Result"] == "success"
    assert took < limit
    print("\nkiosk.service under systemd 252:", file=sys.__stdout__)
    for name, value in FIGURES.items():
        print(f"  {name:<28} {value}", file=sys.__stdout__)
