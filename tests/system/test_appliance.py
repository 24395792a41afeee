"""The package installed with no network into a Debian bookworm root, booted under systemd.

`./dev.sh deb amd64` builds the package; mmdebstrap makes a bookworm root with what it
depends on (debian_root.py, cached under .cache/); systemd boots an overlay of that root as
PID 1 in namespaces of its own (box.py, boot.sh), with loopback only. Then, as on a Pi:
`apt-get install ./diia-kiosk_….deb` with no network; the unit is enabled but idle until
the config and the secrets are put in; started, it says READY, verdicts flow against the
Diia sandbox, a remote config from the fleet's TUF repository (both served on the box's
loopback) is applied, the kernel clock check works under the unit's syscall filter, a
stopped loop is killed by the watchdog and restarted (a drop-in shortens WatchdogSec= to
4 s), `kiosk doctor` is green, the secrets never reach the journal, stop takes less than
TimeoutStopSec=.

Then the fleet: deploy/fleet/repo.sh (reprepro, an ed25519 key) publishes this version
and the next one to the canary ring, promotes them to stable, and the signed repository is
served on the box's loopback; the kiosk follows stable with the package's
unattended-upgrades settings and gets the next version only once it is promoted, from
apt's own daily services: upgraded, restarted, config and state untouched, nothing asked;
a tampered or an expired Release is refused. Last, remove keeps the config and state and
purge removes them. Figures are printed at the end (`pytest -s tests/system`).

Nothing of the host's Python is in the box: its python3 and dist-packages are Debian's
(python3-numpy, python3-pygame), the rest is the package's own wheels.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from kiosk.decoding import code_images
from kiosk.diia.sandbox import DiiaSandbox
from tests.fleet_repo import ServedRepository
from tests.system.box import Box, in_netns, wait_for, why_no_boot
from tests.system.debian_root import root_for, why_no_root
from tests.system.debs import REPO, build, why_no_build

REFUSED = why_no_boot() or why_no_build() or why_no_root()
pytestmark = pytest.mark.skipif(REFUSED is not None, reason=REFUSED or "")
FIGURES: dict[str, str] = {}
UNIT = (REPO / "deploy/kiosk.service").read_text()


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    deb = build("amd64")
    FIGURES["package"] = f"{deb.name}, {deb.stat().st_size / 2**20:.1f} MiB"
    started = time.monotonic()
    lower = root_for(deb)
    FIGURES["bookworm root"] = f"ready in {time.monotonic() - started:.1f} s (cached after)"
    tmp = tmp_path_factory.mktemp("system")
    started = time.monotonic()
    box = Box(lower, tmp / "console.log")
    try:
        def booted() -> str:
            state = box.run("systemctl", "is-system-running", check=False).stdout.strip()
            return state if state in ("running", "degraded") else ""

        state = wait_for(booted, 60, 0.2)
        assert state, "systemd did not finish booting"
        FIGURES["boot"] = f"{time.monotonic() - started:.1f} s ({state})"
        box.path("/etc/apt/sources.list").unlink()  # no network: nothing to fetch from
        yield box
    finally:
        box.close()


@pytest.fixture(scope="module")
def installed(box: Box) -> str:
    deb = build("amd64")
    (box.path("/root") / deb.name).write_bytes(deb.read_bytes())
    started = time.monotonic()
    result = box.run("apt-get", "install", "--yes", "--no-install-recommends",
                     f"/root/{deb.name}", env={"DEBIAN_FRONTEND": "noninteractive"},
                     timeout=300)
    FIGURES["apt-get install (offline)"] = f"{time.monotonic() - started:.1f} s"
    return result.stdout + result.stderr


class Served:
    """The Diia sandbox and the fleet's TUF repository, on the box's loopback."""

    def __init__(self, box: Box, folder: Path) -> None:
        with in_netns(box.pid1):
            # The watchdog step starts the kiosk again over the same images: a one-time
            # code checked in the first run would be "used" in the next.
            self.diia = DiiaSandbox(one_time_codes=False).__enter__()
            self.fleet = ServedRepository(folder / "fleet")  # made by the fleet tool
        self.fleet.publish("kiosks/box-01.toml", "[kiosk]\nmin_age = 21\n")
        self.invocation = ""

    def close(self) -> None:
        self.fleet.stop()
        self.diia.__exit__(None, None, None)


@pytest.fixture(scope="module")
def served(box: Box, installed: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Served]:
    served = Served(box, tmp_path_factory.mktemp("remote"))
    try:
        yield served
    finally:
        served.close()


def configure(box: Box, served: Served) -> None:
    """What the operator does after `apt install`: the config and the two secrets."""
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
    # The package's tmpfiles entries put modes and owners right (0640 root:kiosk, 0600).
    box.run("systemd-tmpfiles", "--create", "diia-kiosk.conf")
    dropin = box.path("/etc/systemd/system/kiosk.service.d")
    dropin.mkdir(parents=True)
    (dropin / "watchdog.conf").write_text("[Service]\nWatchdogSec=4\n")
    box.run("systemctl", "daemon-reload")


def journal(box: Box) -> str:
    return box.run("journalctl", "--no-pager", "-o", "cat", "-u", "kiosk.service").stdout


def test_installed_offline_enabled_and_idle_without_config_and_secrets(
    box: Box, installed: str
) -> None:
    assert "idle until the Diia secrets are in" in installed
    assert box.run("dpkg-query", "-W", "-f=${Status} ${Conffiles}", "diia-kiosk"
                   ).stdout.strip() == "install ok installed"  # and no conffile at all
    assert box.run("systemctl", "is-enabled", "kiosk.service").stdout.strip() == "enabled"
    assert box.path("/lib/systemd/system/kiosk.service").read_text() == UNIT
    props = box.show("ActiveState", "ConditionResult")
    assert props == {"ActiveState": "inactive", "ConditionResult": "no"}
    box.run("systemctl", "start", "kiosk.service")  # skipped, not failed
    assert box.show("ActiveState")["ActiveState"] == "inactive"
    assert box.run("systemctl", "is-failed", "kiosk.service", check=False).returncode != 0
    # The venv is the package's, from its wheels; numpy and pygame are Debian's.
    venv = box.path("/opt/diia-kiosk/venv")
    assert venv.is_symlink() and (venv / "bin/kiosk").exists()
    where = box.run("/opt/diia-kiosk/venv/bin/python", "-c",
                    "import numpy, pygame, PIL, kiosk; print(numpy.__file__, pygame.__file__,"
                    " PIL.__file__, kiosk.__file__)",
                    env={"PYGAME_HIDE_SUPPORT_PROMPT": "1"}).stdout.split()
    assert where[0].startswith("/usr/lib/python3/dist-packages/numpy/")
    assert where[1].startswith("/usr/lib/python3/dist-packages/pygame/")
    assert all(w.startswith("/opt/diia-kiosk/venv/") for w in where[2:]), where
    etc = box.path("/etc/kiosk")
    assert etc.stat().st_mode & 0o777 == 0o750
    assert (etc / "credentials").stat().st_mode & 0o777 == 0o700
    assert "fullscreen = true" in (etc / "kiosk.toml").read_text()  # the appliance default
    assert box.run("kiosk", "--help").returncode == 0  # /usr/bin/kiosk


def test_with_config_and_secrets_it_starts_and_is_ready_within_seconds(
    box: Box, served: Served
) -> None:
    configure(box, served)
    started = time.monotonic()
    box.run("systemctl", "start", "kiosk.service", timeout=60)  # Type=notify: READY=1
    took = time.monotonic() - started
    props = box.show("ActiveState", "ExecMainStartTimestampMonotonic",
                     "ActiveEnterTimestampMonotonic", "InvocationID")
    assert props["ActiveState"] == "active", journal(box)[-3000:]
    ready = (int(props["ActiveEnterTimestampMonotonic"])
             - int(props["ExecMainStartTimestampMonotonic"])) / 1e6
    FIGURES["start -> READY"] = f"{ready:.2f} s from exec ({took:.2f} s for systemctl start)"
    assert ready < 10
    served.invocation = props["InvocationID"]
    mode = box.path("/etc/kiosk/credentials/diia-auth-token").stat().st_mode & 0o777
    assert mode == 0o600


def test_verdicts_come_right_and_the_secrets_only_through_load_credential(
    box: Box, served: Served
) -> None:
    invocation = served.invocation
    seen = wait_for(lambda: len(box.events(invocation)) >= 3 and box.events(invocation), 30)
    assert seen, journal(box)[-3000:]
    reasons = [e["reason"] for e in seen]
    FIGURES["verdicts"] = ", ".join(f"{e['outcome']}/{e['reason']}" for e in seen)
    assert reasons[:3] == ["valid", "expired", "used"], reasons
    assert [e["outcome"] for e in seen[:3]] == ["pass", "fail", "fail"]
    pid = box.show("MainPID")["MainPID"]
    environ = box.path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert any(v.startswith(b"CREDENTIALS_DIRECTORY=") for v in environ)
    sandbox = served.diia
    secrets = (sandbox.credentials.acquirer_token, sandbox.credentials.auth_token)
    assert not any(s.encode() in v for s in secrets for v in environ)
    assert sandbox.logins >= 1  # the secrets it logged in with came from $CREDENTIALS_DIRECTORY


def test_a_tuf_remote_config_is_applied_under_the_unit(box: Box, served: Served) -> None:
    assert wait_for(lambda: re.search(r"config version \d+ \(kiosks/box-01\.toml\) applied "
                                      "without a restart", journal(box)), 20, 0.5)
    stored = list(box.path("/var/lib/kiosk").rglob("*"))
    assert any(p.is_file() and "min_age = 21" in p.read_text(errors="replace")
               for p in stored), stored
    FIGURES["remote config"] = "kiosks/box-01.toml from TUF, applied live, kept"


def test_kiosk_doctor_is_green(box: Box, served: Served) -> None:
    result = box.run("kiosk", "doctor", check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    FIGURES["kiosk doctor"] = f"exit 0, {len(result.stdout.splitlines())} lines, no FAIL"


def test_the_kernel_clock_check_runs_under_the_units_syscall_filter(box: Box,
                                                                     served: Served) -> None:
    filters = re.findall(r"^(SystemCallFilter=.*|SystemCallErrorNumber=.*|"
                         r"SystemCallArchitectures=.*)$", UNIT, re.M)
    probe = ["/opt/diia-kiosk/venv/bin/python", "-c",
             "from kiosk.ops.clock import kernel_clock_synced as k; print(k())"]

    def under(directives: list[str]) -> str:
        props = [arg for d in directives for arg in ("-p", d)]
        return box.run("systemd-run", "--wait", "--pipe", "--quiet", "-p", "User=kiosk",
                       *props, *probe).stdout.strip()

    assert under(filters) in ("True", "False")  # the kernel answered
    without = [f for f in filters if not f.startswith("SystemCallFilter=adjtimex ")]
    assert under(without) == "None"  # EPERM: the allow line is what makes it work


def test_a_stopped_main_loop_is_killed_by_the_watchdog_and_restarted(
    box: Box, served: Served
) -> None:
    before = box.show("MainPID", "NRestarts", "WatchdogUSec")
    assert before["WatchdogUSec"] in ("4s", "4000000")
    started = time.monotonic()
    # The whole process stops, the loop with it.
    box.run("systemctl", "kill", "--kill-whom=main", "--signal=SIGSTOP", "kiosk.service")

    def restarted() -> bool:
        now = box.show("MainPID", "NRestarts", "ActiveState")
        return (now["ActiveState"] == "active" and now["MainPID"] != before["MainPID"]
                and int(now["NRestarts"]) > int(before["NRestarts"]))

    assert wait_for(restarted, 30, 0.2)
    took = time.monotonic() - started
    FIGURES["watchdog kill and restart"] = f"{took:.1f} s after SIGSTOP (WatchdogSec=4 drop-in)"
    text = journal(box)
    assert "Watchdog timeout" in text
    assert "Fatal Python error: Aborted" in text  # PYTHONFAULTHANDLER: stacks, no core
    assert took < 4 + 15 + 3 + 10


def test_the_secrets_never_reach_the_journal(box: Box, served: Served) -> None:
    sandbox = served.diia
    secrets = (sandbox.credentials.acquirer_token, sandbox.credentials.auth_token)
    text = box.run("journalctl", "--no-pager", "-o", "verbose").stdout
    leaked = [s for s in secrets if s in text]
    FIGURES["secrets in the journal"] = f"{len(leaked)} of 2 ({len(text)} chars searched)"
    assert leaked == []


def test_systemctl_stop_ends_it_within_timeout_stop_sec(box: Box, served: Served) -> None:
    limit = int(re.search(r"^TimeoutStopSec=(\d+)", UNIT, re.M).group(1))
    started = time.monotonic()
    box.run("systemctl", "stop", "kiosk.service", timeout=limit + 10)
    took = time.monotonic() - started
    props = box.show("ActiveState", "Result")
    FIGURES["systemctl stop"] = f"{took:.2f} s (TimeoutStopSec={limit}), result {props['Result']}"
    assert props["ActiveState"] == "inactive" and props["Result"] == "success"
    assert took < limit


class Fleet:
    """The fleet's repository made with deploy/fleet/repo.sh (reprepro, an ed25519 gpg key),
    served over HTTP on the box's loopback: `good/` is the repository itself; `tampered/`
    and `expired/` are copies whose Release was changed after signing, or signed again
    with a Valid-Until in the past."""

    def __init__(self, box: Box, tmp: Path) -> None:
        self.box = box
        self.env = {**os.environ, "KIOSK_REPO": str(tmp / "repo"),
                    "GNUPGHOME": str(tmp / "gnupg")}
        self.web = tmp / "web"
        self.web.mkdir()
        self.repo("keygen")
        self.repo("key", str(tmp / "diia-kiosk-fleet.asc"))
        (self.web / "good").symlink_to(tmp / "repo/public", target_is_directory=True)
        web = str(self.web)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=web, **kwargs)

            def log_message(self, *args: object) -> None:
                pass

        with in_netns(box.pid1):
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        keyring = box.path("/etc/apt/keyrings")
        keyring.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "diia-kiosk-fleet.asc", keyring / "diia-kiosk-fleet.asc")
        self.follow("good")

    def repo(self, *args: str) -> str:
        result = subprocess.run(["bash", str(REPO / "deploy/fleet/repo.sh"), *args],
                                env=self.env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def follow(self, where: str, suite: str = "stable") -> None:
        """The kiosk's .sources, as the playbook writes it (diia-kiosk.sources.j2)."""
        template = (REPO / "deploy/fleet/diia-kiosk.sources.j2").read_text()
        url = f"http://127.0.0.1:{self.server.server_address[1]}/{where}"
        text = template.replace("{{ kiosk_apt_url }}", url).replace(
            "{{ kiosk_ring | default('stable') }}", suite)
        assert "{{" not in text
        self.box.path("/etc/apt/sources.list.d/diia-kiosk.sources").write_text(text)

    def copy(self, name: str) -> Path:
        copy = self.web / name
        shutil.copytree(self.web / "good", copy)
        return copy / "dists/stable"

    def sign(self, dists: Path) -> None:
        """InRelease and Release.gpg for `dists`/Release, with the fleet's key."""
        for args, out in ((["--clearsign"], "InRelease"), (["--armor", "--detach-sign"],
                                                             "Release.gpg")):
            (dists / out).unlink()
            subprocess.run(["gpg", "--batch", "--yes", *args, "--output", str(dists / out),
                            str(dists / "Release")], env=self.env, check=True,
                           capture_output=True)

    def close(self) -> None:
        self.server.shutdown()
        # gpg started an agent for this GNUPGHOME: it ends with the test.
        subprocess.run(["gpgconf", "--kill", "all"], env=self.env, check=False)


