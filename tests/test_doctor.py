"""`kiosk doctor` on a laptop and on a Pi-shaped /dev: says what is there, what is absent,
and what to fix, and never crashes on a missing part."""

from __future__ import annotations

import io
from pathlib import Path

from kiosk.cli import main
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.ops.doctor import ABSENT, FAIL, OK, SKIP, WARN, Doctor, report
from kiosk.sources.camera_stack import version_tuple


def write_config(path: Path, sandbox: DiiaSandbox, extra: str = "") -> Path:
    path.write_text(f"""
[diia]
base_url = "{sandbox.base_url}"
branch_id = "{sandbox.branch_id}"
{extra}
""")
    return path


def secrets(sandbox: DiiaSandbox) -> dict[str, str]:
    return {"KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
            "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}


def findings(doctor: Doctor, path: Path) -> dict[str, tuple[str, str, str]]:
    return {f.what: (f.status, f.detail, f.fix) for f in doctor.run(path)}


def test_on_a_laptop_it_says_what_is_absent(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    doctor = Doctor(secrets(sandbox), dev=dev, sysfs=tmp_path / "sys", on_pi=lambda: False)
    got = findings(doctor, write_config(tmp_path / "k.toml", sandbox))
    assert got["config"][0] == OK
    assert got["secrets"][0] == OK and "values not shown" in got["secrets"][1]
    assert got["network"][0] == OK
    assert got["diia"][0] == OK
    assert got["clock"][0] == OK  # the sandbox's Date header agreed
    assert got["camera"][0] == ABSENT
    assert got["gpio"][0] == ABSENT and 'signals.gpio = "mock"' in got["gpio"][2]
    assert got["screen"][0] == ABSENT
    assert got["power"][0] == ABSENT
    assert got["remote"][0] == SKIP
    assert sandbox.credentials.auth_token not in str(got)


def test_on_a_pi_a_missing_camera_library_is_a_failure_with_its_fix(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    dev = tmp_path / "dev"
    (dev / "dri").mkdir(parents=True)
    for node in ("video0", "media0", "gpiochip0", "dri/card1"):
        (dev / node).touch()
    doctor = Doctor(secrets(sandbox), dev=dev, sysfs=tmp_path / "sys", on_pi=lambda: True,
                    has_module=lambda name: name != "picamera2")
    got = findings(doctor, write_config(tmp_path / "k.toml", sandbox))
    assert got["camera"][0] == FAIL and "apt install python3-picamera2" in got["camera"][2]
    assert got["gpio"] == (OK, "gpiochip0, lgpio present", "")
    # card1 exists but no output reports a connected panel with modes.
    assert got["screen"][0] == WARN and "card1" in got["screen"][1]
    assert "video=HDMI-A-1:800x480@60D" in got["screen"][2]


def pi_with_camera(tmp_path: Path) -> Path:
    dev = tmp_path / "dev"
    (dev / "dri").mkdir(parents=True, exist_ok=True)
    for node in ("video0", "media0", "dri/card1"):
        (dev / node).touch()
    return dev


def test_the_picamera2_version_is_named_and_one_before_0_3_20_refused(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "k.toml", sandbox)
    for version, status in (("0.3.19", FAIL), ("0.3.20", OK), ("0.3.36", OK), (None, WARN)):
        doctor = Doctor(secrets(sandbox), dev=pi_with_camera(tmp_path), sysfs=tmp_path / "s",
                        on_pi=lambda: True, has_module=lambda name: True,
                        version_of=lambda name, v=version: v if name == "picamera2" else "1")
        got = findings(doctor, config)["camera"]
        assert got[0] == status, (version, got)
        if version:
            assert f"picamera2 {version}" in got[1]
        if status != OK:
            assert "apt full-upgrade, then reboot" in got[2]  # not a partial upgrade
    assert version_tuple("0.3.12+rpt20230818-1") == (0, 3, 12)


def test_the_decoder_line_says_whether_zbars_second_look_is_installed(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "k.toml", sandbox)

    def decoder(config: Path, missing: str | None) -> tuple[str, str, str]:
        doctor = Doctor(secrets(sandbox), dev=tmp_path, sysfs=tmp_path,
                        zbar_missing=lambda: missing)
        return findings(doctor, config)["decoder"]

    assert decoder(config, None)[0] == OK and "zbar second look" in decoder(config, None)[1]
    status, detail, fix = decoder(config, "No module named 'pyzbar'")
    assert status == WARN and "zxing-cpp alone" in detail and "pip install pyzbar" in fix
    chosen = write_config(tmp_path / "z.toml", sandbox, "[decode]\nbackend = 'pyzbar'\n")
    assert decoder(chosen, "Unable to find zbar shared library")[0] == FAIL
    # The real check, on this machine (dev.sh installs pyzbar and libzbar0).
    real = findings(Doctor(secrets(sandbox), dev=tmp_path, sysfs=tmp_path), config)
    assert real["decoder"][0] == OK


def test_the_screen_line_says_what_keeps_the_panel_dark(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "k.toml", sandbox)
    etc, sysfs = tmp_path / "etc", tmp_path / "sys"
    (etc / "systemd/system").mkdir(parents=True)
    connector = sysfs / "class/drm/card1-HDMI-A-1"
    connector.mkdir(parents=True)
    (connector / "status").write_text("connected\n")
    (connector / "modes").write_text("800x480\n640x480\n")
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("console=tty1 video=HDMI-A-1:800x480@60D quiet\n")

    def screen() -> tuple[str, str, str]:
        doctor = Doctor(secrets(sandbox), dev=pi_with_camera(tmp_path), sysfs=sysfs,
                        etc=etc, cmdline=cmdline, on_pi=lambda: True)
        return findings(doctor, config)["screen"]

    status, detail, _ = screen()
    assert status == OK and "HDMI-A-1 800x480" in detail and "video=HDMI-A-1" in detail
    (etc / "systemd/system/default.target").symlink_to("/lib/systemd/system/graphical.target")
    (etc / "systemd/system/display-manager.service").symlink_to("/lib/systemd/system/lightdm")
    status, detail, fix = screen()
    assert status == FAIL and "desktop" in detail and "multi-user.target" in fix
    (etc / "systemd/system/default.target").unlink()
    (connector / "modes").write_text("")  # a panel powered after the Pi: no modes
    assert screen()[0] == WARN


def test_missing_secrets_and_a_refused_login_say_what_to_do(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "k.toml", sandbox)
    got = findings(Doctor({}, dev=tmp_path, sysfs=tmp_path), config)
    assert got["secrets"][0] == FAIL and "/etc/kiosk/credentials" in got["secrets"][2]
    assert "diia" not in got  # no login without secrets
    wrong = {"KIOSK_DIIA_ACQUIRER_TOKEN": "wrong", "KIOSK_DIIA_AUTH_TOKEN": "wrong"}
    got = findings(Doctor(wrong, dev=tmp_path, sysfs=tmp_path), config)
    assert got["diia"][0] == FAIL and "secrets" in got["diia"][2]


def test_an_unreachable_diia_is_a_network_failure(tmp_path: Path) -> None:
    with DiiaSandbox() as gone:
        url = gone.base_url
    config = tmp_path / "k.toml"
    config.write_text(f'[diia]\nbase_url = "{url}"\n')
    got = findings(Doctor({}, dev=tmp_path, sysfs=tmp_path), config)
    assert got["network"][0] == FAIL and "firewall" in got["network"][2]


def test_exit_codes_and_the_printed_report(sandbox: DiiaSandbox, tmp_path: Path, capsys) -> None:
    out = io.StringIO()
    config = write_config(tmp_path / "k.toml", sandbox, "[signals]\ngpio = 'mock'\n"
                          "screen = 'off'\n[source]\nkind = 'stdin'\n")
    doctor = Doctor(secrets(sandbox), dev=tmp_path, sysfs=tmp_path)
    assert report(doctor.run(config), out) == 0
    assert out.getvalue().splitlines()[0].startswith("ok     config")
    bad = tmp_path / "bad.toml"
    bad.write_text("[kiosk]\nmdoe = 'age'\n")
    assert main(["doctor", "--config", str(bad)]) == 2
    assert 'did you mean "mode"' in capsys.readouterr().out
    assert main(["doctor", "--config", str(config)]) == 1  # secrets absent from this env


def test_the_remote_finding_asks_the_repository_and_leaves_the_state_alone(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    from datetime import timedelta

    from tests.fleet_repo import ServedRepository

    fleet = ServedRepository(tmp_path / "fleet")
    try:
        fleet.publish("fleet.toml", "[kiosk]\nmin_age = 21\n")
        state = tmp_path / "state"
        config = write_config(tmp_path / "k.toml", sandbox, f"""
[kiosk]
state_dir = "{state}"
id = "k1"
[remote]
url = "{fleet.url}"
root_file = "{fleet.root_file}"
allow_http_loopback = true
""")
        doctor = Doctor(secrets(sandbox), dev=tmp_path, sysfs=tmp_path / "sys",
                        on_pi=lambda: False)
        status, detail, _ = findings(doctor, config)["remote"]
        assert status == OK and "served 2" in detail
        assert not (state / "remote").exists() or not any((state / "remote").rglob("*.json"))
        fleet.repo.renew_timestamp(expires=timedelta(seconds=-1))
        status, detail, _ = findings(doctor, config)["remote"]
        assert status == FAIL and "refused (expired)" in detail
    finally:
        fleet.stop()
