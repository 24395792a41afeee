"""deploy/: the hardened unit (scored and verified by systemd itself), install.sh (a thin
wrapper around the package: tests/system/test_package.py) and the fleet playbook."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.config import CREDENTIAL_NAMES, Config, load_credentials
from kiosk.config_files import load_config

DEPLOY = Path(__file__).parents[1] / "deploy"
UNIT = DEPLOY / "kiosk.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None,
                                   reason="systemd-analyze absent (dev.sh installs systemd)")


def directives(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


def values(key: str) -> list[str]:
    return [v for k, v in directives(UNIT.read_text()) if k == key]


@needs_analyze
def test_the_unit_scores_2_or_lower_in_systemds_security_review() -> None:
    result = subprocess.run([ANALYZE, "security", "--offline=true", str(UNIT)],
                            capture_output=True, text=True, check=False)
    match = re.search(r"Overall exposure level for kiosk\.service: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


@needs_analyze
def test_the_unit_verifies_clean(tmp_path: Path) -> None:
    # verify insists the ExecStart program exists; it lives in /opt/diia-kiosk only once
    # installed, so the copy differs in that one path and nothing else.
    original = UNIT.read_text()
    program = "/opt/diia-kiosk/venv/bin/kiosk"
    copy = original.replace(f"ExecStart={program} ", f"ExecStart={shutil.which('true')} ")
    differ = [a for a, b in zip(copy.splitlines(), original.splitlines(), strict=True) if a != b]
    assert len(differ) == 1 and differ[0].startswith("ExecStart=")
    (tmp_path / "kiosk.service").write_text(copy)
    result = subprocess.run([ANALYZE, "verify", str(tmp_path / "kiosk.service")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_every_setting_in_the_unit_says_why() -> None:
    lines = UNIT.read_text().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith(("#", "[")):
            assert lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_the_unit_is_a_watched_notify_service_restarted_always() -> None:
    assert values("Type") == ["notify"]
    assert values("Restart") == ["always"]
    assert 0 < int(values("WatchdogSec")[0]) <= 60
    assert values("ExecStart") == [
        "/opt/diia-kiosk/venv/bin/kiosk run --config /etc/kiosk/kiosk.toml"]


def test_the_unit_runs_as_its_own_user_with_just_the_device_groups() -> None:
    assert values("User") == ["kiosk"]
    assert set(values("SupplementaryGroups")[0].split()) == {
        "gpio", "video", "render", "input", "dialout"}
    assert values("CapabilityBoundingSet") == [""]


def test_devices_are_an_allow_list_of_camera_gpio_input_display_serial() -> None:
    assert values("DevicePolicy") == ["closed"]
    assert "PrivateDevices" not in dict(directives(UNIT.read_text()))  # would hide them all
    allowed = {v.split()[0] for v in values("DeviceAllow")}
    assert allowed == {"char-video4linux", "char-media", "char-dma_heap", "char-gpiochip",
                       "char-drm", "char-input", "char-ttyACM", "char-ttyUSB"}


def test_the_clock_check_may_read_the_kernel_clock_state_and_nothing_more() -> None:
    filters = values("SystemCallFilter")
    # A later allow line adds back what the deny list before it took away.
    assert filters[0] == "@system-service" and filters[1].startswith("~") and "@privileged" in \
        filters[1]
    # clock_adjtime64: glibc's adjtimex() on 32-bit userspace (time64 since glibc 2.32).
    assert set(filters[-1].split()) == {"adjtimex", "clock_adjtime", "clock_adjtime64"}
    assert values("CapabilityBoundingSet") == [""]  # so neither can set the clock
    assert "ProtectClock" not in dict(directives(UNIT.read_text()))


def test_a_watchdog_kill_leaves_a_python_stack_in_the_journal_and_no_core_on_disk() -> None:
    assert values("WatchdogSignal") == ["SIGABRT"]
    assert "PYTHONFAULTHANDLER=1" in values("Environment")
    assert values("LimitCORE") == ["0"]


def test_the_descriptor_limit_leaves_room_beyond_every_cap() -> None:
    from kiosk.api.wire import Limits
    from kiosk.ops.metrics import MAX_CLIENTS

    (limit,) = values("LimitNOFILE")
    capped = Limits().max_connections + 3 + MAX_CLIENTS + 1  # + listeners and the wake pair
    assert int(limit) >= 4 * (capped + 100)  # 100: the camera, screen, Diia, files at most


def test_lgpio_gets_a_writable_working_directory() -> None:
    runtime = values("RuntimeDirectory")[0]
    assert values("WorkingDirectory") == [f"/run/{runtime}"]
    assert f"LG_WD=/run/{runtime}" in values("Environment")
    assert values("StateDirectory") == ["kiosk"]


def test_secrets_come_as_credentials_the_kiosk_reads(tmp_path: Path) -> None:
    names = {v.split(":")[0] for v in values("LoadCredential")}
    assert names == set(CREDENTIAL_NAMES.values())
    assert not [v for v in values("Environment") if "TOKEN" in v.upper()]
    for env, name in CREDENTIAL_NAMES.items():  # what systemd puts in $CREDENTIALS_DIRECTORY
        (tmp_path / name).write_text(f"{env}-value\n")
    creds = load_credentials(Config().diia, {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert creds.acquirer_token == "KIOSK_DIIA_ACQUIRER_TOKEN-value"
    assert creds.auth_token == "KIOSK_DIIA_AUTH_TOKEN-value"
    explicit = load_credentials(  # an environment variable still wins
        Config().diia, {"CREDENTIALS_DIRECTORY": str(tmp_path),
                        "KIOSK_DIIA_ACQUIRER_TOKEN": "env", "KIOSK_DIIA_AUTH_TOKEN": "env2"})
    assert explicit.acquirer_token == "env"


# --- install.sh --------------------------------------------------------------------------


def dry_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DEPLOY / "install.sh"), "--dry-run", *args],
                          capture_output=True, text=True, check=False, timeout=60)


def test_install_sh_installs_the_package_with_apt_and_boots_to_the_console(
    tmp_path: Path,
) -> None:
    deb = tmp_path / "diia-kiosk_0.1.0-1_arm64.deb"
    deb.touch()
    result = dry_run("--deb", str(deb))
    assert result.returncode == 0, result.stderr
    ran = [shlex.split(line) for line in result.stdout.splitlines()]
    install = next(a for a in ran if "install" in a and "apt-get" in a)
    assert install[-1] == str(deb)  # apt-get, not dpkg: it brings the Depends
    # An old image's picamera2 (< 0.3.20) is upgraded even though it is installed.
    simulated = next(a for a in ran if "-s" in a)
    upgrade = next(a for a in ran if "--only-upgrade" in a and "-s" not in a)
    assert {"python3-picamera2", "python3-libcamera"} <= set(upgrade)
    assert ran.index(upgrade) > ran.index(simulated) > ran.index(install)
    assert simulated[:2] == ["apt-get", "-s"]  # planned first: no partial upgrade
    assert ["systemctl", "set-default", "multi-user.target"] in ran  # no desktop on the screen
    assert not [a for a in ran if "pip" in a or "useradd" in a]  # the package's own work


def test_install_sh_builds_the_package_for_this_machine_without_deb() -> None:
    result = dry_run()
    assert result.returncode == 0, result.stderr
    first = shlex.split(result.stdout.splitlines()[0])
    assert first[0].endswith("/dev.sh") and first[1] == "deb"


# `apt-get -s` plans for `install --only-upgrade python3-picamera2 python3-libcamera` on an
# old image (the shape of apt's simulation output: Inst name [old] (new ...), Remv name [old]).
LIKE_FOR_LIKE = """\
Inst python3-picamera2 [0.3.17-1] (0.3.25-1 Raspberry Pi Foundation:stable [all])
Inst python3-libcamera [0.2.0+rpt20240215-1] (0.2.0+rpt20240418-1 Raspberry Pi:stable [arm64])
Conf python3-picamera2 (0.3.25-1 Raspberry Pi Foundation:stable [all])
"""
PARTIAL = """\
Remv rpicam-apps [1.4.2-1]
Inst libcamera0.3 (0.3.0+rpt20240617-1 Raspberry Pi:stable [arm64])
Inst python3-libcamera [0.2.0+rpt20240215-1] (0.3.0+rpt20240617-1 Raspberry Pi:stable [arm64])
Inst python3-picamera2 [0.3.17-1] (0.3.25-1 Raspberry Pi Foundation:stable [all])
"""


@pytest.mark.parametrize(("plan", "upgraded"), [(LIKE_FOR_LIKE, True), (PARTIAL, False)])
def test_the_camera_stack_is_upgraded_alone_only_like_for_like(
    tmp_path: Path, plan: str, upgraded: bool
) -> None:
    stub = tmp_path / "bin/apt-get"
    stub.parent.mkdir()
    (tmp_path / "plan").write_text(plan)
    stub.write_text(f'#!/bin/sh\ncase "$*" in -s*) cat {tmp_path}/plan ;; '
                    f'*) echo "$*" >>{tmp_path}/ran ;; esac\n')
    stub.chmod(0o755)
    result = subprocess.run(
        ["bash", "-c", f"source {DEPLOY / 'install.sh'} && upgrade_camera_stack"],
        capture_output=True, text=True, check=False,
        env={"PATH": f"{stub.parent}:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    ran = (tmp_path / "ran").read_text() if (tmp_path / "ran").exists() else ""
    assert ("install -y -qq --only-upgrade python3-picamera2 python3-libcamera" in ran) \
        == upgraded
    if not upgraded:
        assert "would remove rpicam-apps, install libcamera0.3" in result.stderr
        assert "sudo apt full-upgrade" in result.stderr


def test_install_refuses_unknown_options() -> None:
    result = dry_run("--bogus")
    assert result.returncode == 2 and "usage" in result.stderr


def test_the_fleet_template_renders_a_valid_config(tmp_path: Path) -> None:
    """deploy/fleet/kiosk.toml.j2 with a host's variables is a config the kiosk accepts."""
    from kiosk.ops.fleet import FleetRepository

    FleetRepository.create(tmp_path / "fleet", tmp_path / "keys")
    template = (DEPLOY / "fleet" / "kiosk.toml.j2").read_text()
    host = {"inventory_hostname": "kiosk-01", "diia_branch_id": "branch-01",
            "kiosk_store": "kyiv-01", "remote_url": "https://fleet.example/kiosk",
            "kiosk_root_file": str(tmp_path / "fleet" / "metadata" / "1.root.json")}

    def fill(match: re.Match) -> str:  # just enough Jinja: {{ var }} and | default('x')
        name, default = match.group(1), match.group(3)
        return host.get(name, default if default is not None else "")

    rendered = re.sub(r"\{\{ (\w+)( \| default\('([^']*)'\))? \}\}", fill, template)
    assert "{{" not in rendered
    (tmp_path / "kiosk.toml").write_text(rendered)
    config = load_config(tmp_path / "kiosk.toml")
    assert config.diia.branch_id == "branch-01" and config.remote.url.startswith("https://")
    assert config.diia.base_url == "https://api2.diia.gov.ua" and config.signals.fullscreen
    assert (config.kiosk.id, config.kiosk.store) == ("kiosk-01", "kyiv-01")


