"""`kiosk fleet`: the operator's side, run as the operator runs it, and a kiosk's TUF client
following every step from the root it was installed with."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import RemoteSection
from kiosk.ops.remote_config import ConfigStore, RemoteConfigPoller
from kiosk.ops.tuf_client import layer_paths
from tests.fleet_repo import ServedRepository

DEPLOY = Path(__file__).parents[1] / "deploy" / "fleet"


@pytest.fixture
def repo(tmp_path: Path, capsys) -> Iterator[tuple[Path, Path]]:
    folder, keys = tmp_path / "fleet", tmp_path / "keys"
    assert main(["fleet", "init", str(folder), "--keys", str(keys)]) == 0
    assert "move the root and targets keys offline" in capsys.readouterr().out
    yield folder, keys


def kiosk_sees(folder: Path, kiosk_id: str, store: str, tmp_path: Path) -> dict:
    """The config layers a kiosk installed with 1.root.json gets from `folder`, served."""
    served = ServedRepository.__new__(ServedRepository)  # serve an existing folder
    served.folder, served.replace, served.delay_s, served.requests = folder, {}, 0.0, []
    ServedRepository._serve(served)
    try:
        root = (folder / "metadata" / "1.root.json").read_bytes()
        settings = RemoteSection(url=served.url, allow_http_loopback=True)
        poller = RemoteConfigPoller(settings, {}, ConfigStore(tmp_path / "kiosk", root),
                                    paths=layer_paths(kiosk_id, store), running=lambda: None)
        candidate = poller.fetch_once()
        assert poller.last_rejection is None, poller.last_rejection
        assert candidate is not None
        return candidate.remote.overlay()
    finally:
        served.stop()


def test_init_add_timestamp_delegate_rotate_status(repo, tmp_path: Path, capsys) -> None:
    folder, keys = repo
    assert len(list(keys.glob("root.*.pem"))) == 3
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in keys.iterdir())
    layer = tmp_path / "policy.toml"
    layer.write_text("[kiosk]\nmin_age = 21\n")
    assert main(["fleet", "add", str(folder), "--keys", str(keys), "fleet.toml",
                 str(layer)]) == 0
    layer.write_text("[kiosk]\nmin_age = 25\n")
    assert main(["fleet", "add", str(folder), "--keys", str(keys), "stores/kyiv.toml",
                 str(layer)]) == 0
    assert main(["fleet", "delegate", str(folder), "--keys", str(keys), "kyiv"]) == 0
    layer.write_text("[kiosk]\nmin_age = 30\n")
    assert main(["fleet", "add", str(folder), "--keys", str(keys), "stores/kyiv.toml",
                 str(layer)]) == 0
    assert "signed by store-kyiv" in capsys.readouterr().out
    assert main(["fleet", "timestamp", str(folder), "--keys", str(keys)]) == 0
    old = next(keys.glob("timestamp.*.pem")).name.split(".")[1]
    assert main(["fleet", "rotate", str(folder), "--keys", str(keys), "timestamp", old]) == 0
    old_root = sorted(keys.glob("root.*.pem"))[0].name.split(".")[1]
    assert main(["fleet", "rotate", str(folder), "--keys", str(keys), "root", old_root]) == 0
    old_store = next(keys.glob("store-kyiv.*.pem"))
    assert main(["fleet", "rotate", str(folder), "--keys", str(keys), "store-kyiv",
                 old_store.name.split(".")[1]]) == 0
    old_store.unlink()  # the old store key is gone: the new one alone signs from now on
    layer.write_text("[kiosk]\nmin_age = 30\nlanguage = 'en'\n")
    assert main(["fleet", "add", str(folder), "--keys", str(keys), "stores/kyiv.toml",
                 str(layer)]) == 0
    capsys.readouterr()
    assert main(["fleet", "status", str(folder)]) == 0
    status = capsys.readouterr().out
    assert "root: version 3" in status and "store-kyiv: version 4" in status
    assert kiosk_sees(folder, "k1", "kyiv", tmp_path) == {"kiosk": {"min_age": 30,
                                                                  "language": "en"}}
    assert kiosk_sees(folder, "k2", "lviv", tmp_path / "b") == {"kiosk": {"min_age": 21}}


def test_what_a_kiosk_would_refuse_is_never_signed(repo, tmp_path: Path, capsys) -> None:
    folder, keys = repo
    before = sorted(p.name for p in (folder / "metadata").iterdir())
    cases = {
        "[remote]\nurl = 'https://evil.example'\n": "cannot change [remote]",
        "[kiosk]\nmin_agee = 21\n": 'did you mean "min_age"',
        "kiosk = 5\n": "expected a table",
    }
    for text, said in cases.items():
        (tmp_path / "layer.toml").write_text(text)
        assert main(["fleet", "add", str(folder), "--keys", str(keys), "fleet.toml",
                     str(tmp_path / "layer.toml")]) == 2
        assert said in capsys.readouterr().err
    (tmp_path / "layer.toml").write_text("[kiosk]\nmin_age = 21\n")
    for target in ("kiosks/../fleet.toml", "other.toml", "stores/a b.toml"):
        assert main(["fleet", "add", str(folder), "--keys", str(keys), target,
                     str(tmp_path / "layer.toml")]) == 2
    assert sorted(p.name for p in (folder / "metadata").iterdir()) == before


def test_steps_refuse_without_their_keys_and_root_needs_a_threshold(repo, tmp_path: Path,
                                                                     capsys) -> None:
    folder, keys = repo
    online = tmp_path / "online"  # the timer's machine: timestamp and snapshot keys only
    online.mkdir()
    for pem in [*keys.glob("timestamp.*.pem"), *keys.glob("snapshot.*.pem")]:
        shutil.copy(pem, online / pem.name)
    assert main(["fleet", "timestamp", str(folder), "--keys", str(online)]) == 0
    (tmp_path / "layer.toml").write_text("[kiosk]\nmin_age = 21\n")
    assert main(["fleet", "add", str(folder), "--keys", str(online), "fleet.toml",
                 str(tmp_path / "layer.toml")]) == 2
    assert "needs 1 of its keys; 0 found" in capsys.readouterr().err
    one_root = tmp_path / "one-root"  # rotating needs the old root's threshold: 2
    one_root.mkdir()
    shutil.copy(sorted(keys.glob("root.*.pem"))[0], one_root)
    old = next(keys.glob("targets.*.pem")).name.split(".")[1]
    assert main(["fleet", "rotate", str(folder), "--keys", str(one_root), "targets",
                 old]) == 2
    assert "needs 2 of its keys; 1 found" in capsys.readouterr().err
    assert main(["fleet", "init", str(tmp_path / "weak"), "--keys", str(tmp_path / "k2"),
                 "--root-threshold", "1"]) == 2
    assert main(["fleet", "init", str(folder), "--keys", str(tmp_path / "k3")]) == 2


def test_the_timestamp_timer_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze absent (dev.sh installs systemd)")
    service = (DEPLOY / "kiosk-fleet-timestamp.service").read_text()
    assert "ExecStart=/usr/bin/kiosk fleet timestamp " in service
    (tmp_path / "kiosk-fleet-timestamp.service").write_text(
        service.replace("ExecStart=/usr/bin/kiosk ", f"ExecStart={shutil.which('true')} "))
    shutil.copy(DEPLOY / "kiosk-fleet-timestamp.timer", tmp_path)
    result = subprocess.run([analyze, "verify", str(tmp_path / "kiosk-fleet-timestamp.timer"),
                             str(tmp_path / "kiosk-fleet-timestamp.service")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "kiosk-fleet" not in result.stderr  # no warnings about our units
