"""A full state disk and a new remote config: the kiosk keeps running on the last good
config, says so once (the storage banner, one log line, one count), and applies the new one
when space returns. The disk is a real one: a small tmpfs, filled to the last byte."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Fault, Outcome
from tests.fleet_repo import ServedRepository
from tests.kiosk_process import RunningKiosk
from tests.test_remote_config import LiveKiosk, local_config, refresh, wait_for


@contextlib.contextmanager
def small_disk(folder: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted at `folder` (made if missing), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                              str(folder)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write until the disk says ENOSPC; the filler file, to delete for space again."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[ServedRepository]:
    served = ServedRepository(tmp_path / "fleet")
    served.publish("fleet.toml", "[kiosk]\nmin_age = 21\n")
    yield served
    served.stop()


@contextlib.contextmanager
def live_on_small_disk(tmp_path: Path, sandbox: DiiaSandbox,
                       fleet: ServedRepository) -> Iterator[tuple[LiveKiosk, Path]]:
    """A running kiosk whose state directory is a small disk; it runs min_age 21 from the
    fleet, and the fleet then publishes min_age 25."""
    with small_disk(tmp_path / "state") as state:
        path = local_config(tmp_path / "kiosk.toml", sandbox, fleet, state, timeout_s=2.0)
        live = LiveKiosk(path, sandbox)
        try:
            wait_for(live, 21)
            fleet.publish("fleet.toml", "[kiosk]\nmin_age = 25\n")
            yield live, state
        finally:
            live.close()


def test_a_new_config_waits_for_space_and_is_said_once(
    tmp_path: Path, sandbox: DiiaSandbox, fleet: ServedRepository, caplog
) -> None:
    with live_on_small_disk(tmp_path, sandbox, fleet) as (live, state):
        filler = fill(state)
        with caplog.at_level(logging.INFO, logger="kiosk"):
            for _ in range(3):  # refreshes while the disk stays full
                refresh(live)
            assert live.thread.is_alive() and live.error is None
            assert live.ops.config.kiosk.min_age == 21  # the last good config runs
            assert live.verdict_for_age(20) == (Outcome.FAIL, "underage")
            assert Fault.STORAGE in live.appliance.kiosk.state.faults
            counted = live.rejected("disk_full") + live.rejected("state")
            assert live.rejected("disk_full") == 1 and counted == 1
            warnings = [r for r in caplog.records if r.levelno >= logging.WARNING
                        and r.name.startswith("kiosk.ops")]  # the audit log has its own
            assert len(warnings) == 1, [r.getMessage() for r in warnings]
            filler.unlink()  # space returns
            refresh(live)
            wait_for(live, 25)
        assert Fault.STORAGE not in live.appliance.kiosk.state.faults
        assert live.verdict_for_age(24) == (Outcome.FAIL, "underage")


def test_a_config_fetched_before_the_disk_filled_is_not_applied_unstored(
    tmp_path: Path, sandbox: DiiaSandbox, fleet: ServedRepository
) -> None:
    """The refresh had room; storing what it found has none: nothing changes (no config
    runs that the next start would not), the banner says why, and the next refresh after
    space returns applies it."""
    with live_on_small_disk(tmp_path, sandbox, fleet) as (live, state):
        housekeeping = live.ops.housekeeping
        assert housekeeping is not None and live.ops.poller is not None
        housekeeping._every_s = 3600.0  # the loop leaves the housekeeping to the test
        live.settle()
        assert live.ops.poller.fetch_once() is not None
        filler = fill(state)
        housekeeping.update()
        live.settle()  # the loop takes the banner
        assert live.ops.config.kiosk.min_age == 21 and live.ops.storage_failing
        assert Fault.STORAGE in live.appliance.kiosk.state.faults
        assert live.rejected("disk_full") == 1
        filler.unlink()
        live.ops.poller.fetch_once()
        housekeeping.update()
        assert live.ops.config.kiosk.min_age == 25 and not live.ops.storage_failing


def test_kiosk_run_on_a_full_disk_with_a_new_config_keeps_running(
    tmp_path: Path, sandbox: DiiaSandbox, fleet: ServedRepository
) -> None:
    """The crash loop seen before: `kiosk run` ended with OSError ENOSPC on every start."""
    folder = tmp_path / "run"
    with small_disk(folder / "state") as state:
        remote = (f'[remote]\nurl = "{fleet.url}"\nroot_file = "{fleet.root_file}"\n'
                  "allow_http_loopback = true\ntimeout_s = 2.0\n")
        with RunningKiosk(sandbox, folder, extra=remote, kiosk_extra='id = "k1"\n') as first:
            deadline = time.monotonic() + 10
            while not (state / "remote" / "accepted.json").exists():
                assert time.monotonic() < deadline, "the first config was never stored"
                time.sleep(0.05)
            first.stop()
        fleet.publish("fleet.toml", "[kiosk]\nmin_age = 30\n[signals]\nevents = 'off'\n")
        fill(state)
        for _ in range(2):  # the old crash came on every start: start twice
            with RunningKiosk(sandbox, folder, extra=remote,
                              kiosk_extra='id = "k1"\n') as kiosk:
                kiosk.scan(sandbox.mint("valid"))
                time.sleep(1.0)  # the start's refresh, and a look at what it found
                assert kiosk.process.poll() is None
                code, out, err = kiosk.stop()
            assert code == 0, err[-2000:]
            assert '"outcome": "pass"' in out or '"outcome":"pass"' in out
            assert "disk_full" in err and "Traceback" not in err
