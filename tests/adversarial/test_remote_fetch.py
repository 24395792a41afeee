"""The remote config fetch meets the same hostile server: one deadline, a size cap."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.config import RemoteSection
from kiosk.diia.transport import DEADLINE_MARGIN_S
from kiosk.ops.remote_config import MAX_REMOTE_CONFIG_BYTES, ConfigStore, RemoteConfigPoller
from kiosk.ops.signing import generate_keypair
from tests.adversarial.hostile import HostileServer, Peer, Request, response

TIMEOUT_S = 0.5


def fetch(tmp_path: Path, server: HostileServer) -> tuple[RemoteConfigPoller, float]:
    _, public = generate_keypair()
    settings = RemoteSection(url=server.url + "/c.toml", public_key=public, timeout_s=TIMEOUT_S,
                             allow_http_loopback=True)
    poller = RemoteConfigPoller(settings, {}, ConfigStore(tmp_path, public),
                                running_version=lambda: 0)
    started = time.monotonic()
    try:
        assert poller.fetch_once() is None
    finally:
        poller.close()
    return poller, time.monotonic() - started


def test_a_trickled_config_is_refused_at_the_deadline(tmp_path: Path):
    def trickling(peer: Peer, request: Request) -> None:
        peer.trickle(response(200, b"x" * 100), 0.05, server.stop)

    with HostileServer(trickling) as server:
        poller, seconds = fetch(tmp_path, server)
    assert poller.last_rejection == "unreachable"
    assert TIMEOUT_S - 0.05 <= seconds <= TIMEOUT_S + DEADLINE_MARGIN_S


@pytest.mark.parametrize("declared", [True, False])
def test_a_huge_config_is_refused_at_once(tmp_path: Path, declared: bool):
    body = b"#" * (MAX_REMOTE_CONFIG_BYTES + 1)
    raw = response(200, body) if declared else (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    with HostileServer(lambda peer, request: peer.send(raw)) as server:
        poller, seconds = fetch(tmp_path, server)
    assert poller.last_rejection == "unreachable" and seconds < TIMEOUT_S
