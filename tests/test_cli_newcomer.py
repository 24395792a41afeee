"""What a newcomer meets at the command line: exit statuses a script can use, and errors that
say where a config comes from, which key is wrong, which port is taken."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from kiosk import config as config_module
from kiosk.cli import EXIT_CHECK_FAIL, EXIT_CHECK_UNKNOWN, main
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.diia.sandbox.admin import banner
from kiosk.diia.sandbox.faults import FAULTS
from kiosk.ops.doctor import FAIL, Doctor

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
WHERE_A_CONFIG_COMES_FROM = ("--config", "$KIOSK_CONFIG", "config/kiosk.example.toml")


@pytest.fixture(autouse=True)
def logging_left_as_found() -> Iterator[None]:
    """`main` sets up logging for a terminal (httpx quietened): undone for the next tests."""
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    handlers, level = list(root.handlers), root.level
    yield
    for name, was in saved.items():
        logging.getLogger(name).setLevel(was)
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Neither --config nor $KIOSK_CONFIG, and nothing at the default path."""
    missing = tmp_path / "etc" / "kiosk.toml"
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    monkeypatch.setattr(config_module, "DEFAULT_PATH", missing)
    return missing


@pytest.fixture
def sandbox_env(sandbox: DiiaSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KIOSK_DIIA_ACQUIRER_TOKEN", sandbox.credentials.acquirer_token)
    monkeypatch.setenv("KIOSK_DIIA_AUTH_TOKEN", sandbox.credentials.auth_token)
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[diia]\nbase_url = "{sandbox.base_url}"\n'
                    f'branch_id = "{sandbox.branch_id}"\n')
    return path


@pytest.mark.parametrize(
    ("state", "fault", "status"),
    [("valid", None, 0), ("expired", None, EXIT_CHECK_FAIL),
     ("valid", "unavailable", EXIT_CHECK_UNKNOWN)],
)
def test_check_tells_the_verdict_by_its_exit_status(
    sandbox: DiiaSandbox, sandbox_env: Path, state: str, fault: str | None, status: int, capsys
) -> None:
    code = sandbox.mint(state, fault=fault)
    assert main(["check", code, "--config", str(sandbox_env)]) == status
    assert f'"outcome": "{("pass", "fail", "unknown")[[0, 3, 4].index(status)]}"' in (
        capsys.readouterr().out)


def test_check_exit_statuses_are_documented_and_clear_of_error_and_usage() -> None:
    assert {EXIT_CHECK_FAIL, EXIT_CHECK_UNKNOWN}.isdisjoint({0, 1, 2})
    assert EXIT_CHECK_FAIL != EXIT_CHECK_UNKNOWN
    row = next(line for line in README.splitlines() if line.startswith("| `kiosk check"))
    assert f"0 pass, {EXIT_CHECK_FAIL} fail, {EXIT_CHECK_UNKNOWN} unknown" in row


@pytest.mark.parametrize("argv", [["check", "3559217693026"],
                                  ["doctor"]])
def test_without_a_config_each_command_says_where_one_comes_from(
    no_config: Path, argv: list[str], capsys
) -> None:
    assert main(argv) == 2  # a config error, as the README's command table says
    said = capsys.readouterr()
    words = said.out + said.err
    assert str(no_config) in words and "Traceback" not in words
    for hint in WHERE_A_CONFIG_COMES_FROM:
        assert hint in words, (hint, words)
    assert "edit /" not in words  # no advice to edit a file that is not there


def test_doctor_exit_statuses_match_the_readme() -> None:
    row = next(line for line in README.splitlines() if line.startswith("| `kiosk doctor"))
    assert "exit 1 if something must be fixed, 2 if there is no config or it is not valid" in row


