"""sd_notify on a real datagram socket, and the watchdog fed only by a turning loop."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.app import Kiosk, SourceEnded, push_readings
from kiosk.bootstrap import Parts
from kiosk.config import Config
from kiosk.loop import Reading
from kiosk.model import Phase, State
from kiosk.ops.runtime import Housekeeping, Operations
from kiosk.ops.systemd import LoopWatchdog, Notifier, watchdog_period
from tests.fakes.signals import RecordingSignals
from tests.kiosk_config import write_kiosk_config


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    sock.bind(path)
    sock.settimeout(2)
    yield sock, path
    sock.close()


def received(sock: socket.socket, timeout: float = 2.0) -> list[str]:
    sock.settimeout(timeout)
    try:
        return sock.recv(4096).decode().split("\n")
    except TimeoutError:
        return []


def drain(sock: socket.socket, quiet_s: float) -> list[str]:
    """Every datagram until none arrives for `quiet_s`."""
    lines: list[str] = []
    while batch := received(sock, quiet_s):
        lines += batch
    return lines


def test_notifier_sends_each_state_line_to_the_socket(listener) -> None:
    sock, path = listener
    environ = {"NOTIFY_SOCKET": path, "OTHER": "x"}
    notifier = Notifier.from_environ(environ)
    assert "NOTIFY_SOCKET" not in environ  # children must not inherit it
    assert notifier.enabled
    notifier.ready("checking codes")
    assert received(sock) == ["READY=1", "STATUS=checking codes"]
    notifier.status("Diia unreachable")
    assert received(sock) == ["STATUS=Diia unreachable"]
    notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]
    notifier.stopping()
    assert received(sock) == ["STOPPING=1"]
    notifier.close()


def test_notifier_speaks_to_an_abstract_socket() -> None:
    name = f"kiosk-test-{os.getpid()}-{threading.get_ident()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        Notifier(f"@{name}").ready()
        assert received(sock) == ["READY=1"]
    finally:
        sock.close()


def test_outside_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    notifier.ready("x")
    notifier.watchdog()
    notifier.stopping()


def test_a_vanished_socket_is_not_fatal(tmp_path: Path) -> None:
    Notifier(str(tmp_path / "gone")).ready()  # systemd going down must not crash the kiosk


def test_watchdog_period_is_read_only_for_our_own_pid() -> None:
    assert watchdog_period({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_period({}) is None


def test_loop_watchdog_pings_at_half_the_period() -> None:
    now = [0.0]
    pings = []

    class Counting(Notifier):
        def watchdog(self) -> None:
            pings.append(now[0])

    dog = LoopWatchdog(Counting(), 10.0, clock=lambda: now[0])
    for step in range(0, 30):
        now[0] = step * 1.0
        dog()
    assert pings == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]


def test_loop_watchdog_stays_silent_while_unhealthy() -> None:
    now = [0.0]
    healthy = [True]
    dog = LoopWatchdog(Notifier(), 2.0, healthy=lambda: healthy[0], clock=lambda: now[0])
    dog()
    healthy[0] = False
    for step in range(1, 10):
        now[0] = float(step)
        dog()
    assert dog.pings == 1
    healthy[0] = True
    dog()
    assert dog.pings == 2


def test_a_stalled_main_loop_stops_feeding_the_watchdog(listener) -> None:
    """The kiosk's own loop feeds systemd; when a read hangs, the pings stop."""
    sock, path = listener
    stall, resume = threading.Event(), threading.Event()

    def readings() -> Iterator[Reading]:
        for _ in range(40):  # a camera delivering empty frames
            yield Reading([], [], 0.0)
            threading.Event().wait(0.01)
        stall.set()
        resume.wait(5)  # the camera read hangs
        for _ in range(40):
            yield Reading([], [], 0.0)
            threading.Event().wait(0.01)

    dog = LoopWatchdog(Notifier(path), period_s=0.1)  # a ping every 50 ms while turning
    kiosk = Kiosk(readings=readings(), checker=None, signals=[RecordingSignals()],  # type: ignore[arg-type]
                  heartbeat=dog)
    runner = threading.Thread(target=kiosk.run)
    runner.start()
    try:
        assert stall.wait(5)
        before = drain(sock, 0.2)
        assert before.count("WATCHDOG=1") >= 3  # fed while the loop turned
        assert received(sock, 0.5) == []  # stalled: half a second, not one ping
        resume.set()
        assert received(sock, 2.0) == ["WATCHDOG=1"]  # the loop turns again, so do the pings
    finally:
        resume.set()
        runner.join(5)
    assert not runner.is_alive()


