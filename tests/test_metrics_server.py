"""The metrics endpoint never blocks: real idle and trickling sockets on loopback, with the
time of each scrape and of `close()` measured."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from kiosk.ops import metrics as metrics_module
from kiosk.ops.metrics import MAX_CLIENTS, Metrics, MetricsServer, _QuietHandler


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    running = MetricsServer(Metrics(), 0)
    yield running
    running.close()


def scrape(port: int) -> tuple[bytes, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    return reply, time.monotonic() - started


def wait_for(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def idle_clients(stack: ExitStack, port: int, count: int) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        sock.sendall(b"GET /met")  # half a request, then silence
        clients.append(sock)
    return clients


def test_idle_connections_do_not_stall_a_scrape(server: MetricsServer) -> None:
    with ExitStack() as stack:
        idle_clients(stack, server.port, 3)
        reply, took = scrape(server.port)
    assert reply.startswith(b"HTTP/1.0 200") and b"kiosk_uptime_seconds" in reply
    assert took < 0.5


def test_close_returns_at_once_with_idle_clients_and_leaves_no_thread() -> None:
    server = MetricsServer(Metrics(), 0)
    before = threading.active_count()
    with ExitStack() as stack:
        clients = idle_clients(stack, server.port, 5)
        wait_for(lambda: threading.active_count() >= before + 5)  # handlers wait on them
        started = time.monotonic()
        server.close()
        took = time.monotonic() - started
        assert took < 0.5, f"close took {took:.2f} s"
        for sock in clients:  # cut: the server side is gone
            sock.settimeout(2)
            assert sock.recv(1) == b""
    deadline = time.monotonic() + 2
    while threading.active_count() > before - 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= before - 1  # the serving thread too


def test_a_trickling_client_is_cut_at_the_deadline(monkeypatch) -> None:
    monkeypatch.setattr(metrics_module, "CLIENT_DEADLINE_S", 0.5)
    server = MetricsServer(Metrics(), 0)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            started = time.monotonic()
            sock.settimeout(0.2)
            cut = None
            for byte in b"GET /metrics HTTP/1.0\r\nX-Slow: " + b"a" * 100:
                try:
                    sock.sendall(bytes([byte]))
                    if sock.recv(1) == b"":
                        cut = time.monotonic() - started
                        break
                except TimeoutError:
                    continue  # no answer yet: trickle on
                except OSError:
                    cut = time.monotonic() - started
                    break
        assert cut is not None and cut < 1.5, cut
    finally:
        server.close()


def test_more_clients_than_slots_are_turned_away_not_queued(monkeypatch) -> None:
    monkeypatch.setattr(_QuietHandler, "timeout", 60)  # the idle ones hold their slots
    monkeypatch.setattr(metrics_module, "CLIENT_DEADLINE_S", 60)
    server = MetricsServer(Metrics(), 0)
    try:
        with ExitStack() as stack:
            idle_clients(stack, server.port, MAX_CLIENTS)
            wait_for(lambda: server._server._slots._value == 0)
            extra = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            extra.settimeout(10)
            started = time.monotonic()
            assert extra.recv(1) == b""  # closed at once: no thread, no wait
            assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 5
        while not (reply := scrape(server.port)[0]) and time.monotonic() < deadline:
            time.sleep(0.05)  # the slots come back as the idle ones' threads see them go
        assert reply.startswith(b"HTTP/1.0 200")
    finally:
        server.close()
