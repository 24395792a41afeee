"""Class 2: the deadline is a wall: lookup, connect, TLS, send, head and body inside it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kiosk.diia.errors import DiiaTimeout
from kiosk.diia.transport import DEADLINE_MARGIN_S
from tests.adversarial.conftest import DEADLINE_S, ask, code
from tests.adversarial.hostile import (
    HostileServer,
    Peer,
    Request,
    SilentListener,
    honest_login,
    response,
    tls_files,
)

VALID = response(200, {"success": True})
TRICKLE_S = 0.05  # a byte every 50 ms: each read is quick, the whole is 2-5 s


def trickle(data: bytes, server_stop: list[threading.Event]) -> object:
    def behaviour(peer: Peer, request: Request) -> None:
        peer.trickle(data, TRICKLE_S, server_stop[0])
    return behaviour


def trickling_server(data: bytes, **kwargs: object) -> HostileServer:
    stop: list[threading.Event] = []
    server = HostileServer(trickle(data, stop), **kwargs)  # type: ignore[arg-type]
    stop.append(server.stop)
    return server


def test_trickled_headers_end_in_a_timeout_at_the_deadline(make_client):
    with trickling_server(VALID) as server:
        verdict = ask(make_client(server.url), attack="trickle")
    assert verdict.reason == "timeout"
    assert verdict.seconds >= DEADLINE_S - 0.05  # it did wait for the answer, not give up early


def test_a_trickled_body_ends_in_a_timeout_at_the_deadline(make_client):
    # A valid answer padded with spaces, its Content-Length honest: whole after 3 s.
    head, _, body = response(200, b'{"success": true}' + b" " * 40).partition(b"\r\n\r\n")

    def body_trickle(peer: Peer, request: Request) -> None:
        peer.send(head + b"\r\n\r\n")
        peer.trickle(body, TRICKLE_S, server.stop)

    with HostileServer(body_trickle) as server:
        verdict = ask(make_client(server.url), attack="trickle")
    assert verdict.reason == "timeout"


def test_a_trickled_login_and_check_share_one_deadline(make_client):
    # The login is slow but in time, then the check is slow: together past the deadline.
    def slow_login(peer: Peer, request: Request) -> None:
        time.sleep(DEADLINE_S * 0.6)
        honest_login(peer, request)

    def slow_check(peer: Peer, request: Request) -> None:
        time.sleep(DEADLINE_S * 0.6)
        peer.send(VALID)

    with HostileServer(slow_check, login=slow_login) as server:
        verdict = ask(make_client(server.url), attack="trickle")
    assert verdict.reason == "timeout"


def test_trickled_tls_records_end_in_a_timeout_at_the_deadline(make_client, tmp_path: Path):
    ca, context = tls_files(tmp_path, "diia.test")
    with trickling_server(VALID, tls=context) as server:
        client = make_client(f"https://diia.test:{server.port}", ca_file=str(ca),
                             resolver=lambda host, port: ["127.0.0.1"])
        verdict = ask(client, attack="trickle")
        assert server.requests, "the TLS connection and the login went through"
    assert verdict.reason == "timeout"


def test_a_tls_handshake_that_never_completes_ends_at_the_deadline(make_client):
    with SilentListener() as silent:
        client = make_client(f"https://diia.test:{silent.port}",
                             resolver=lambda host, port: ["127.0.0.1"])
        verdict = ask(client, attack="stall")
    assert verdict.reason == "timeout"


def test_a_server_that_never_answers_ends_at_the_deadline(make_client):
    with HostileServer(lambda peer, request: None) as server:
        verdict = ask(make_client(server.url), attack="stall")
    assert verdict.reason == "timeout"


def test_a_resolver_that_never_answers_ends_at_the_deadline(make_client):
    never = threading.Event()
    asked: list[str] = []

    def hung_resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        never.wait(30)
        return []

    client = make_client("https://diia.test", resolver=hung_resolver)
    try:
        first = ask(client, attack="slow DNS")
        second = ask(client, attack="slow DNS")
    finally:
        never.set()
    assert (first.reason, second.reason) == ("timeout", "timeout")
    assert asked == ["diia.test"]  # the second check waited on the same lookup, no new thread


def test_a_slow_lookup_counts_against_the_deadline(make_client):
    def slow_resolver(host: str, port: int) -> list[str]:
        time.sleep(DEADLINE_S * 0.7)
        return ["127.0.0.1"]

    def slow_check(peer: Peer, request: Request) -> None:
        time.sleep(DEADLINE_S * 0.5)
        peer.send(VALID)

    with HostileServer(slow_check) as server:
        client = make_client(f"http://localhost:{server.port}", resolver=slow_resolver)
        verdict = ask(client, attack="slow DNS")
    assert verdict.reason == "timeout"


def test_a_failing_lookup_is_a_network_error_at_once(make_client):
    def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    verdict = ask(make_client("https://diia.test", resolver=failing))
    assert verdict.reason == "network" and verdict.seconds < DEADLINE_S / 2


@pytest.mark.parametrize("deadline_s", [0.2, 1.0])
def test_the_wall_follows_the_configured_deadline(make_client, deadline_s: float):
    with trickling_server(VALID * 10) as server:
        client = make_client(server.url, timeout_s=deadline_s)
        started = time.monotonic()
        with pytest.raises(DiiaTimeout):
            client.validate(code())
        assert deadline_s - 0.05 <= time.monotonic() - started <= deadline_s + DEADLINE_MARGIN_S


def test_a_trickled_tls_handshake_ends_at_the_deadline(make_client):
    # A server that answers the ClientHello one byte at a time: each byte arrives within any
    # per-read timeout, the handshake never within the deadline.
    handshake = b"\x16\x03\x03\x40\x00" + b"\x02" * 0x4000
    with SilentListener(trickle=handshake) as slow:
        client = make_client(f"https://diia.test:{slow.port}",
                             resolver=lambda host, port: ["127.0.0.1"])
        verdict = ask(client, attack="stall")
    assert verdict.reason == "timeout"


def test_no_lookup_happens_outside_the_bound(make_client, monkeypatch):
    # Even a resolver that hangs for every name, addresses included, cannot stretch a verdict:
    # the only lookup is the bounded one, and connecting to its address asks nobody again.
    import socket as socket_module

    never = threading.Event()

    def hung_getaddrinfo(*args: object, **kwargs: object) -> list[object]:
        never.wait(30)
        return []

    with HostileServer(lambda peer, request: peer.send(VALID)) as server:
        client = make_client(f"http://localhost:{server.port}")
        monkeypatch.setattr(socket_module, "getaddrinfo", hung_getaddrinfo)
        try:
            verdict = ask(client, attack="slow DNS")
        finally:
            never.set()
    assert verdict.reason == "timeout"
    with HostileServer(lambda peer, request: peer.send(VALID)) as server:
        ip_client = make_client(server.url)  # an address: nothing to look up, so it just works
        monkeypatch.setattr(socket_module, "getaddrinfo", hung_getaddrinfo)
        assert ask(ip_client).reason == "pass"