# --- the loop keeps turning while a scanner waits; the housekeeping's health veto --------


def test_a_scanner_pushes_its_scans_then_its_end_onto_the_loops_queue() -> None:
    gate = threading.Event()

    def scanner() -> Iterator[Reading]:
        gate.wait(5)  # nobody scans for a while
        yield Reading(["code"], ["code"], 1.0)  # type: ignore[list-item]

    inbox: queue.SimpleQueue = queue.SimpleQueue()
    pump = threading.Thread(target=push_readings, args=(scanner(), inbox))
    pump.start()
    assert inbox.empty()  # nothing while the scanner blocks: the loop waits on its queue
    gate.set()
    pump.join(5)
    assert inbox.get_nowait().seen == ["code"] and inbox.get_nowait() == SourceEnded()


def test_a_failing_scanner_fails_on_the_loop() -> None:
    def broken() -> Iterator[Reading]:
        raise OSError(19, "No such device")
        yield

    kiosk = Kiosk(readings=broken(), checker=None, signals=[],  # type: ignore[arg-type]
                  push_readings=True)
    with pytest.raises(OSError, match="No such device"):
        kiosk.run()


class StuckKiosk:
    """A kiosk whose check has been running since t=0, due by t=9 (a check's own deadline:
    3 × diia.timeout_s), or resting (the outermost seam for this test)."""

    verdicts = 0

    def __init__(self, phase: Phase, deadline: float = 9.0) -> None:
        self.state = State(phase, since=0.0)
        self.check_deadline = deadline if phase is Phase.CHECKING else None

    def set_fault(self, fault, active) -> None:
        faults = self.state.faults | {fault} if active else self.state.faults - {fault}
        self.state = State(self.state.phase, faults=faults, since=self.state.since)


@pytest.mark.parametrize(("phase", "healthy_at_100s"), [(Phase.CHECKING, False),
                                                          (Phase.IDLE, True)])
def test_a_check_stuck_far_past_its_deadline_vetoes_the_pings(phase, healthy_at_100s) -> None:
    now = [1.0]
    ops = Operations(Config(), environ={})
    parts = Parts(StuckKiosk(phase), client=None, checker=None)  # type: ignore[arg-type]
    keeping = Housekeeping(ops, parts, clock=lambda: now[0])
    assert keeping.healthy()
    now[0] = 100.0  # diia.timeout_s is 3: nothing legitimate takes 100 s
    assert keeping.healthy() is healthy_at_100s


def test_a_share_waiting_for_its_holder_is_not_stuck_until_its_own_deadline() -> None:
    """A share's deadline includes `share.wait_s` (120 s by default): at 100 s it is waited
    for, not killed; only past its own deadline and the grace do the pings stop."""
    now = [1.0]
    ops = Operations(Config(), environ={})
    share = StuckKiosk(Phase.CHECKING, deadline=120.0 + 9.0)
    keeping = Housekeeping(ops, Parts(share, client=None, checker=None),  # type: ignore[arg-type]
                           clock=lambda: now[0])
    now[0] = 100.0
    assert keeping.healthy()
    now[0] = 129.0 + 31.0
    assert not keeping.healthy()


# --- `kiosk run` under a notify socket: READY, STATUS, WATCHDOG, STOPPING ----------------


def test_kiosk_run_speaks_sd_notify(listener, sandbox, tmp_path: Path) -> None:
    sock, path = listener
    config = write_kiosk_config(tmp_path / "kiosk.toml", sandbox, attended=None,
                                timeout_s=None, require_sync=None)
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000",
           "KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
           "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = received(sock, 20)
        assert first[0] == "READY=1" and first[1].startswith("STATUS=mode validate")
        time.sleep(0.5)  # idle, waiting for a scan: the loop still feeds the watchdog
        out, err = proc.communicate(sandbox.mint("valid") + "\n", timeout=20)
    finally:
        proc.kill()
    lines = drain(sock, 0.3)
    assert proc.returncode == 0, err
    assert lines.count("WATCHDOG=1") >= 4  # every 100 ms for at least half a second
    assert "STOPPING=1" in lines
    assert any(line.startswith("STATUS=") and line.endswith(" 1 verdict") for line in lines)
    assert '"outcome": "pass"' in out
