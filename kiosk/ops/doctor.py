"""`kiosk doctor`: checks what the kiosk needs, one line each, and says what to fix.

Config, secrets, network, Diia login, clock, camera, decoder, GPIO, screen, power, remote
config.
It never crashes on a missing part: on a laptop it says the camera or GPIO is absent. Exit
code 0 when nothing failed, 1 when something must be fixed, 2 when there is no config or it
is not valid (the config error of every `kiosk` command).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from kiosk.config import (
    CREDENTIALS_SOURCE,
    Config,
    ConfigError,
    Credentials,
    config_path,
    load_credentials,
    with_credentials_source,
)
from kiosk.config_files import NO_CONFIG_ADVICE
from kiosk.diia.transport import resolve_within
from kiosk.sources.camera_stack import UPGRADE_ADVICE, too_old

OK, WARN, FAIL, ABSENT, SKIP = "ok", "warn", "FAIL", "absent", "skip"


# A failed login, by its reason: what to look at first.
LOGIN_FIXES = {
    "network": "Diia did not answer: check DNS, the network and the shop's firewall",
    "timeout": "Diia did not answer in time: check the network and the shop's firewall",
    "diia_unavailable": "Diia is unavailable now: try again later",
}


def module_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def zbar_error() -> str | None:
    """Why zbar (pyzbar and its libzbar0) cannot be loaded, or None when it can."""
    try:
        from pyzbar import wrapper  # noqa: F401  (loads libzbar through ctypes)
    except Exception as exc:  # ImportError, or OSError from a missing shared library
        return str(exc) or type(exc).__name__
    return None


@dataclass(frozen=True)
class Finding:
    status: str
    what: str
    detail: str
    fix: str = ""


@dataclass
class Doctor:
    """The checks, with their outer seams injectable: /dev, /sys, the environment, modules."""

    environ: MutableMapping[str, str]
    dev: Path = Path("/dev")
    sysfs: Path = Path("/sys")
    has_module: Callable[[str], bool] = lambda name: importlib.util.find_spec(name) is not None
    on_pi: Callable[[], bool] | None = None
    version_of: Callable[[str], str | None] = module_version
    zbar_missing: Callable[[], str | None] = zbar_error
    etc: Path = Path("/etc")
    cmdline: Path = Path("/proc/cmdline")

    def run(self, path: Path) -> Iterator[Finding]:
        from kiosk.ops.runtime import Operations

        if not path.exists():
            yield Finding(FAIL, "config", f"{path}: {NO_CONFIG_ADVICE}",
                          f"the package writes {path} from "
                          "config/kiosk.example.toml; or run doctor with --config PATH")
            return
        try:
            ops = Operations.start(path, dict(self.environ), read_only=True, sysfs=self.sysfs)
        except ConfigError as exc:
            yield Finding(FAIL, "config", str(exc), f"edit {path}; `kiosk config validate` it")
            return
        config = ops.config
        version = f", remote config version {ops.version}" if ops.version else ""
        yield Finding(OK, "config", f"{path}: mode {config.kiosk.mode}, "
                      f"source {config.source.kind}{version}")
        if not config.diia.branch_id.strip():
            yield Finding(FAIL, "branch", "diia.branch_id is empty: Diia refuses every check "
                          "without it", f"set diia.branch_id in {path} to the branch id Diia "
                          "gave the shop")
        credentials = None
        try:
            credentials = load_credentials(config.diia, with_credentials_source(self.environ))
            yield Finding(OK, "secrets", "both Diia secrets present (values not shown)")
        except ConfigError as exc:
            yield Finding(FAIL, "secrets", str(exc),
                          f"put them in {CREDENTIALS_SOURCE}/diia-acquirer-token and "
                          "diia-auth-token (mode 0600), then run doctor with sudo")
        network = list(self.network(config))
        yield from network
        client = None
        if any(f.status == FAIL for f in network):
            yield Finding(SKIP, "diia", "login not tried: Diia cannot be reached (the "
                          "network line says why)")
        elif credentials is not None:
            finding, client = self.diia_login(config, credentials)
            yield finding
        clock = self.clock(config, ops, client)
        yield clock
        if client is not None:
            client.close()
        yield self.camera(config)
        yield from self.decoder(config)
        yield self.gpio(config)
        yield self.screen(config)
        yield self.power(ops)
        yield self.remote(config, ops, clock_trusted=clock.status == OK)

    def network(self, config: Config) -> Iterator[Finding]:
        url = httpx.URL(config.diia.base_url)  # parsed as the client parses it
        host, port = url.host, url.port or (443 if url.scheme == "https" else 80)
        try:  # bounded: a resolver that never answers must not hang the doctor
            address = resolve_within(host, port, 3.0)[0]
        except OSError as exc:
            yield Finding(FAIL, "network", f"DNS: cannot resolve {host}: {exc}",
                          f"check the DNS server (/etc/resolv.conf) resolves {host}, the "
                          "network cable or Wi-Fi, and the spelling of diia.base_url")
            return
        try:
            with socket.create_connection((address, port), timeout=3):
                pass
        except OSError as exc:
            yield Finding(FAIL, "network", f"cannot connect to {host}:{port}: {exc}",
                          "check the shop's firewall allows HTTPS out to Diia")
            return
        yield Finding(OK, "network", f"{host}:{port} reachable")

    def diia_login(self, config: Config, credentials: Credentials) -> tuple[Finding, Any]:
        from kiosk.bootstrap import build_client
        from kiosk.diia.errors import DiiaError

        # The kiosk's own Diia client, built as `kiosk run` builds it, and nothing else: no
        # source, no outputs, no till's API (a running kiosk holds its port).
        try:
            client = build_client(config, credentials)
        except ConfigError as exc:
            return Finding(FAIL, "diia", str(exc), "fix the key named"), None
        try:
            client.login()
        except DiiaError as exc:
            return Finding(FAIL, "diia", f"login failed: {exc}", LOGIN_FIXES.get(
                exc.reason, "check the two secrets and diia.base_url with Diia")), client
        return Finding(OK, "diia", f"logged in to {config.diia.base_url}"), client

    def clock(self, config: Config, ops: Any, client: Any) -> Finding:
        from kiosk.ops.clock import ClockTrust

        c = config.clock
        offset = client.server_clock_offset_s if client is not None else None
        state = ClockTrust(required=c.require_sync, sync_file=c.sync_file,
                           max_offset_s=c.max_offset_s, server_offset=lambda: offset).state()
        diia = f"; Diia's clock differs by {offset:+.1f} s" if offset is not None else ""
        if state.trusted:
            return Finding(OK, "clock", f"trusted ({state.source}){diia}")
        return Finding(FAIL, "clock", f"not synchronised{diia}: verdicts will be unknown",
                       "enable NTP: `timedatectl set-ntp true`; allow UDP 123 out")

    def _devices(self, *patterns: str) -> list[Path]:
        return sorted(p for pattern in patterns for p in self.dev.glob(pattern))

    def _access(self, paths: list[Path]) -> list[Path]:
        return [p for p in paths if not os.access(p, os.R_OK | os.W_OK)]

    def camera(self, config: Config) -> Finding:
        kind = config.source.kind
        if kind in ("keyboard", "serial"):
            path = Path(config.source.path) if config.source.path else None
            if path is None or not path.exists():
                return Finding(FAIL, "scanner", f"{config.source.path or 'no source.path'} "
                               "does not exist", "plug the scanner in; set source.path to its "
                               "/dev/input/by-id or /dev/serial/by-id name")
            return Finding(OK, "scanner", f"{path} present")
        if kind != "camera":
            return Finding(SKIP, "camera", f"not used (source.kind = {kind})")
        nodes = self._devices("video*", "media*")
        if not nodes:
            return Finding(FAIL if self._on_pi() else ABSENT, "camera", "no /dev/video* or "
                           "/dev/media*", "connect the camera ribbon (contacts to the board) "
                           "and reboot; `rpicam-hello --list-cameras`")
        denied = self._access(nodes)
        if denied:
            return Finding(FAIL, "camera", f"no access to {denied[0]}",
                           "add the user to the video group (install.sh does)")
        if not self.has_module("picamera2"):
            return Finding(FAIL, "camera", "picamera2 is not importable",
                           "sudo apt install python3-picamera2; venv with --system-site-packages")
        return self.picamera2_finding(self.version_of("picamera2"), len(nodes))

    def picamera2_finding(self, version: str | None, nodes: int = 0) -> Finding:
        """The camera line for this picamera2; refused in the camera's own words."""
        if version is None:
            return Finding(WARN, "camera", f"{nodes} camera device nodes; picamera2 "
                           "present but its version is unknown (0.3.20 or later is needed)",
                           UPGRADE_ADVICE)
        why = too_old(version)
        if why is not None:
            return Finding(FAIL, "camera", why, UPGRADE_ADVICE)
        return Finding(OK, "camera", f"{nodes} camera device nodes, picamera2 {version}")

    def decoder(self, config: Config) -> Iterator[Finding]:
        """zxing-cpp always (frames); zbar for the second look or as the chosen backend."""
        if config.source.kind not in ("camera", "images"):
            return
        backend, second_look = config.decode.backend, config.decode.region_assist
        if backend == "zxing" and not self.has_module("zxingcpp"):
            yield Finding(FAIL, "decoder", "zxing-cpp is not importable",
                          "/opt/diia-kiosk/venv/bin/pip install zxing-cpp (install.sh does)")
            return
        if backend == "zxing" and not second_look:
            yield Finding(OK, "decoder", "zxing-cpp (no second look: decode.region_assist "
                          "= false)")
            return
        why = self.zbar_missing()
        if why is not None:
            needed = "the decoder" if backend == "pyzbar" else "the second look (zbar)"
            yield Finding(FAIL if backend == "pyzbar" else WARN, "decoder",
                          f"{needed} cannot load zbar ({why})"
                          + ("" if backend == "pyzbar" else ": zxing-cpp alone reads less"),
                          "sudo apt install libzbar0; /opt/diia-kiosk/venv/bin/pip install pyzbar "
                          "(install.sh does both)")
            return
        version = self.version_of("pyzbar") or "?"
        what = "zbar" if backend == "pyzbar" else "zxing-cpp with the zbar second look"
        yield Finding(OK, "decoder", f"{what} (pyzbar {version})")

    def _on_pi(self) -> bool:
        if self.on_pi is not None:
            return self.on_pi()
        from kiosk.bootstrap import on_raspberry_pi

        return on_raspberry_pi()

    def gpio(self, config: Config) -> Finding:
        if config.signals.gpio in ("off", "mock"):
            return Finding(SKIP, "gpio", f'not used (signals.gpio = "{config.signals.gpio}")')
        chips = self._devices("gpiochip*")
        if not chips:
            return Finding(FAIL if self._on_pi() else ABSENT, "gpio",
                           "no /dev/gpiochip* (not a Raspberry Pi?)",
                           'on a laptop set signals.gpio = "mock"')
        denied = self._access(chips)
        if denied:
            return Finding(FAIL, "gpio", f"no access to {denied[0]}",
                           "add the user to the gpio group (install.sh does)")
        if not self.has_module("lgpio"):
            return Finding(FAIL, "gpio", "lgpio is not importable",
                           "sudo apt install python3-lgpio")
        return Finding(OK, "gpio", f"{', '.join(p.name for p in chips)}, lgpio present")

    def screen(self, config: Config) -> Finding:
        if config.signals.screen == "off":
            return Finding(SKIP, "screen", 'not used (signals.screen = "off")')
        if not self.has_module("pygame"):
            return Finding(FAIL, "screen", "pygame is not importable",
                           "sudo apt install python3-pygame")
        if self.environ.get("DISPLAY") or self.environ.get("WAYLAND_DISPLAY"):
            return Finding(OK, "screen", "a desktop display is available (window)")
        cards = self._devices("dri/card*")
        if not cards:
            return Finding(ABSENT, "screen", "no /dev/dri/card* and no desktop: the screen "
                           "will draw off-screen", "connect a display; dtoverlay=vc4-kms-v3d")
        denied = self._access(cards)
        if denied:
            return Finding(FAIL, "screen", f"no access to {denied[0]}",
                           "add the user to the video and render groups (install.sh does)")
        default = self.etc / "systemd/system/default.target"
        manager = self.etc / "systemd/system/display-manager.service"
        if default.is_symlink() and os.readlink(default).endswith("graphical.target") \
                and manager.is_symlink():
            return Finding(FAIL, "screen", "the Pi boots to a desktop, whose display manager "
                           "holds the screen (DRM master): the kiosk cannot open it",
                           "sudo systemctl set-default multi-user.target, then reboot "
                           "(install.sh does)")
        forced = re.findall(r"(?:^|\s)(video=\S+)", self._read(self.cmdline))
        outputs = self._connected_outputs()
        if not outputs:
            return Finding(WARN, "screen", f"{', '.join(p.name for p in cards)}, but no "
                           "output is connected with modes: the kiosk waits for one",
                           "connect the panel; if it is powered after the Pi, add "
                           "video=HDMI-A-1:800x480@60D (its name and mode) to "
                           "/boot/firmware/cmdline.txt")
        how = f", forced by {forced[0]}" if forced else ""
        return Finding(OK, "screen", f"{', '.join(outputs)} connected (KMSDRM console{how})")

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""

    def _connected_outputs(self) -> list[str]:
        """DRM connectors (card1-HDMI-A-1 …) that are connected and list modes."""
        found = []
        for status in sorted((self.sysfs / "class/drm").glob("card*-*/status")):
            modes = self._read(status.parent / "modes").strip()
            if self._read(status).strip() == "connected" and modes:
                found.append(f"{status.parent.name.partition('-')[2]} "
                             f"{modes.splitlines()[0]}")
        return found

    def power(self, ops: Any) -> Finding:
        flags = ops.power.read()
        if flags is None:
            return Finding(ABSENT, "power", "no Raspberry Pi power flags here")
        bad = [name for name, seen in flags.seen.items() if seen]
        if bad:
            return Finding(WARN, "power", f"seen: {', '.join(bad)}",
                           "use the official power supply; give the Pi air or a heatsink")
        return Finding(OK, "power", "no under-voltage or throttling")

    def remote(self, config: Config, ops: Any, clock_trusted: bool = True) -> Finding:
        if not config.remote.url:
            return Finding(SKIP, "remote", "no remote config (remote.url)")
        if not clock_trusted:  # the kiosk waits for it too: TUF's expiry checks read it
            return Finding(SKIP, "remote", "not asked: the clock is not trusted (the clock "
                           "line says why)")
        import shutil
        import tempfile

        assert ops.store is not None
        with tempfile.TemporaryDirectory(prefix="kiosk-doctor-") as scratch:
            cache = Path(scratch) / "tuf"  # a copy: the kiosk's own rollback memory stays
            if (ops.store.dir / "tuf").is_dir():
                shutil.copytree(ops.store.dir / "tuf", cache, symlinks=True)
            poller = ops.new_poller(cache=cache, clock_trusted=lambda: True)
            poller.fetch_once()
        if poller.last_rejection:
            return Finding(FAIL, "remote", f"{config.remote.url}: refused "
                           f"({poller.last_rejection}); running version {ops.version}",
                           "see the log line above; `kiosk fleet status` on the repository")
        served = poller.served_version
        return Finding(OK, "remote", f"running version {ops.version}, served {served}")


def report(findings: Iterator[Finding], out: TextIO) -> int:
    """Prints the findings as they come; the exit code."""
    worst = 0
    for f in findings:
        print(f"{f.status:<7}{f.what:<9}{f.detail}", file=out, flush=True)
        if f.fix and f.status in (FAIL, WARN, ABSENT):
            print(f"{'':<16}fix: {f.fix}", file=out, flush=True)
        if f.status == FAIL:
            worst = 2 if f.what == "config" else max(worst, 1)
    return worst


def cmd_doctor(args: argparse.Namespace) -> int:
    path = config_path(args.config, os.environ)
    return report(Doctor(os.environ).run(path), sys.stdout)


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="check config, secrets, clock, network, Diia, "
                            "camera, GPIO, screen; say what to fix")
    doctor.add_argument("--config", help="config file (else $KIOSK_CONFIG, else "
                        "/etc/kiosk/kiosk.toml)")
    doctor.set_defaults(handler=cmd_doctor)
