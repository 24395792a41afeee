"""Class 1: a response is only the answer to the request it follows; keep-alive otherwise."""

from __future__ import annotations

import socket
import threading

from tests.adversarial.conftest import CODES, ask, code
from tests.adversarial.hostile import HostileServer, Peer, Request, response

NOT_VALID = response(200, {"success": False})
VALID = response(200, {"success": True})


def test_an_unrequested_extra_answer_in_the_same_write_is_never_taken(make_client):
    # The broken proxy of the issue: the true answer and a forged "valid" in one write.
    with HostileServer(lambda peer, request: peer.send(NOT_VALID + VALID)) as server:
        client = make_client(server.url)
        verdicts = [ask(client, code(text), attack="desync") for text in CODES]
    assert [v.reason for v in verdicts] == ["fail", "fail", "fail"]
    assert len(server.checks) == 3  # each code was really asked about
    # Each desynchronised connection was dropped: every check went out on a fresh one.
    assert len({r.connection for r in server.checks}) == 3


def test_an_extra_answer_that_comes_later_is_never_taken(make_client):
    sent = threading.Event()

    def late_extra(peer: Peer, request: Request) -> None:
        def push() -> None:
            peer.send(VALID)
            sent.set()

        peer.send(NOT_VALID)
        threading.Timer(0.05, push).start()

    with HostileServer(late_extra) as server:
        client = make_client(server.url)
        first = ask(client, code(CODES[0]), attack="desync")
        assert sent.wait(1)
        second = ask(client, code(CODES[1]), attack="desync")
    assert (first.reason, second.reason) == ("fail", "fail")
    assert server.checks[0].connection != server.checks[1].connection


def test_a_body_longer_than_its_content_length_drops_the_connection(make_client):
    # Content-Length covers `{"success": false}` only; the rest would be read as the next
    # answer by a client that trusted the connection.
    lying = NOT_VALID + b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n" + b'{"success": true}'
    with HostileServer(lambda peer, request: peer.send(lying)) as server:
        client = make_client(server.url)
        verdicts = [ask(client, code(text), attack="desync") for text in CODES[:2]]
    assert [v.reason for v in verdicts] == ["fail", "fail"]


def test_an_honest_server_keeps_one_connection_for_every_check(make_client):
    with HostileServer(lambda peer, request: peer.send(VALID)) as server:
        client = make_client(server.url)
        verdicts = [ask(client, code(text)) for text in CODES * 3]
    assert {v.reason for v in verdicts} == {"pass"}
    assert server.connections == 1 and client.connections_opened == 1
    assert len(server.requests) == 1 + 9  # the login and nine checks on the one connection


def test_over_tls_an_extra_answer_is_never_taken_either(make_client, tmp_path):
    # Diia is reached over TLS: surplus bytes may then wait inside the TLS layer as well.
    from tests.adversarial.hostile import tls_files

    ca, context = tls_files(tmp_path, "diia.test")

    def two_writes(peer: Peer, request: Request) -> None:
        # Two TLS records in one TCP segment (corked): they arrive together. An extra answer
        # that came only after the next request left could not be told from that request's
        # answer: see SECURITY.md.
        peer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        peer.send(NOT_VALID)
        peer.send(VALID)
        peer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)

    for behaviour in (lambda peer, request: peer.send(NOT_VALID + VALID), two_writes):
        with HostileServer(behaviour, tls=context) as server:
            client = make_client(f"https://diia.test:{server.port}", ca_file=str(ca),
                                 resolver=lambda host, port: ["127.0.0.1"])
            verdicts = [ask(client, code(text), attack="desync") for text in CODES]
        assert [v.reason for v in verdicts] == ["fail", "fail", "fail"]
