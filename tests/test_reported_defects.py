"""Defects reported from outside, met again as a user meets them: a `kiosk` process, its
till API on a socket, the Diia sandbox beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_config import write_kiosk_config
from tests.kiosk_process import RunningKiosk, free_port


def kiosk_command(*args: str, sandbox: DiiaSandbox, cwd: Path,
                  timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
           "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}
    env.pop("CREDENTIALS_DIRECTORY", None)
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=timeout, check=False)


def test_a_till_token_file_that_is_not_utf8_is_named_without_a_byte_of_it(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    token = tmp_path / "api-token"
    token.write_bytes(b"\xff\xfe-a-secret-token-0123456789")
    token.chmod(0o600)
    config = write_kiosk_config(tmp_path / "kiosk.toml", sandbox, listen=f"127.0.0.1:{free_port()}",
                                api_extra=f'token_file = "{token}"\n')
    ran = kiosk_command("run", "--config", str(config), sandbox=sandbox, cwd=tmp_path)
    assert ran.returncode == 2, ran.stderr
    assert "api.token_file" in ran.stderr and "not UTF-8" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert "0xff" not in ran.stderr and "\\xff" not in ran.stderr and "secret" not in ran.stderr


@pytest.mark.parametrize("age", [0, 150])
def test_every_minimum_age_the_config_takes_lets_the_till_arm_checks(
    sandbox: DiiaSandbox, tmp_path: Path, age: int
) -> None:
    """`kiosk.min_age` 0 and 150 are the config's own bounds: the till's API takes both."""
    extra = f"min_age = {age}\n"
    with RunningKiosk(sandbox, tmp_path, mode="validate", kiosk_extra=extra) as kiosk:
        validate = kiosk.http.post("/v1/checks", json={"mode": "validate"})
        assert validate.status_code == 201, validate.text
        by_age = kiosk.http.post("/v1/checks", json={"mode": "age"})
        assert by_age.status_code == 201, by_age.text
        asked = kiosk.http.post("/v1/checks", json={"mode": "age", "min_age": age})
        assert asked.status_code == 201, asked.text
        schema = kiosk.http.get("/v1/openapi.json").json()
        min_age = schema["components"]["schemas"]["CheckRequest"]["properties"]["min_age"]
        assert (min_age["minimum"], min_age["maximum"]) == (0, 150)