@pytest.fixture(scope="module")
def fleet(box: Box, served: Served, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Fleet]:
    fleet = Fleet(box, tmp_path_factory.mktemp("fleet"))
    try:
        yield fleet
    finally:
        fleet.close()


def apt_update(box: Box) -> subprocess.CompletedProcess[str]:
    return box.run("apt-get", "update", check=False, timeout=120)


def installed_version(box: Box) -> str:
    return box.run("dpkg-query", "-W", "-f=${Version}", "diia-kiosk").stdout


def test_the_maintenance_window_and_the_fleet_origin_are_what_apt_and_systemd_read(
    box: Box, fleet: Fleet
) -> None:
    shipped = box.path("/usr/share/diia-kiosk/fleet")
    shutil.copy(shipped / "52diia-kiosk-unattended-upgrades", box.path("/etc/apt/apt.conf.d"))
    for timer in ("apt-daily", "apt-daily-upgrade"):
        shutil.copytree(shipped / f"{timer}.timer.d",
                        box.path(f"/etc/systemd/system/{timer}.timer.d"))
        box.path(f"/etc/systemd/system/{timer}.timer").unlink()  # boot.sh's mask
    box.run("systemctl", "daemon-reload")
    window = box.show("TimersCalendar", "Persistent", "RandomizedDelayUSec",
                      unit="apt-daily-upgrade.timer")
    assert "03:00:00" in window["TimersCalendar"] and window["TimersCalendar"].count("{") == 1
    assert window["Persistent"] == "no" and window["RandomizedDelayUSec"] == "1h"
    origins = box.run("apt-config", "dump", "Unattended-Upgrade::Origins-Pattern").stdout
    assert [o for o in re.findall(r'"([^"]*)"', origins) if o] == ["origin=diia-kiosk-fleet"]


