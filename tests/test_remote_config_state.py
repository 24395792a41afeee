"""The remote config's state on disk and its bodies, as an attacker or a damaged SD card
leaves them: nothing here stops a start, follows a planted link or floods the log."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.ops.remote_config import ConfigStore, RemoteConfigPoller, UnsafeStateDir
from kiosk.ops.signing import (
    ALGORITHM,
    SIGNATURE_TAG,
    RemoteConfigError,
    load_private_key,
    public_key_id,
    verify_text,
)
from tests.test_remote_config import PRIVATE, PUBLIC, ConfigServer, signed


def sign_raw(body: str) -> str:
    """Signed as an operator's own tool might: without `sign_text`'s checks of the body."""
    signature = base64.b64encode(load_private_key(PRIVATE).sign(body.encode())).decode()
    return f"{SIGNATURE_TAG} {ALGORITHM} {public_key_id(PUBLIC)} {signature}\n{body}"


DEEP = "version = 9\n[kiosk]\nx = " + "[" * 3000 + "]" * 3000 + "\n"


# --- store.json and the stored files -----------------------------------------------------

WRONG_STATE = {
    "rejected not a list": b'{"rejected": 5, "trial_starts": 0}',
    "rejected of strings": b'{"rejected": ["2"], "trial_starts": 1}',
    "rejected of booleans": b'{"rejected": [true]}',
    "trial_starts a string": b'{"rejected": [], "trial_starts": "1"}',
    "trial_starts null": b'{"trial_starts": null}',
    "a list": b"[1, 2]",
    "a string": b'"hello"',
    "nested deep": b"[" * 100_000 + b"]" * 100_000,
    "not utf-8": b'{"rejected": ["\xff"]}',
    "not json": b"{",
}


@pytest.mark.parametrize("content", WRONG_STATE.values(), ids=WRONG_STATE.keys())
def test_a_mistyped_state_file_counts_as_no_state_and_is_logged(
    tmp_path: Path, caplog, content: bytes
) -> None:
    store = ConfigStore(tmp_path, PUBLIC)
    store.accept(verify_text(signed(1, ""), PUBLIC))
    store.stage_trial(verify_text(signed(2, ""), PUBLIC))
    (tmp_path / "store.json").write_bytes(content)
    again = ConfigStore(tmp_path, PUBLIC)
    assert again.begin_start().version == 2  # a trial's one start, bookkeeping afresh
    assert not again.is_rejected(2)
    again.reject_trial(2)
    assert ConfigStore(tmp_path, PUBLIC).is_rejected(2)  # and it is written right again
    assert "store.json" in caplog.text


@pytest.mark.parametrize("damage", ["a folder", "not utf-8", "unreadable"])
def test_a_damaged_stored_config_is_ignored(tmp_path: Path, caplog, damage: str) -> None:
    accepted = tmp_path / "accepted.toml"
    if damage == "a folder":
        accepted.mkdir()
    else:
        accepted.write_bytes(signed(1, "").encode() + b"# \xff\n")
        if damage == "unreadable":
            accepted.chmod(0)
            if os.access(accepted, os.R_OK):  # root reads anything: make it a folder's link
                accepted.unlink()
                accepted.symlink_to(tmp_path)
    assert ConfigStore(tmp_path, PUBLIC).begin_start() is None
    assert "accepted.toml ignored" in caplog.text


def test_a_folder_planted_at_the_trial_name_does_not_stop_a_start(tmp_path: Path,
                                                                  caplog) -> None:
    store = ConfigStore(tmp_path, PUBLIC)
    store.accept(verify_text(signed(1, ""), PUBLIC))
    (tmp_path / "trial.toml").mkdir()
    again = ConfigStore(tmp_path, PUBLIC)
    assert again.begin_start().version == 1
    assert not again.confirm_start()
    again.reject_trial(2)
    assert "trial.toml" in caplog.text


def test_a_link_planted_at_the_temporary_or_final_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    remote = tmp_path / "remote"
    remote.mkdir(mode=0o700)
    for name in (".accepted.toml.tmp", ".store.json.tmp", ".trial.toml.tmp", "store.json"):
        (remote / name).symlink_to(victim)
    (remote / "accepted.toml").symlink_to(victim)
    store = ConfigStore(remote, PUBLIC)
    store.stage_trial(verify_text(signed(2, ""), PUBLIC))
    store.accept(verify_text(signed(1, ""), PUBLIC))
    assert victim.read_text() == "precious\n"
    assert not (remote / "accepted.toml").is_symlink()
    assert not (remote / "store.json").is_symlink()
    assert store.accepted().version == 1
    assert not [p for p in remote.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_a_store_folder_others_can_write_to_or_a_link_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafeStateDir):
        ConfigStore(shared, PUBLIC).accept(verify_text(signed(1, ""), PUBLIC))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "linked").symlink_to(elsewhere)
    with pytest.raises(UnsafeStateDir):
        ConfigStore(tmp_path / "linked", PUBLIC).accept(verify_text(signed(1, ""), PUBLIC))
    assert list(elsewhere.iterdir()) == []


# --- bodies ------------------------------------------------------------------------------


def test_a_signed_body_nested_3000_deep_is_malformed() -> None:
    with pytest.raises(RemoteConfigError) as caught:
        verify_text(sign_raw(DEEP), PUBLIC)
    assert caught.value.reason == "malformed"


def test_a_fetched_deep_body_is_one_log_line_and_counted_as_rejected(
    tmp_path: Path, caplog
) -> None:
    from kiosk.config import RemoteSection

    server = ConfigServer()
    server.body = sign_raw(DEEP)
    rejections: list[str] = []
    settings = RemoteSection(url=server.url, public_key=PUBLIC, allow_http_loopback=True)
    poller = RemoteConfigPoller(settings, {}, ConfigStore(tmp_path, PUBLIC),
                                running_version=lambda: 1, on_reject=rejections.append)
    try:
        with caplog.at_level(logging.DEBUG, logger="kiosk"):
            assert poller.fetch_once() is None
    finally:
        poller.close()
        server.stop()
    assert rejections == ["malformed"] and poller.last_rejection == "malformed"
    ours = [r for r in caplog.records if r.name.startswith("kiosk")]
    assert len(ours) == 1 and ours[0].exc_info is None
    assert len(caplog.text.splitlines()) == 1


@pytest.mark.parametrize("body", ["version = 3\nkiosk = 5\n", "version = 3\ndiia = [1, 2]\n"])
def test_verify_and_validate_name_a_section_that_is_not_a_table(
    tmp_path: Path, capsys, body: str
) -> None:
    path = tmp_path / "fleet.signed.toml"
    path.write_text(sign_raw(body))
    section = body.split("\n")[1].split(" ")[0]
    for args in (["config", "verify", "--public-key", PUBLIC, str(path)],
                 ["config", "validate", str(path)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"{section}: expected a table" in err and str(path) in err
        assert "TypeError" not in err


def test_verify_of_a_deep_body_is_exit_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "deep.toml"
    path.write_text(sign_raw(DEEP))
    assert main(["config", "verify", "--public-key", PUBLIC, str(path)]) == 2
    assert "nested too deeply" in capsys.readouterr().err


def test_the_state_file_written_is_what_the_reader_accepts(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path, PUBLIC)
    store.reject_trial(4)
    assert json.loads((tmp_path / "store.json").read_text()) == {
        "rejected": [4], "trial_starts": 0}
