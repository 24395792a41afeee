"""Class 11: a web page in the developer's browser cannot drive the sandbox's admin API
(DNS rebinding, cross-site "simple" posts), and no setting leaves the sandbox mute."""

from __future__ import annotations

import httpx
import pytest

from kiosk.diia.client import DiiaClient
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Code, CodeKind

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def admin(sandbox: DiiaSandbox):
    with httpx.Client(base_url=sandbox.base_url, timeout=5) as http:
        yield http


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8790", "127.0.0.1.nip.io",
                                  "localhost.evil.example", ""])
def test_a_rebound_host_name_is_refused(sandbox, admin, host):
    before = len(sandbox.credentials.auth_token)
    answer = admin.get("/sandbox", headers={"Host": host})
    assert answer.status_code == 403 and sandbox.credentials.auth_token not in answer.text
    revoke = admin.post("/sandbox/tokens/revoke", json={}, headers={"Host": host})
    assert revoke.status_code == 403 and before == len(sandbox.credentials.auth_token)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8790", "[::1]:8790", "10.1.2.3"])
def test_localhost_and_ip_literals_are_answered(admin, host):
    assert admin.get("/sandbox", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_a_simple_cross_site_post_is_refused(sandbox, admin, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    answer = admin.post("/sandbox/faults", content=b'{"fault": "unavailable"}',
                        headers=headers)
    assert answer.status_code == 415
    code = admin.post("/sandbox/codes", json={}).json()["code"]
    with DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id) as client:
        assert client.validate(Code(code, CodeKind.BARCODE, "typed")) is True  # no fault set


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"}, {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
])
def test_a_browser_cross_site_request_is_refused(admin, headers):
    answer = admin.post("/sandbox/tokens/revoke", json={}, headers=headers)
    assert answer.status_code == 403


def test_a_page_served_from_localhost_may_drive_it(admin):
    headers = {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"}
    assert admin.post("/sandbox/tokens/revoke", json={}, headers=headers).status_code == 200


@pytest.mark.parametrize("offset", [1e300, -1e12, 7 * 86400 + 1, "NaN", "Infinity"])
def test_an_absurd_clock_offset_is_refused_and_the_sandbox_keeps_answering(
        sandbox, admin, offset):
    body = f'{{"offset_s": {offset}}}'.encode()
    answer = admin.post("/sandbox/clock", content=body, headers=JSON)
    assert answer.status_code == 400 and "offset_s" in answer.json()["error"]
    assert sandbox.clock_offset_s == 0.0
    assert admin.post("/sandbox/codes", json={}).status_code == 201


def test_the_widest_offset_still_leaves_the_sandbox_answering(sandbox, admin):
    assert admin.post("/sandbox/clock", json={"offset_s": -7 * 86400}).status_code == 200
    assert admin.get("/sandbox").status_code == 200
    assert admin.post("/sandbox/codes", json={}).status_code == 201


@pytest.mark.parametrize("body", [{"latency_s": 1e9}, {"latency_s": -1},
                                  {"fault": "slow:inf"}, {"fault": "slow:nan"},
                                  {"fault": "slow:100000"}])
def test_a_wait_that_never_ends_is_refused(admin, body):
    assert admin.post("/sandbox/faults", json=body).status_code == 400


SHARE_POLICY = b'{"answer": "confirm", "after_s": 0, "deliver_to": "http://127.0.0.1:9/x"}'


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain", "Origin": "https://evil.example"},
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
    {"Content-Type": "application/json", "Host": "rebind.evil.example"},
])
def test_the_share_desk_is_guarded_like_every_admin_route(sandbox, admin, headers):
    answer = admin.post("/sandbox/share", content=SHARE_POLICY, headers=headers)
    assert answer.status_code in (403, 415)
    assert sandbox.share.policy.deliver_to is None
    assert admin.get("/sandbox/shares", headers={"Host": "rebind.evil.example"}
                     ).status_code == 403


@pytest.mark.parametrize("path", ["/sandbox/share", "/sandbox/faults", "/sandbox/codes"])
def test_json_nested_100000_deep_is_a_400_not_a_dropped_connection(admin, path):
    answer = admin.post(path, content=b"[" * 100_000, headers=JSON)
    assert answer.status_code == 400
    assert admin.get("/sandbox").status_code == 200


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "٣"])
def test_a_content_length_that_is_no_number_is_a_400(sandbox, length):
    import socket

    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /sandbox/codes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer


def test_pending_deliveries_hold_no_thread_each(sandbox, admin):
    import threading

    policy = b'{"answer": "confirm", "after_s": 3600, "deliver_to": "http://127.0.0.1:9/x"}'
    assert admin.post("/sandbox/share", content=policy, headers=JSON).status_code == 200
    before = threading.active_count()
    with DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id) as client:
        for n in range(60):
            code = Code(sandbox.mint(), CodeKind.BARCODE, "typed")
            assert client.request_document(code, f"00000000-0000-4000-8000-{n:012d}")
    # one courier for them all, and the sandbox's thread for the client's connection
    assert threading.active_count() <= before + 2
