"""The remote config's fetcher (ngclient's network seam) meets the same hostile server:
one deadline for a whole refresh, and no file read past the length ngclient allows."""

from __future__ import annotations

import time

import httpx
import pytest
from tuf.api import exceptions as tuf_errors

from kiosk.config import RemoteSection
from kiosk.diia.transport import DEADLINE_MARGIN_S
from kiosk.ops.tuf_client import KioskFetcher
from tests.adversarial.hostile import HostileServer, Peer, Request, response

TIMEOUT_S = 0.5


def fetcher(allow_http_loopback: bool = True) -> KioskFetcher:
    remote = RemoteSection(url="http://127.0.0.1:1", timeout_s=TIMEOUT_S,
                           allow_http_loopback=allow_http_loopback)
    fetch = KioskFetcher(remote, httpx.create_ssl_context())
    fetch.start()
    return fetch


def test_a_trickled_file_is_refused_at_the_deadline():
    def trickling(peer: Peer, request: Request) -> None:
        peer.trickle(response(200, b"x" * 100), 0.05, server.stop)

    with HostileServer(trickling) as server:
        started = time.monotonic()
        with pytest.raises(tuf_errors.SlowRetrievalError):
            fetcher().download_bytes(server.url + "/metadata/timestamp.json", 1000)
        seconds = time.monotonic() - started
    assert TIMEOUT_S - 0.05 <= seconds <= TIMEOUT_S + DEADLINE_MARGIN_S


def test_the_deadline_is_for_the_whole_refresh_not_each_file():
    with HostileServer(lambda peer, request: peer.send(response(200, b"{}"))) as server:
        fetch = fetcher()
        fetch.download_bytes(server.url + "/metadata/timestamp.json", 1000)  # in time
        time.sleep(TIMEOUT_S)
        with pytest.raises(tuf_errors.SlowRetrievalError):  # same refresh: time is up
            fetch.download_bytes(server.url + "/metadata/1.snapshot.json", 1000)


@pytest.mark.parametrize("declared", [True, False])
def test_a_file_longer_than_allowed_is_refused_at_once(declared: bool):
    body = b"#" * 10_001
    raw = response(200, body) if declared else (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    with HostileServer(lambda peer, request: peer.send(raw)) as server:
        started = time.monotonic()
        with pytest.raises(tuf_errors.DownloadLengthMismatchError):
            fetcher().download_bytes(server.url + "/targets/fleet.toml", 10_000)
    assert time.monotonic() - started < TIMEOUT_S


def test_a_redirect_is_not_followed_and_404_ends_the_root_search():
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/x\r\nContent-Length: 0\r\n\r\n"
    with (HostileServer(lambda peer, request: peer.send(moved)) as server,
          pytest.raises(tuf_errors.DownloadHTTPError) as caught):
        fetcher().download_bytes(server.url + "/metadata/2.root.json", 1000)
    assert caught.value.status_code == 302
    missing = response(404, b"")
    with (HostileServer(lambda peer, request: peer.send(missing)) as server,
          pytest.raises(tuf_errors.DownloadHTTPError) as caught):
        fetcher().download_bytes(server.url + "/metadata/2.root.json", 1000)
    assert caught.value.status_code == 404


def test_plain_http_elsewhere_or_without_the_switch_is_never_fetched():
    with pytest.raises(tuf_errors.DownloadError, match="only for a loopback"):
        fetcher().download_bytes("http://192.0.2.1/metadata/timestamp.json", 1000)
    with pytest.raises(tuf_errors.DownloadError, match="not allowed here"):
        fetcher(allow_http_loopback=False).download_bytes(
            "http://127.0.0.1:1/metadata/timestamp.json", 1000)