def test_stable_kiosks_get_a_version_only_once_it_is_promoted_from_canary(
    box: Box, fleet: Fleet, served: Served
) -> None:
    first = build("amd64")
    version = installed_version(box)
    upstream, revision = version.rsplit("-", 1)
    newer = f"{upstream}-{int(revision) + 1}"
    fleet.repo("publish", str(first))
    fleet.repo("promote", version)
    second = build("amd64", newer)
    fleet.repo("publish", str(second))  # canary only
    assert re.search(rf"^stable\|main\|amd64: diia-kiosk {version}$", fleet.repo("list"), re.M)
    assert apt_update(box).returncode == 0
    box.run("systemctl", "start", "apt-daily-upgrade.service", timeout=300)
    assert installed_version(box) == version  # stable has nothing newer yet

    fleet.repo("promote", newer)
    box.run("systemctl", "start", "kiosk.service", timeout=60)
    time.sleep(2)  # a verdict or two, so that there is state to keep
    # The next night: apt's daily jobs keep stamps so as to run once a day.
    for stamp in box.path("/var/lib/apt/periodic").glob("*-stamp"):
        stamp.unlink()
    etc = {p: p.read_bytes() for p in box.path("/etc/kiosk").rglob("*") if p.is_file()}
    state = {p: p.read_bytes() for p in box.path("/var/lib/kiosk").rglob("*") if p.is_file()}
    assert etc and state
    before = box.show("MainPID", "InvocationID", "ActiveState")
    assert before["ActiveState"] == "active"
    box.run("systemctl", "start", "apt-daily.service", timeout=300)  # the lists, as at 02:00
    started = time.monotonic()
    box.run("systemctl", "start", "apt-daily-upgrade.service", timeout=300)  # as at 03:00
    after = box.show("MainPID", "InvocationID", "ActiveState", "ActiveEnterTimestampMonotonic",
                     "ActiveExitTimestampMonotonic")
    assert installed_version(box) == newer
    assert after["ActiveState"] == "active" and after["MainPID"] != before["MainPID"]
    # The box shares the host's monotonic clock: systemd's timestamps compare with ours.
    ready = int(after["ActiveEnterTimestampMonotonic"]) / 1e6
    down = ready - int(after["ActiveExitTimestampMonotonic"]) / 1e6
    FIGURES["upgrade -> READY"] = (f"{ready - started:.1f} s from unattended-upgrade's start "
                                   f"({version} -> {newer})")
    FIGURES["downtime in the upgrade"] = f"{down:.2f} s (stop, then start to READY)"
    assert 0 < down < 10
    log = box.path("/var/log/unattended-upgrades/unattended-upgrades.log").read_text()
    assert "diia-kiosk" in log and "All upgrades installed" in log
    dpkg_log = box.path("/var/log/dpkg.log").read_text()
    assert "conffile" not in dpkg_log  # nothing to ask about
    # Config and state untouched (the audit log may only have grown).
    assert {p: p.read_bytes() for p in etc} == etc
    for path, content in state.items():
        assert path.read_bytes().startswith(content), path
    venvs = [p.name for p in box.path("/opt/diia-kiosk").iterdir() if p.name != "venv"]
    assert len(venvs) == 1 and venvs[0].startswith(f"venv-{newer}.")  # the old one pruned
    seen = wait_for(lambda: box.events(after["InvocationID"]), 30)
    assert seen and seen[0]["outcome"] == "pass"  # the new kiosk checks codes at once


