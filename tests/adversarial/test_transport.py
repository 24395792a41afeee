"""The wall transport's own seams: the proxy it takes from the environment, the parser it
inspects for leftover bytes (private in httpcore: pinned here), the bounded lookup."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from kiosk.diia.transport import WallTransport, _h11_of, environment_proxy, resolve_within
from tests.adversarial.hostile import HostileServer, response


@pytest.fixture
def clean_proxy_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_the_proxy_comes_from_the_environment_and_no_proxy_is_honoured(clean_proxy_env):
    assert environment_proxy("https://api2.diia.gov.ua") is None
    clean_proxy_env.setenv("HTTPS_PROXY", "proxy.shop:3128")
    assert environment_proxy("https://api2.diia.gov.ua") == "http://proxy.shop:3128"
    clean_proxy_env.setenv("NO_PROXY", ".diia.gov.ua")
    assert environment_proxy("https://api2.diia.gov.ua") is None


def test_the_parser_behind_every_pooled_connection_is_found():
    # If an httpcore upgrade moves it, this fails (and the transport, unable to see leftover
    # bytes, closes every connection after its answer rather than trust it).
    with HostileServer(lambda peer, request: peer.send(response(200, {"ok": 1}))) as server:
        transport = WallTransport(timeout_s=1.0)
        with httpx.Client(transport=transport) as client:
            assert client.get(server.url + "/x").status_code == 200
            assert transport.connections == 1
            connection = transport._pool.connections[0]
            assert _h11_of(connection) is not None
            assert client.get(server.url + "/y").status_code == 200
    assert server.connections == 1


def test_a_bounded_lookup_gives_up_at_its_deadline():
    never = threading.Event()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        resolve_within("diia.test", 443, 0.2, lambda host, port: never.wait(10) or [])
    assert time.monotonic() - started < 0.4
    never.set()
    assert resolve_within("127.0.0.1", 443, 0.2) == ["127.0.0.1"]
    with pytest.raises(OSError):
        resolve_within("diia.test", 443, 0.2, lambda host, port: [])
