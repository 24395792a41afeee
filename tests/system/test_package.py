"""The package `./dev.sh deb` builds, read with dpkg-deb and judged by lintian.

What it carries (the unit byte for byte, the wheels for its architecture with the hashes
postinst checks, the appliance config, the fleet files), what it asks of apt, and what it
must not be: a package with a conffile (unattended-upgrades would hold it back) or one that
starts the kiosk before it has secrets. Installing and booting it: test_appliance.py.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from kiosk.config_files import load_config
from tests.system.debs import REPO, build, field, why_no_build

pytestmark = pytest.mark.skipif(why_no_build() is not None, reason=why_no_build() or "")
APT_PROVIDED = {fields[0]: fields[1] for line in
                (REPO / "deploy/debian/apt-provided").read_text().splitlines()
                if (fields := line.split("#")[0].split())}


def unpack(deb: Path, into: Path) -> Path:
    if not into.exists():
        subprocess.run(["dpkg-deb", "-R", str(deb), str(into)], check=True)
    return into


@pytest.fixture(scope="module")
def amd64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(build("amd64"), tmp_path_factory.mktemp("deb") / "amd64")


def names(text: str) -> set[str]:
    """Package names in a Depends-style field, versions and alternatives dropped."""
    return {re.split(r"[ (]", alt.strip())[0] for part in text.split(",")
            for alt in part.split("|") if alt.strip()}


def wheel_names(root: Path) -> dict[str, Path]:
    return {re.sub(r"[-_.]+", "-", w.name.split("-")[0]).lower(): w
            for w in (root / "usr/lib/diia-kiosk/wheels").glob("*.whl")}


def test_the_package_is_named_versioned_and_placed_as_the_contract_says(amd64: Path) -> None:
    deb = build("amd64")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert deb == REPO / f"dist/diia-kiosk_{version}-1_amd64.deb"
    assert field(deb, "Package") == "diia-kiosk" and field(deb, "Architecture") == "amd64"
    assert (amd64 / "usr/bin/kiosk").stat().st_mode & 0o111
    assert "/opt/diia-kiosk/venv/bin/kiosk" in (amd64 / "usr/bin/kiosk").read_text()
    assert not list(amd64.glob("opt/**/*"))  # the venv is made by postinst, not shipped


def test_it_asks_apt_for_what_must_come_from_apt_and_nothing_from_the_network(
    amd64: Path,
) -> None:
    deb = build("amd64")
    depends, recommends = field(deb, "Depends"), field(deb, "Recommends")
    # The wheels are built for Bookworm's CPython 3.11: the package says so.
    assert "python3 (>= 3.11~)" in depends and "python3 (<< 3.12)" in depends
    assert {"python3-venv", "libzbar0", "fonts-dejavu-core", "systemd"} <= names(depends)
    assert "python3-picamera2 (>= 0.3.20)" in recommends
    for pypi, debian in APT_PROVIDED.items():
        assert debian in names(depends) | names(recommends), pypi
    # ... and the wheelhouse leaves those out (numpy is ABI-tied to picamera2).
    assert not set(APT_PROVIDED) & set(wheel_names(amd64))
    postinst = (amd64 / "DEBIAN/postinst").read_text()
    assert "--no-index" in postinst and "--require-hashes" in postinst
    assert "--system-site-packages" in postinst


def test_every_requirement_of_the_kiosk_has_its_wheel_pinned_by_hash(amd64: Path) -> None:
    wheels = wheel_names(amd64)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["zbar"]
    for requirement in wanted:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", requirement)
                      .group()).lower()
        assert name in wheels or name in APT_PROVIDED, f"{name}: no wheel, not from apt"
    assert "diia-kiosk" in wheels
    pinned = {}
    for line in (amd64 / "usr/lib/diia-kiosk/requirements.txt").read_text().splitlines():
        match = re.fullmatch(r"([a-z0-9-]+)==(\S+) --hash=sha256:([0-9a-f]{64})", line)
        assert match, line
        pinned[match.group(1)] = match.group(3)
    assert set(pinned) == set(wheels)
    for name, wheel in wheels.items():
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == pinned[name], name


def test_the_wheels_are_for_the_packages_architecture_and_python(
    amd64: Path, tmp_path: Path
) -> None:
    arm64 = unpack(build("arm64"), tmp_path / "arm64")
    for root, machine in ((amd64, "x86_64"), (arm64, "aarch64")):
        for wheel in wheel_names(root).values():
            python, abi, platform = wheel.stem.split("-")[-3:]
            assert python.startswith(("py3", "cp311", "py2.py3")), wheel.name
            assert platform == "any" or platform.endswith(machine), wheel.name
            assert abi in ("none", "abi3", "cp311"), wheel.name
    # The same requirements on both: the Pi gets what the tests ran.
    assert set(wheel_names(amd64)) == set(wheel_names(arm64))


def test_the_unit_is_the_repositorys_and_idle_until_config_and_secrets_exist(
    amd64: Path,
) -> None:
    unit = (amd64 / "lib/systemd/system/kiosk.service").read_text()
    assert unit == (REPO / "deploy/kiosk.service").read_text()
    conditions = re.findall(r"^ConditionPathExists=(.*)$", unit, re.M)
    credentials = re.findall(r"^LoadCredential=[^:]+:(.*)$", unit, re.M)
    assert set(conditions) == {"/etc/kiosk/kiosk.toml", *credentials}
    postinst = (amd64 / "DEBIAN/postinst").read_text()
    assert "deb-systemd-helper enable 'kiosk.service'" in postinst  # enabled at install
    # An upgrade restarts it once, after the new venv is ready (not stopped before it).
    assert "_dh_action=restart" in postinst
    assert "deb-systemd-invoke $_dh_action 'kiosk.service'" in postinst
    assert postinst.index("build_venv\n") < postinst.index("deb-systemd-invoke")
    prerm = (amd64 / "DEBIAN/prerm").read_text()
    assert "[ \"$1\" = remove ]" in prerm and "deb-systemd-invoke stop" in prerm


def test_no_file_is_a_conffile_and_the_config_is_made_once_from_the_appliance_default(
    amd64: Path, tmp_path: Path
) -> None:
    assert not (amd64 / "DEBIAN/conffiles").exists()
    assert not list((amd64 / "etc").glob("**/*")) if (amd64 / "etc").exists() else True
    tmpfiles = (amd64 / "usr/lib/tmpfiles.d/diia-kiosk.conf").read_text()
    assert "C /etc/kiosk/kiosk.toml - - - - /usr/share/diia-kiosk/kiosk.toml" in tmpfiles
    assert "d /etc/kiosk 0750 root kiosk -" in tmpfiles
    assert "d /etc/kiosk/credentials 0700 root root -" in tmpfiles
    shipped = tmp_path / "kiosk.toml"
    shutil.copy(amd64 / "usr/share/diia-kiosk/kiosk.toml", shipped)
    config = load_config(shipped)
    assert config.signals.fullscreen and config.source.kind == "camera"
    sysusers = (amd64 / "usr/lib/sysusers.d/diia-kiosk.conf").read_text()
    unit = (REPO / "deploy/kiosk.service").read_text()
    groups = re.search(r"^SupplementaryGroups=(.*)$", unit, re.M).group(1).split()
    assert {f"m kiosk {g}" for g in groups} <= set(sysusers.splitlines())
    modules = (amd64 / "usr/lib/modules-load.d/diia-kiosk.conf").read_text()
    assert modules == (REPO / "deploy/modules-load.conf").read_text()
    # DeviceAllow's classes exist before the unit starts: drm, video4linux, media, ttyACM,
    # ttyUSB (their majors belong to these modules' cores).
    assert {"drm", "videodev", "mc", "cdc_acm", "usbserial"} <= set(modules.split())
    assert "After=systemd-modules-load.service" in unit.splitlines()
    assert "ID_MM_DEVICE_IGNORE" in (amd64 / "lib/udev/rules.d/60-diia-kiosk.rules").read_text()


def test_purge_alone_removes_config_and_state(amd64: Path) -> None:
    postrm = (amd64 / "DEBIAN/postrm").read_text()
    remove = postrm.split("remove)")[1].split(";;")[0]
    purge = postrm.split("purge)")[1].split(";;")[0]
    assert "/opt/diia-kiosk" in remove and "/etc/kiosk" not in remove
    assert "/var/lib/kiosk" not in remove
    assert {"/etc/kiosk", "/var/lib/kiosk", "/opt/diia-kiosk"} <= set(purge.split())


def test_the_fleet_files_are_shipped_for_the_kiosk_side(amd64: Path) -> None:
    fleet = amd64 / "usr/share/diia-kiosk/fleet"
    shipped = {p.relative_to(fleet) for p in fleet.rglob("*") if p.is_file()}
    source = REPO / "deploy/fleet/kiosk"
    assert shipped == {p.relative_to(source) for p in source.rglob("*") if p.is_file()}


@pytest.mark.skipif(shutil.which("lintian") is None,
                    reason="lintian is not installed (./dev.sh test installs it)")
def test_lintian_finds_no_error() -> None:
    result = subprocess.run(["lintian", "--no-tag-display-limit", str(build("amd64"))],
                            capture_output=True, text=True, check=False)
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
