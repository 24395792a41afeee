"""The till's API as a hostile LAN peer or web page meets it: a real `kiosk run` process, its
API on loopback, raw sockets. Nothing here may arm a check or turn a code into a pass."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiosk.api.wire import Limits
from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_process import EventReader, RunningKiosk

SLOW = 400  # slow connections held at once (the bench holds 2,000); > 6 times the cap
CAP = Limits().max_connections


def proc_counts(pid: int) -> tuple[int, int]:
    """(threads, descriptors) of a process."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    threads = next(int(line.split()[1]) for line in status if line.startswith("Threads:"))
    return threads, len(os.listdir(f"/proc/{pid}/fd"))


def exchange(port: int, raw: bytes, timeout_s: float = 5.0) -> bytes:
    """Send `raw` on a fresh connection; everything the kiosk answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(raw)
        got = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                got += chunk
    return got


@pytest.fixture
def kiosk(sandbox: DiiaSandbox, tmp_path: Path) -> Iterator[RunningKiosk]:
    with RunningKiosk(sandbox, tmp_path, mode="age", kiosk_extra="min_age = 18") as running:
        yield running


def test_slow_connections_cost_no_thread_and_a_till_is_still_served(
        kiosk: RunningKiosk, sandbox: DiiaSandbox) -> None:
    pid = kiosk.process.pid
    threads, fds = proc_counts(pid)
    slow: list[socket.socket] = []
    try:
        for n in range(SLOW):  # half from the till's own address, half from another
            sock = socket.socket()
            sock.bind((("127.0.0.1", "127.0.0.2")[n % 2], 0))
            sock.connect(("127.0.0.1", kiosk.port))
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(sock)
        time.sleep(0.5)
        held_threads, held_fds = proc_counts(pid)
        started = time.monotonic()
        health = httpx.get(f"{kiosk.url}/v1/health", timeout=5)
        check = kiosk.arm(mode="age")
        kiosk.scan(sandbox.mint("valid", age=30))
        verdict = kiosk.wait_state(check["id"])["verdict"]
        seconds = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
    assert health.status_code == 200
    assert (verdict["outcome"], verdict["reason"]) == ("pass", "valid")
    assert held_threads <= threads + 1, "a slow connection held a thread"
    assert held_fds <= fds + CAP + 2, "connections beyond the cap kept a descriptor"
    print(f"{SLOW} slow connections: threads {threads} -> {held_threads}, fds {fds} -> "
          f"{held_fds}; health and a verdict meanwhile in {seconds:.2f} s")


SMUGGLED = (b"POST /v1/checks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b'Content-Length: 31\r\n\r\n{"mode": "age", "min_age": 1}\r\n')
FRAMINGS = {
    "two lengths": b"Content-Length: 0\r\nContent-Length: %d\r\n",
    "a length list": b"Content-Length: 0, %d\r\n",
    "a bad length": b"Content-Length: 0x%x\r\n",
    "a signed length": b"Content-Length: +%d\r\n",
    "gzip, chunked": b"Transfer-Encoding: gzip, chunked\r\nContent-Length: %d\r\n",
    "chunked twice": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Length: %d\r\n",
    "chunked and a length": b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n",
    "identity": b"Transfer-Encoding: identity\r\nContent-Length: %d\r\n",
    "a space before the colon": b"Content-Length : %d\r\n",
}


def test_ambiguous_framing_is_refused_and_the_bytes_after_it_never_run(
        kiosk: RunningKiosk) -> None:
    stream = EventReader(kiosk.url)
    for name, header in FRAMINGS.items():
        body = b"0\r\n\r\n" + SMUGGLED if b"chunked" in header else SMUGGLED
        raw = (b"POST /v1/staff/ack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + header.replace(b"%d", str(len(body)).encode()).replace(
                   b"%x", f"{len(body):x}".encode()) + b"\r\n" + body)
        answer = exchange(kiosk.port, raw)
        status = answer.split(b" ", 2)[1] if answer else b"none"
        assert status in (b"400", b"501"), (name, answer[:200])
        assert answer.count(b"HTTP/1.1 ") == 1, (name, "a second answer: the body ran")
        assert b"Connection: close" in answer, name
    time.sleep(0.3)
    legit = kiosk.arm(mode="validate", reference="legit")
    stream.wait_for(lambda e: e.get("id") == legit["id"])
    armed = [e for _, e in stream.events if e.get("event") == "check" and e["state"] == "armed"]
    assert [e["id"] for e in armed] == [legit["id"]], "a smuggled request armed a check"
    stream.close()


HOSTILE = {
    "a text/plain cross-site post": {"Content-Type": "text/plain",
                                     "Origin": "https://evil.example",
                                     "Sec-Fetch-Site": "cross-site"},
    "a form post": {"Content-Type": "application/x-www-form-urlencoded"},
    "a post without a type": {},
    "JSON from a cross-site page": {"Content-Type": "application/json",
                                    "Origin": "https://evil.example"},
    "JSON marked cross-site": {"Content-Type": "application/json",
                               "Sec-Fetch-Site": "cross-site"},
    "an opaque origin": {"Content-Type": "application/json", "Origin": "null"},
    "a rebound host name": {"Content-Type": "application/json",
                            "Host": "rebind.evil.example"},
    "a rebound name with the port": {"Content-Type": "application/json",
                                     "Host": "localhost.evil.example:8765"},
}


def test_a_web_page_cannot_arm_a_check_nor_read_the_kiosk(
        kiosk: RunningKiosk, sandbox: DiiaSandbox) -> None:
    body = b'{"mode": "age", "min_age": 1}'
    with httpx.Client(base_url=kiosk.url, timeout=5) as page:
        for name, headers in HOSTILE.items():
            answer = page.post("/v1/checks", content=body, headers=headers)
            assert answer.status_code in (403, 415), name
            assert answer.json()["field"] in ("Host", "Origin", "Sec-Fetch-Site",
                                              "Content-Type"), name
        rebound = {"Host": "rebind.evil.example"}
        assert page.get("/v1/health", headers=rebound).status_code == 403
        assert page.get("/v1/events", headers=rebound).status_code == 403
    kiosk.scan(sandbox.mint("valid", age=16))  # no check armed: the kiosk's own 18
    _, stdout, _ = kiosk.stop()
    assert '"outcome": "fail"' in stdout and '"outcome": "pass"' not in stdout


def test_json_nested_8000_deep_is_a_400_without_a_traceback(kiosk: RunningKiosk) -> None:
    deep = b"[" * 8000 + b"]" * 8000  # within the 16 KiB a body may have
    answer = kiosk.http.post("/v1/checks", content=deep,
                             headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["field"] == "body"
    _, _, stderr = kiosk.stop()
    assert "Traceback" not in stderr and "RecursionError" not in stderr


def test_a_stream_resumed_after_a_restart_hears_the_new_run(
        sandbox: DiiaSandbox, tmp_path: Path) -> None:
    with RunningKiosk(sandbox, tmp_path / "first") as first:
        stream = EventReader(first.url)
        check = first.arm(mode="validate")
        last_id, _ = stream.wait_for(lambda e: e.get("id") == check["id"])
        stream.close()
    with RunningKiosk(sandbox, tmp_path / "second") as second:
        check = second.arm(mode="validate")
        resumed = EventReader(second.url, last_event_id=last_id)
        resumed.wait_for(lambda e: e.get("id") == check["id"], timeout_s=5)
        resumed.close()


def test_a_till_that_hangs_up_frees_its_stream_at_once(kiosk: RunningKiosk) -> None:
    from kiosk.api.server import MAX_SUBSCRIBERS

    for round_ in range(4):  # each round a full house, which hangs up; the next finds room
        socks = [socket.create_connection(("127.0.0.1", kiosk.port))
                 for _ in range(MAX_SUBSCRIBERS)]
        for sock in socks:
            sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            sock.settimeout(5)
            first = sock.recv(400)
            assert first.startswith(b"HTTP/1.1 200"), (round_, first)
        for sock in socks:
            sock.close()
        time.sleep(1.0)  # a stream notices within 0.5 s (it was 15 s)


def test_a_stream_behind_the_expired_events_waits_rather_than_spins() -> None:
    from kiosk.api.server import ApiServer
    from kiosk.api.service import TillService

    now = [1000.0]
    service = TillService(clock=lambda: now[0])
    first = service.events.publish({"event": "verdict", "outcome": "fail"})
    now[0] += 400  # every kept event has expired
    server = ApiServer(("127.0.0.1", 0), service).start()
    try:
        for last_id in ("0", str(first - 1), str(first)):
            with socket.create_connection(server.server_address, timeout=2) as sock:
                sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Last-Event-ID: " + last_id.encode() + b"\r\n\r\n")
                got, until = 0, time.monotonic() + 1.0
                with contextlib.suppress(TimeoutError):
                    while time.monotonic() < until:
                        sock.settimeout(max(0.01, until - time.monotonic()))
                        got += len(sock.recv(65536))
            assert got < 1000, f"Last-Event-ID {last_id}: {got} bytes in 1 s"
    finally:
        server.stop()


def test_a_token_that_is_not_ascii_stops_the_start_naming_the_key(
        sandbox: DiiaSandbox, tmp_path: Path) -> None:
    token_file = tmp_path / "api-token"
    token_file.write_text("токен-каси-0123456789-abcdef")  # printable; no header can match
    token_file.chmod(0o600)
    with pytest.raises(RuntimeError) as stopped:
        RunningKiosk(sandbox, tmp_path, api_extra=f'token_file = "{token_file}"\n')
    assert "exited 2" in str(stopped.value) and "api.token_file" in str(stopped.value)
    assert "токен" not in str(stopped.value)


def test_a_name_file_4000_deep_is_one_warning_per_scan_not_a_traceback(
        sandbox: DiiaSandbox, tmp_path: Path) -> None:
    names = tmp_path / "names.json"
    names.write_text("[" * 4000)  # within the file's 4 KiB: the parser recurses before it ends
    with RunningKiosk(sandbox, tmp_path / "run", mode="name",
                      kiosk_extra=f'name_file = "{names}"') as kiosk:
        for _ in range(2):
            kiosk.scan(sandbox.mint("valid"))
        status, stdout, stderr = kiosk.stop()
    assert status == 0 and stdout.count('"event": "verdict"') == 2
    assert '"outcome": "pass"' not in stdout
    assert "Traceback" not in stderr and stderr.count("refused") >= 2