def test_doctor_flags_an_empty_branch_id(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    example = Path(config_module.__file__).parents[1] / "config" / "kiosk.example.toml"
    assert 'branch_id = ""' in example.read_text()  # what a newcomer starts from
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[diia]\nbase_url = "{sandbox.base_url}"\nbranch_id = ""\n')
    found = {f.what: f for f in Doctor({}, dev=tmp_path, sysfs=tmp_path).run(path)}
    assert found["branch"].status == FAIL
    assert "diia.branch_id" in found["branch"].detail + found["branch"].fix


def test_run_over_an_image_folder_that_is_not_there_names_source_path(
    tmp_path: Path, sandbox_env: Path, capsys
) -> None:
    path = tmp_path / "images.toml"
    path.write_text(sandbox_env.read_text() + f'[source]\nkind = "images"\npath = '
                    f'"{tmp_path / "nowhere"}"\n[signals]\ngpio = "mock"\nscreen = "off"\n'
                    "[metrics]\nport = 0\n")
    assert main(["run", "--config", str(path)]) == 2
    assert "config error: source.path:" in capsys.readouterr().err


def test_sandbox_on_a_busy_port_names_it_and_suggests_port_0(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["sandbox", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"port {port}" in err and "--port 0" in err and "Errno" not in err


def test_sandbox_banner_lists_every_fault(sandbox: DiiaSandbox) -> None:
    text = banner(sandbox)
    for fault in FAULTS:
        assert f" {fault}" in text, fault


def _validate(path: Path, capsys) -> tuple[int, str]:
    status = main(["config", "validate", str(path)])
    said = capsys.readouterr()
    return status, said.out + said.err


@pytest.mark.parametrize(("toml", "key"), [
    ('[diia]\nbranch_id = "b1"\n[api]\nlisten = "0.0.0.0:8767"\n', "api.token_file"),
    ('[diia]\nbranch_id = ""\n', "diia.branch_id"),
    ('[diia]\nbranch_id = "b1"\n[signals]\ngpio = "off"\n', "kiosk.attended"),
    ('[diia]\nbranch_id = "b1"\n[signals]\nstaff_pin = -1\n', "signals.staff_pin"),
])
def test_validate_refuses_what_run_refuses_and_what_doctor_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, toml: str, key: str
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    path = tmp_path / "kiosk.toml"
    path.write_text(toml)
    status, said = _validate(path, capsys)
    assert status == 2 and f"config error: {key}:" in said, said
    assert "valid config" not in said


def test_validate_accepts_the_till_as_the_staff_step_and_a_lan_api_with_its_token(
    tmp_path: Path, capsys
) -> None:
    token = tmp_path / "api-token"
    token.write_text("a-till-token-of-24-chars\n")
    token.chmod(0o600)
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[diia]\nbranch_id = "b1"\n[signals]\ngpio = "off"\n[api]\nlisten = '
                    f'"0.0.0.0:8767"\ntoken_file = "{token}"\n')
    status, said = _validate(path, capsys)
    assert status == 0 and "valid config" in said and "kiosk doctor" in said, said


def test_a_secret_from_the_environment_with_a_bad_character_names_the_variable(
    sandbox_env: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("KIOSK_DIIA_AUTH_TOKEN", "YWNxdWlyZXJfMTpz\u00e9cret")
    assert main(["check", "3559217693026", "--config", str(sandbox_env)]) == 2
    err = capsys.readouterr().err
    assert "$KIOSK_DIIA_AUTH_TOKEN: the secret has a non-ASCII character" in err, err
    assert "auth_token_file" not in err and "\u00e9" not in err


def test_doctor_says_dns_when_diias_name_does_not_resolve(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[diia]\nbase_url = "https://diia.invalid"\nbranch_id = "b1"\n')
    environ = {"KIOSK_DIIA_ACQUIRER_TOKEN": "acquirer", "KIOSK_DIIA_AUTH_TOKEN": "auth"}
    found = {f.what: f for f in Doctor(environ, dev=tmp_path, sysfs=tmp_path).run(path)}
    assert found["network"].status == FAIL
    assert "DNS" in found["network"].detail and "diia.invalid" in found["network"].detail
    assert "secrets" not in found["diia"].detail + found["diia"].fix  # not the login's fault


def test_sandbox_banner_lists_the_share_desk(sandbox: DiiaSandbox) -> None:
    text = banner(sandbox)
    assert "/sandbox/share -d" in text and "/sandbox/shares" in text
    for answer in ("confirm", "refuse", "ignore"):
        assert answer in text


def test_every_command_s_own_help_opens_with_what_it_does() -> None:
    from kiosk.cli import build_parser

    def commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command in action.choices.values():
                    yield command
                    yield from commands(command)

    found = list(commands(build_parser()))
    assert len(found) >= 11  # run … sandbox, doctor, config and its verbs
    for command in found:
        assert command.description, command.prog
        assert command.description in " ".join(command.format_help().split()), command.prog


def test_decode_into_a_pipe_that_closes_early_ends_quietly(tmp_path: Path) -> None:
    Image.new("L", (32, 32), 255).save(tmp_path / "blank.png")
    many = " ".join(["blank.png"] * 3000)  # more than a pipe's buffer holds: head must close it
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m kiosk decode --all {many} | "
                           "head -1; echo \"exit ${PIPESTATUS[0]}\""], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    first, status = done.stdout.splitlines()
    assert json.loads(first)["path"] == "blank.png"
    assert status == "exit 0" and "Error" not in done.stderr, done.stderr
