"""The `kiosk` command as a user runs it: a subprocess, real files, the sandbox on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kiosk.decoding import code_images
from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_config import write_kiosk_config


def kiosk(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    full_env = {**os.environ, "SDL_VIDEODRIVER": "dummy", **(env or {})}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout, check=False)


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def write_config(path: Path, sandbox: DiiaSandbox, folder: Path, mode: str,
                 screen: str = "pygame", **options: Any) -> Path:
    """`kiosk run` over an image folder, with mock GPIO and the (dummy) pygame screen."""
    return write_kiosk_config(path, sandbox, mode=mode, min_age=18, source="images",
                              source_path=folder, hold_frames=3, gpio="mock",
                              screen=screen, require_sync=None, **options)


def secrets_env(sandbox: DiiaSandbox) -> dict[str, str]:
    return {"KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
            "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("validate", [("pass", "valid"), ("pass", "valid"), ("fail", "expired"),
                      ("fail", "not_valid"), ("pass", "valid"), ("fail", "used")]),
        ("age", [("pass", "valid"), ("fail", "underage"), ("fail", "expired"),
                 ("fail", "underage"), ("pass", "valid"), ("fail", "used")]),
    ],
)
def test_run_over_an_image_folder_gives_the_right_verdict_for_every_code(
    sandbox: DiiaSandbox, tmp_path: Path, mode: str, expected: list[tuple[str, str]]
) -> None:
    folder = tmp_path / "codes"
    folder.mkdir()
    shown = [
        code_images.render_ean13(sandbox.mint("valid", age=30)),
        code_images.render_code128(sandbox.mint("valid", age=15)),
        code_images.render_ean13(sandbox.mint("expired")),
        code_images.product_ean13("003600029145"),  # a product in the shop: never sent
        code_images.render_ean13(sandbox.mint("not_valid", age=30)),
        code_images.render_qr(sandbox.mint("valid", age=50, kind="qr")),
        code_images.render_qr("https://example.com/not-diia"),  # not a Diia QR: never sent
        code_images.render_ean13(sandbox.mint("used", age=30)),
    ]
    for i, image in enumerate(shown):
        code_images.phone_photo(image, angle=3.0).save(folder / f"{i:02d}.png")
    config = write_config(tmp_path / "kiosk.toml", sandbox, folder, mode)

    result = kiosk("run", "--config", str(config), env=secrets_env(sandbox))

    assert result.returncode == 0, result.stderr
    got = events(result.stdout)
    assert [(e["outcome"], e["reason"]) for e in got] == expected
    assert all(e["mode"] == mode and e["event"] == "verdict" for e in got)
    assert [e["code_kind"] for e in got] == ["barcode"] * 4 + ["qr", "barcode"]
    sent = [r for r in sandbox.requests if "document-identification" in r.path]
    assert len(sent) == 6  # the product barcode and the foreign QR never left the kiosk
    creds = sandbox.credentials
    for secret in (creds.acquirer_token, creds.auth_token):
        assert secret not in result.stdout and secret not in result.stderr


def test_run_reports_diia_outage_as_unknown(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    folder = tmp_path / "codes"
    folder.mkdir()
    code_images.phone_photo(code_images.render_ean13(sandbox.mint("valid"))).save(folder / "a.png")
    sandbox.fail("unavailable")
    config = write_config(tmp_path / "kiosk.toml", sandbox, folder, "validate")
    result = kiosk("run", "--config", str(config), env=secrets_env(sandbox))
    assert result.returncode == 0, result.stderr
    assert [(e["outcome"], e["reason"]) for e in events(result.stdout)] == [
        ("unknown", "diia_unavailable")]


def test_run_without_secrets_is_a_config_error(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    folder = tmp_path / "codes"
    folder.mkdir()
    config = write_config(tmp_path / "kiosk.toml", sandbox, folder, "validate")
    env = {"KIOSK_DIIA_ACQUIRER_TOKEN": "", "KIOSK_DIIA_AUTH_TOKEN": ""}
    result = kiosk("run", "--config", str(config), env=env)
    assert result.returncode == 2
    assert "KIOSK_DIIA_ACQUIRER_TOKEN" in result.stderr


def test_run_with_a_misspelt_key_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[kiosk]\nmdoe = "age"\n')
    result = kiosk("run", "--config", str(config))
    assert result.returncode == 2
    assert 'kiosk.mdoe: unknown key (did you mean "mode"?)' in result.stderr


def test_config_comes_from_the_environment_when_not_given(tmp_path: Path) -> None:
    config = tmp_path / "env.toml"
    config.write_text('[decode]\nbackend = "zbar"\n')
    result = kiosk("run", env={"KIOSK_CONFIG": str(config)})
    assert result.returncode == 2 and "decode.backend" in result.stderr


def test_decode_prints_one_json_line_per_image(tmp_path: Path) -> None:
    code_images.render_ean13("3559217693026").save(tmp_path / "a.png")
    code_images.render_qr("https://example.com/x").save(tmp_path / "b.png")
    result = kiosk("decode", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(line["path"]).name for line in lines] == ["a.png", "b.png"]
    assert lines[0]["codes"] == [{"format": "EAN-13", "text": "3559217693026"}]
    assert lines[1]["codes"] == []
    assert all(isinstance(line["ms"], float) for line in lines)


def test_decode_all_marks_every_read_diia_or_not(tmp_path: Path) -> None:
    """An installer holding up a product barcode sees it read, marked as no Diia code."""
    code_images.phone_photo(code_images.render_ean13("3559217693026")).save(tmp_path / "a.png")
    code_images.phone_photo(code_images.product_ean13("012345678905")).save(tmp_path / "b.png")
    code_images.phone_photo(code_images.render_qr("https://example.com/x")).save(tmp_path / "c.png")
    Image.new("L", (640, 480), 128).save(tmp_path / "d.png")
    result = kiosk("decode", "--all", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["codes"] for line in lines] == [
        [{"format": "EAN-13", "text": "3559217693026", "diia": True}],
        [{"format": "EAN-13", "text": "0123456789050", "diia": False}],
        [{"format": "QRCode", "text": "https://example.com/x", "diia": False}],
        [],
    ]
    plain = kiosk("decode", str(tmp_path))
    assert [json.loads(line)["codes"] for line in plain.stdout.splitlines()] == [
        [{"format": "EAN-13", "text": "3559217693026"}], [], [], []
    ]


def test_decode_of_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = kiosk("decode", str(tmp_path / "nope.png"))
    assert result.returncode == 2 and "nope.png" in result.stderr


def test_demo_headless_shows_every_outcome_and_saves_screens(tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    result = kiosk("demo", "--headless", "--screenshots", str(shots), timeout=60)
    assert result.returncode == 0, result.stderr
    outcomes = {e["outcome"] for e in events(result.stdout)}
    assert {"pass", "fail", "unknown"} <= outcomes
    assert any(e["cached"] for e in events(result.stdout))
    # A product barcode Diia could have issued is asked about; Diia does not know it.
    assert any(e["reason"] == "not_found" for e in events(result.stdout))
    # Every code shown gives a verdict but the product barcode, which is ignored.
    assert f"{len(events(result.stdout)) + 1} codes shown to the camera" in result.stderr
    names = sorted(p.name for p in shots.glob("*.png"))
    for state in ("idle", "checking", "pass", "fail", "unknown"):
        assert any(state in name for name in names), (state, names)
    for fault in ("camera", "network", "clock", "config"):  # each fault banner, once
        assert any(f"-idle-{fault}-" in name for name in names), (fault, names)


def test_check_prints_a_verdict(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[diia]\nbase_url = "{sandbox.base_url}"\n'
                      f'branch_id = "{sandbox.branch_id}"\n')
    code = sandbox.mint("valid", age=16)
    result = kiosk("check", code, "--mode", "age", "--config", str(config),
                   env=secrets_env(sandbox))
    assert result.returncode == 3, result.stderr  # fail
    (event,) = events(result.stdout)
    assert (event["outcome"], event["reason"]) == ("fail", "underage")
    assert code not in result.stdout + result.stderr


def test_check_refuses_a_typing_slip_before_calling_diia() -> None:
    result = kiosk("check", "3559217693027")
    assert result.returncode == 2 and "check digit" in result.stderr
