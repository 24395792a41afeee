"""Resets at every phase and lies about the length: always a verdict in time, never a pass."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.adversarial.conftest import DEADLINE_S, ask
from tests.adversarial.hostile import (
    HostileServer,
    Peer,
    Request,
    SilentListener,
    honest_login,
    response,
)

VALID = response(200, {"success": True})
NOT_VALID = response(200, {"success": False})
HEAD, _, BODY = VALID.partition(b"\r\n\r\n")


def test_a_refused_connection_is_a_network_error_at_once(make_client):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    verdict = ask(make_client(f"http://127.0.0.1:{port}"), attack="reset")
    assert verdict.reason == "network" and verdict.seconds < DEADLINE_S / 2


def test_a_reset_on_connect_is_a_network_error(make_client):
    with SilentListener(reset=True) as resetting:
        verdict = ask(make_client(f"http://127.0.0.1:{resetting.port}"), attack="reset")
    assert verdict.reason == "network"


def test_a_reset_during_the_tls_handshake_is_a_network_error(make_client):
    with SilentListener(reset=True) as resetting:
        client = make_client(f"https://diia.test:{resetting.port}",
                             resolver=lambda host, port: ["127.0.0.1"])
        verdict = ask(client, attack="reset")
    assert verdict.reason == "network"


def then_reset(data: bytes):
    def behaviour(peer: Peer, request: Request) -> None:
        peer.send(data)
        time.sleep(0.02)
        peer.reset()
    return behaviour


@pytest.mark.parametrize(
    "sent_before_reset",
    [b"", HEAD[:9], HEAD, HEAD + b"\r\n\r\n", HEAD + b"\r\n\r\n" + BODY[:5]],
    ids=["after-request", "mid-status-line", "mid-headers", "after-headers", "mid-body"],
)
def test_a_reset_at_every_phase_of_the_answer_is_no_pass(make_client, sent_before_reset):
    with HostileServer(then_reset(sent_before_reset)) as server:
        client = make_client(server.url)
        verdicts = [ask(client, attack="reset") for _ in range(2)]
    assert {v.reason for v in verdicts} == {"network"}
    assert all(v.error is not None and v.error.code_may_be_used for v in verdicts)


def test_a_reset_during_the_login_is_a_network_error(make_client):
    with HostileServer(lambda peer, request: peer.send(VALID),
                       login=then_reset(b"")) as server:
        verdict = ask(make_client(server.url), attack="reset")
    assert verdict.reason == "network" and not server.checks


def test_a_content_length_longer_than_the_body_is_a_timeout(make_client):
    lying = response(200, {"success": True}, content_length=400)
    with HostileServer(lambda peer, request: peer.send(lying)) as server:
        verdict = ask(make_client(server.url), attack="lies")
    assert verdict.reason == "timeout"


def test_a_content_length_longer_than_the_body_then_close_is_no_pass(make_client):
    lying = response(200, {"success": True}, content_length=400)

    def send_and_close(peer: Peer, request: Request) -> None:
        peer.send(lying)
        peer.sock.shutdown(socket.SHUT_WR)

    with HostileServer(send_and_close) as server:
        verdict = ask(make_client(server.url), attack="lies")
    assert verdict.reason in ("network", "bad_response")


@pytest.mark.parametrize("lengths", [("17", "18"), ("-1",), ("17x",), ("0x11",)])
def test_a_malformed_or_conflicting_content_length_is_no_pass(make_client, lengths):
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(
        f"Content-Length: {n}\r\n".encode() for n in lengths) + b"\r\n"
    with HostileServer(lambda peer, request: peer.send(head + b'{"success": true}')) as server:
        verdict = ask(make_client(server.url), attack="lies")
    assert verdict.reason in ("network", "bad_response")


def test_a_response_pushed_before_the_request_is_never_its_answer(make_client):
    # While the kept-alive connection idles after the login, the server pushes a "valid".
    pushed = threading.Event()

    def login_then_push(peer: Peer, request: Request) -> None:
        honest_login(peer, request)
        time.sleep(0.02)
        peer.send(VALID)
        pushed.set()

    with HostileServer(lambda peer, request: peer.send(NOT_VALID),
                       login=login_then_push) as server:
        client = make_client(server.url)
        client.login()
        assert pushed.wait(1)
        verdicts = [ask(client, attack="lies") for _ in range(2)]
    assert [v.reason for v in verdicts] == ["fail", "fail"]
    assert server.connections == 2  # the connection holding the pushed bytes was dropped