def test_a_tampered_or_expired_release_is_refused(box: Box, fleet: Fleet) -> None:
    candidate = box.run("apt-cache", "policy", "diia-kiosk").stdout
    tampered = fleet.copy("tampered")
    for name in ("InRelease", "Release"):
        text = (tampered / name).read_text()
        (tampered / name).write_text(text.replace("Label: diia-kiosk-fleet",
                                                  "Label: diia-kiosk-fleet-mirror"))
    fleet.follow("tampered")
    result = apt_update(box)
    FIGURES["tampered Release"] = "refused: " + next(
        (line for line in result.stdout.splitlines() + result.stderr.splitlines()
         if "signature" in line.lower()), "?")[:90]
    assert result.returncode != 0
    assert "The following signatures were invalid" in result.stdout + result.stderr

    expired = fleet.copy("expired")
    release = (expired / "Release").read_text()
    past = datetime.now(UTC) - timedelta(days=30)
    release = re.sub(r"^Date: .*$", f"Date: {format_datetime(past, usegmt=True)}", release,
                     flags=re.M)
    release = re.sub(r"^Valid-Until: .*$", "Valid-Until: "
                     f"{format_datetime(past + timedelta(days=7), usegmt=True)}", release,
                     flags=re.M)
    (expired / "Release").write_text(release)
    fleet.sign(expired)  # a genuine signature: an old Release replayed by a mirror
    fleet.follow("expired")
    result = apt_update(box)
    FIGURES["expired Release"] = "refused: " + next(
        (line for line in result.stdout.splitlines() + result.stderr.splitlines()
         if "is expired" in line), "?")[:90]
    assert result.returncode != 0
    assert "is expired" in result.stdout + result.stderr
    fleet.follow("good")
    # What apt knew from the good repository is what it still knows.
    assert box.run("apt-cache", "policy", "diia-kiosk").stdout == candidate


def test_remove_keeps_config_and_state_and_purge_removes_them(box: Box, served: Served) -> None:
    box.run("systemctl", "start", "kiosk.service", timeout=60)
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    box.run("apt-get", "remove", "--yes", "diia-kiosk", env=env, timeout=120)
    assert box.show("ActiveState")["ActiveState"] == "inactive"  # prerm stopped it
    assert not box.path("/opt/diia-kiosk").exists() and not box.path("/usr/bin/kiosk").exists()
    assert box.path("/etc/kiosk/kiosk.toml").exists()
    assert box.path("/etc/kiosk/credentials/diia-auth-token").exists()
    assert box.path("/var/lib/kiosk").exists()
    box.run("apt-get", "purge", "--yes", "diia-kiosk", env=env, timeout=120)
    assert not box.path("/etc/kiosk").exists() and not box.path("/var/lib/kiosk").exists()
    assert box.run("systemctl", "is-enabled", "kiosk.service", check=False).returncode != 0
    print("\nthe package under systemd in a bookworm root:", file=sys.__stdout__)
    for name, value in FIGURES.items():
        print(f"  {name:<28} {value}", file=sys.__stdout__)
