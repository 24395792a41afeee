"""`kiosk check` as a person at a terminal runs it: the verdict, the timings, the names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import HolderName


def kiosk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60, check=False)


@pytest.fixture
def setup(sandbox: DiiaSandbox, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\nlanguage = "en"\n[diia]\nbase_url = "{sandbox.base_url}"\n'
                      f'branch_id = "{sandbox.branch_id}"\n')
    env = {"KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
           "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}
    return config, env


def test_check_prints_the_verdict_and_where_the_time_went(sandbox, setup) -> None:
    config, env = setup
    code = sandbox.mint("valid", age=30)
    result = kiosk("check", code, "--mode", "age", "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    event = json.loads(result.stdout)
    assert (event["outcome"], event["reason"], event["mode"]) == ("pass", "valid", "age")
    lines = result.stderr.splitlines()  # log lines first, then the report
    report = lines[next(i for i, line in enumerate(lines) if line.startswith("pass ")):]
    assert report[0].startswith("pass (valid, mode age): Age confirmed.")
    assert report[1].split()[0] == "login" and report[1].endswith("200, new connection")
    assert report[2].split()[0] == "age" and report[2].endswith("200")
    assert report[3].split()[0] == "kiosk" and report[4].split()[0] == "total"
    # the event's total is the same check's time, not the command's start-up as well
    assert event["ms"]["total"] <= float(report[4].split()[1]) + 5
    assert code not in result.stdout + result.stderr


def test_check_in_name_mode_takes_the_names_from_the_command_line(sandbox, setup) -> None:
    config, env = setup
    code = sandbox.mint(name=HolderName("Мельник", "Ганна", "Петрівна"))
    result = kiosk("check", code, "--mode", "name", "--last-name", "Мельник",
                   "--first-name", "Ганна", "--middle-name", "Петрівна",
                   "--config", str(config), env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outcome"] == "pass"
    assert "Мельник" not in result.stdout  # names are personal data: not in the event


def test_check_in_name_mode_without_names_is_unknown_and_asks_nobody(sandbox, setup) -> None:
    config, env = setup
    result = kiosk("check", sandbox.mint(), "--mode", "name", "--config", str(config), env=env)
    assert result.returncode == 4, result.stderr  # unknown
    event = json.loads(result.stdout)
    assert (event["outcome"], event["reason"]) == ("unknown", "name_missing")
    assert sandbox.requests == []
    assert "No order details" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mode", "age", "--last-name", "Мельник"], 'are for mode "name"'),
        (["--mode", "name", "--last-name", "Мельник"], "first_name is missing"),
    ],
)
def test_names_misused_are_a_usage_error(sandbox, setup, args, message) -> None:
    config, env = setup
    result = kiosk("check", sandbox.mint(), *args, "--config", str(config), env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert sandbox.requests == []


def test_check_with_diia_down_reports_no_answer(sandbox, setup) -> None:
    config, env = setup
    sandbox.fail("drop")
    result = kiosk("check", sandbox.mint(), "--mode", "validate", "--config", str(config),
                   env=env)
    assert result.returncode == 4, result.stderr  # unknown
    assert json.loads(result.stdout)["outcome"] == "unknown"
    assert "no answer" in result.stderr