def test_the_playbook_migrates_a_kiosk_off_the_single_key_scheme() -> None:
    """One run: the root before the config that names it, the old state files removed only
    where the old scheme left them, the config without remote.public_key."""
    text = (DEPLOY / "fleet" / "kiosk.yml").read_text()
    tasks = [line.strip()[len("- name: "):] for line in text.splitlines()
             if line.strip().startswith("- name: ")]
    root = next(i for i, t in enumerate(tasks) if "trusted root" in t)
    config = next(i for i, t in enumerate(tasks) if t.startswith("Local config"))
    retire = next(i for i, t in enumerate(tasks) if t.startswith("Retire"))
    assert root < config and retire < config
    assert "dest: /etc/kiosk/root.json" in text and "when: old_scheme.stat.exists" in text
    assert "accepted.toml" in text and "public_key" not in (
        DEPLOY / "fleet" / "kiosk.toml.j2").read_text()


def test_the_example_config_lists_every_appliance_key() -> None:
    text = (Path(__file__).parents[1] / "config" / "kiosk.example.toml").read_text()
    config = Config()
    for section in ("remote", "metrics", "audit", "clock"):
        assert f"\n[{section}]\n" in text
        for key in getattr(config, section).__dataclass_fields__:
            assert f"\n{key} = " in text, f"{section}.{key} missing from the example"
    assert "\nstate_dir = " in text


def test_the_fleet_repository_is_signed_again_daily_well_within_its_valid_for() -> None:
    repo = DEPLOY / "fleet" / "repo"
    conf = (repo / "conf" / "distributions").read_text()
    assert re.findall(r"^Suite: (\w+)$", conf, re.M) == ["canary", "stable"]
    assert set(re.findall(r"^ValidFor: (\d+)d$", conf, re.M)) == {"7"}
    assert set(re.findall(r"^Origin: (.*)$", conf, re.M)) == {"diia-kiosk-fleet"}
    timer = (repo / "diia-kiosk-apt-refresh.timer").read_text()
    assert "OnCalendar=daily" in timer.splitlines() and "Persistent=true" in timer.splitlines()
    service = (repo / "diia-kiosk-apt-refresh.service").read_text()
    assert re.search(r"^ExecStart=/\S+/repo\.sh refresh$", service, re.M)
    # What the kiosks accept is that origin alone.
    accepted = (DEPLOY / "fleet" / "kiosk" / "52diia-kiosk-unattended-upgrades").read_text()
    assert 'Origins-Pattern { "origin=diia-kiosk-fleet"; };' in accepted
