"""The kiosk's exits to the network: a proxy variable never gets the sandbox's loopback
traffic (with its credentials), a malformed one is named, and `-v` logs carry no code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_config import kiosk_toml
from tests.kiosk_process import RunningKiosk


def kiosk_check(sandbox: DiiaSandbox, tmp_path: Path, code: str, base_url: str = "",
                **environ: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "kiosk.toml"
    config.write_text(kiosk_toml(base_url or sandbox.base_url, sandbox.branch_id))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(KIOSK_DIIA_ACQUIRER_TOKEN=sandbox.credentials.acquirer_token,
               KIOSK_DIIA_AUTH_TOKEN=sandbox.credentials.auth_token, **environ)
    return subprocess.run([sys.executable, "-m", "kiosk", "-v", "check", code, "--config",
                           str(config)], capture_output=True, text=True, env=env, timeout=60,
                          check=False)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_proxy_variable_never_gets_the_loopback_sandbox_traffic(
        sandbox: DiiaSandbox, tmp_path: Path, variable: str) -> None:
    with DiiaSandbox() as proxy:  # answers what a lying proxy would, records what it got
        result = kiosk_check(sandbox, tmp_path, sandbox.mint("not_valid"),
                             **{variable: proxy.base_url})
        assert proxy.requests == [], "the credentials went to the proxy"
    assert json.loads(result.stdout)["outcome"] == "fail"
    assert [r.proxied for r in sandbox.requests] == [False, False]  # login, validation


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"])
@pytest.mark.parametrize("value", ["http://[::1", "ftp://127.0.0.1:21", "http://"])
def test_a_malformed_proxy_variable_is_a_config_error_naming_it(
        sandbox: DiiaSandbox, tmp_path: Path, variable: str, value: str) -> None:
    # https on loopback (never proxied) to a port nothing listens on: named all the same
    result = kiosk_check(sandbox, tmp_path, sandbox.mint(), base_url="https://127.0.0.1:9",
                         **{variable: value})
    assert result.returncode == 2, result.stderr
    assert f"${variable}" in result.stderr and "Traceback" not in result.stderr


def test_a_verbose_share_never_logs_the_code(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    sandbox.share.set_policy("confirm", after_s=0.3)
    code = sandbox.mint("valid")
    share = "[share]\nwait_s = 10.0\npoll_s = 0.2\n"
    with RunningKiosk(sandbox, tmp_path, extra=share, verbose=True) as kiosk:
        check = kiosk.arm(mode="share")
        kiosk.scan(code)
        assert kiosk.wait_state(check["id"])["verdict"]["reason"] == "shared"
        _, stdout, stderr = kiosk.stop()
    assert "document-request/status" in stderr  # the polls were logged, at -v
    assert code not in stderr and code not in stdout
