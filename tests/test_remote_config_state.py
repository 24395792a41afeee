"""The remote config's state on disk, as an attacker or a damaged SD card leaves it:
nothing here stops a start, follows a planted link or floods the log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kiosk.ops.remote_config import ConfigStore, RemoteConfig, UnsafeStateDir
from kiosk.ops.tuf_client import Layer

ROOT = b'{"signed": {"_type": "root"}}'  # the store only names it by its digest


def remote(version: int, min_age: int = 21) -> RemoteConfig:
    return RemoteConfig(version, (Layer("fleet.toml", f"[kiosk]\nmin_age = {min_age}\n"),))


def store_at(path: Path, root: bytes = ROOT) -> ConfigStore:
    return ConfigStore(path, root)


# --- store.json and the stored files -----------------------------------------------------

WRONG_STATE = {
    "rejected not a list": b'{"rejected": 5, "trial_starts": 0}',
    "rejected of numbers": b'{"rejected": [2], "trial_starts": 1}',
    "rejected of short strings": b'{"rejected": ["ab"]}',
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
    store = store_at(tmp_path)
    store.accept(remote(1))
    store.stage_trial(remote(2, 30))
    (tmp_path / "store.json").write_bytes(content)
    again = store_at(tmp_path)
    trial = again.begin_start()
    assert trial == remote(2, 30)  # a trial's one start, bookkeeping afresh
    assert not again.is_rejected(trial)
    again.reject_trial(trial)
    assert store_at(tmp_path).is_rejected(trial)  # and it is written right again
    assert "store.json" in caplog.text


@pytest.mark.parametrize("damage", ["a folder", "not utf-8", "unreadable", "not json",
                                    "wrong types", "deep", "another root", "bad layer"])
def test_a_damaged_stored_config_is_ignored(tmp_path: Path, caplog, damage: str) -> None:
    accepted = tmp_path / "accepted.json"
    store_at(tmp_path).accept(remote(1))
    good = json.loads(accepted.read_text())
    if damage == "a folder":
        accepted.unlink()
        accepted.mkdir()
    elif damage in ("not utf-8", "unreadable"):
        accepted.write_bytes(accepted.read_bytes() + b"\xff")
        if damage == "unreadable":
            accepted.chmod(0)
            if os.access(accepted, os.R_OK):  # root reads anything: make it a folder's link
                accepted.unlink()
                accepted.symlink_to(tmp_path)
    elif damage == "not json":
        accepted.write_text("{")
    elif damage == "wrong types":
        accepted.write_text(json.dumps({**good, "layers": [{"path": 1, "text": None}]}))
    elif damage == "deep":
        accepted.write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "another root":
        accepted.write_text(json.dumps({**good, "root": "0" * 64}))
    else:
        accepted.write_text(json.dumps({**good, "layers": [{"path": "fleet.toml",
                                                           "text": "[remote]\nurl = 'x'\n"}]}))
    assert store_at(tmp_path).begin_start() is None
    assert "accepted.json ignored" in caplog.text


def test_a_folder_planted_at_the_trial_name_does_not_stop_a_start(tmp_path: Path,
                                                                  caplog) -> None:
    store = store_at(tmp_path)
    store.accept(remote(1))
    (tmp_path / "trial.json").mkdir()
    again = store_at(tmp_path)
    assert again.begin_start() == remote(1)
    assert not again.confirm_start()
    again.reject_trial(remote(2))
    assert "trial.json" in caplog.text


def test_a_link_planted_at_the_temporary_or_final_name_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    folder = tmp_path / "remote"
    folder.mkdir(mode=0o700)
    for name in (".accepted.json.tmp", ".store.json.tmp", ".trial.json.tmp", "store.json"):
        (folder / name).symlink_to(victim)
    (folder / "accepted.json").symlink_to(victim)
    store = store_at(folder)
    store.stage_trial(remote(2))
    store.accept(remote(1))
    assert victim.read_text() == "precious\n"
    assert not (folder / "accepted.json").is_symlink()
    assert not (folder / "store.json").is_symlink()
    assert store.accepted() == remote(1)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]


def test_a_store_folder_others_can_write_to_or_a_link_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafeStateDir):
        store_at(shared).accept(remote(1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "linked").symlink_to(elsewhere)
    with pytest.raises(UnsafeStateDir):
        store_at(tmp_path / "linked").accept(remote(1))
    assert list(elsewhere.iterdir()) == []


def test_writes_are_atomic_and_private(tmp_path: Path) -> None:
    store = store_at(tmp_path / "remote")
    store.accept(remote(1))
    files = sorted(p.name for p in (tmp_path / "remote").iterdir())
    assert files == ["accepted.json"]  # no temporary file left behind
    assert (tmp_path / "remote" / "accepted.json").stat().st_mode & 0o777 == 0o600
    assert store.accepted() == remote(1)


def test_a_trial_that_did_not_come_up_is_rolled_back_for_good(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.accept(remote(1))
    store.stage_trial(remote(2, 30))
    assert store.begin_start() == remote(2, 30)  # its one start
    again = store_at(tmp_path)  # the next process: the trial never confirmed
    assert again.begin_start() == remote(1)
    assert again.rolled_back == remote(2, 30)
    assert again.is_rejected(remote(2, 30)) and not again.is_rejected(remote(1))
    assert again.is_rejected(remote(9, 30))  # the same content at any version


def test_a_trial_that_came_up_becomes_the_accepted_config(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.stage_trial(remote(2))
    assert store.begin_start() == remote(2)
    assert store.confirm_start()
    assert store_at(tmp_path).begin_start() == remote(2)


def test_the_state_file_written_is_what_the_reader_accepts(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.reject_trial(remote(4))
    assert json.loads((tmp_path / "store.json").read_text()) == {
        "rejected": [remote(4).digest], "trial_starts": 0}
