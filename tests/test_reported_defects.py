"""Defects reported from outside, met again as a user meets them: a `kiosk` process, its
till API on a socket, the Diia sandbox beside it."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from kiosk.diia.sandbox import DiiaSandbox
from kiosk.loop import Reading
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


def test_doctor_beside_a_running_kiosk_asks_diia_and_leaves_the_tills_port_alone(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    """A running kiosk holds `[api] listen`; `kiosk doctor` builds a Diia client only."""
    with socket.socket() as held:  # the running kiosk's till API, as far as the port goes
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = write_kiosk_config(tmp_path / "kiosk.toml", sandbox,
                                    listen=f"127.0.0.1:{port}")
        ran = kiosk_command("doctor", "--config", str(config), sandbox=sandbox, cwd=tmp_path)
    out = ran.stdout + ran.stderr
    assert "api.listen" not in out and "Address already in use" not in out, out
    diia = next(line for line in ran.stdout.splitlines() if "diia" in line.split(":")[0]
                or line.split()[1:2] == ["diia"])
    assert "logged in" in diia, ran.stdout


def test_the_tills_health_reads_the_live_diia_after_a_reload(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    """A live reload that changes `[diia]` swaps the client; `/v1/health` (over its socket)
    says what the kiosk now hears from Diia, not what the closed client last heard."""
    from kiosk.bootstrap import bootstrap
    from kiosk.config_files import load_config
    from kiosk.decoding.codes import to_code

    port = free_port()
    nobody = f"http://127.0.0.1:{free_port()}"  # a Diia that does not answer at all
    config = write_kiosk_config(tmp_path / "kiosk.toml", sandbox, listen=f"127.0.0.1:{port}",
                                timeout_s=0.5)
    first = load_config(config)
    first = replace(first, diia=replace(first.diia, base_url=nobody))
    scans: queue.SimpleQueue[Reading] = queue.SimpleQueue()
    done = threading.Event()

    def readings() -> Iterator[Reading]:
        while not done.is_set():
            try:
                yield scans.get(timeout=0.05)
            except queue.Empty:
                yield Reading([], [], time.monotonic())

    def scan() -> None:
        code = to_code(sandbox.mint("valid"), "EAN-13")
        assert code is not None
        scans.put(Reading([code], [code], time.monotonic()))

    def verdicts(count: int) -> None:
        deadline = time.monotonic() + 20
        while parts.kiosk.verdicts < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert parts.kiosk.verdicts == count

    parts = bootstrap(first, credentials=sandbox.credentials, readings=readings(), outputs=[])
    run = threading.Thread(target=parts.run, daemon=True)
    run.start()
    try:
        scan()
        verdicts(1)  # amber: no answer from the first Diia
        parts.reconfigure(load_config(config))  # as a remote config applies it, when idle
        scan()
        verdicts(2)  # the second Diia answered
        health = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=5).json()
        assert health["diia"] == "reachable", health
    finally:
        done.set()
        run.join(10)


def test_a_share_waiting_for_its_holder_keeps_the_watchdog_fed_and_stops_at_once(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    """A share waits up to `share.wait_s` for its holder. The watchdog pings go on all that
    time (the check's own deadline includes the wait: 35 s in, past 3 × diia.timeout_s + 30,
    it is not stuck), and a stop (SIGTERM, as systemd sends) ends the wait at once."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(tmp_path / "notify"))
        sandbox.share.set_policy("ignore")  # the holder never answers
        env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"}
        with RunningKiosk(sandbox, tmp_path / "kiosk", env=env,
                          extra="[share]\nwait_s = 120.0\npoll_s = 1.0\n") as kiosk:
            check = kiosk.arm(mode="share")["id"]
            kiosk.scan(sandbox.mint("valid"))
            kiosk.wait_state(check, ("checking",))
            pings: list[float] = []
            started = time.monotonic()
            notify.settimeout(0.5)
            while time.monotonic() - started < 35.0:
                try:
                    lines = notify.recv(4096).decode().split("\n")
                except TimeoutError:
                    continue
                if "WATCHDOG=1" in lines:
                    pings.append(time.monotonic() - started)
            assert kiosk.http.get(f"/v1/checks/{check}").json()["state"] == "checking"
            gaps = [b - a for a, b in zip([0.0, *pings], pings, strict=False)]
            assert pings and pings[-1] > 33.0 and max(gaps) < 5.0, pings
            stopping = time.monotonic()
            kiosk.process.terminate()
            kiosk.process.wait(timeout=30)
            assert time.monotonic() - stopping < 5.0  # not the 85 s the share had left
