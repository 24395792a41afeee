"""The till's API, fuzzed on a real socket: request lines, headers and bodies, valid and
hostile mixed. Every request gets a well-formed answer or a closed connection, never a 500;
only a JSON `POST /v1/checks` from the kiosk's own side arms a check; the server keeps
answering with no thread left behind."""

from __future__ import annotations

import socket
import threading

from hypothesis import given
from hypothesis import strategies as st

from kiosk.api.server import ApiServer
from kiosk.api.service import TillService
from kiosk.loop import ArmCheck, CheckStatus
from tests.fuzz.budget import fuzz_settings, ran

SERVICE = TillService(default_min_age=18, staff_step=True, arm_wait_s=0.0)
SERVER = ApiServer(("127.0.0.1", 0), SERVICE).start()
PORT = int(SERVER.server_address[1])

METHODS = st.sampled_from(["GET", "POST", "DELETE", "PUT", "HEAD", "OPTIONS", "PRI", "get",
                           "POST ", "G\x00T", "ΠΟΣΤ"])
PATHS = st.sampled_from(["/v1/checks", "/v1/checks/00ff", "/v1/events", "/v1/health",
                         "/v1/staff/arm", "/v1/staff/ack", "/v1/openapi.json", "*",
                         "http://127.0.0.1/v1/checks", "/v1/checks?x=1", "/../etc", "//",
                         "/v1/checks/" + "f" * 40])
VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1", ""])
HEADER_NAMES = st.sampled_from([
    "Host", "Content-Length", "Transfer-Encoding", "Content-Type", "Origin", "Sec-Fetch-Site",
    "Authorization", "Last-Event-ID", "Connection", "Expect", "X-Any", "Content-Length ",
    "Host\x00", ""])
HEADER_VALUES = st.one_of(
    st.sampled_from(["127.0.0.1", "localhost", "rebind.evil.example", "application/json",
                     "text/plain", "chunked", "gzip, chunked", "chunked ", "identity", "0",
                     "5", "5, 6", "-1", "0x10", "99999999999999999999", "https://evil.example",
                     "null", "cross-site", "same-origin", "close", "keep-alive",
                     "100-continue", "Bearer x", "1"]),
    st.text(max_size=40).map(lambda s: s.replace("\r", "").replace("\n", "")),
)
BODIES = st.one_of(
    st.sampled_from([b"", b"{}", b'{"mode": "age", "min_age": 1}', b'{"mode": "validate"}',
                     b"[" * 5000, b"0\r\n\r\n", b"5\r\nhello\r\n0\r\n\r\n",
                     b"POST /v1/checks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b'application/json\r\nContent-Length: 19\r\n\r\n{"mode": "validate"}']),
    st.binary(max_size=300),
)


def send(raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", PORT), timeout=5) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)  # no more: whatever is incomplete stays so
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
                if len(got) > 1 << 20:
                    break
        except (ConnectionResetError, TimeoutError):
            pass
    return got


@fuzz_settings(150)
@given(method=METHODS, path=PATHS, version=VERSIONS,
       headers=st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6), body=BODIES)
def test_any_request_is_answered_or_closed_and_arms_only_on_the_tills_terms(
        method: str, path: str, version: str, headers: list[tuple[str, str]],
        body: bytes) -> None:
    ran("till API request line, headers and body")
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    raw = head.encode("utf-8", "surrogatepass") + b"\r\n" + body
    answer = send(raw)
    if answer:
        assert answer.startswith(b"HTTP/1.1 "), answer[:80]
        assert b" 500 " not in answer.split(b"\r\n", 1)[0] and b'"internal"' not in answer
    armed = [c for c in SERVICE.take() if isinstance(c, ArmCheck)]
    if armed:
        named = {k.strip().lower(): v for k, v in headers}
        assert method == "POST" and path.split("?")[0] == "/v1/checks", raw[:120]
        assert named.get("content-type", "").lower().startswith("application/json")
        assert named.get("origin") in (None,) and named.get("sec-fetch-site") != "cross-site"
    for command in armed:  # as the loop would: the next example finds room to arm
        SERVICE.registry.move(command.terms.id, CheckStatus.CANCELLED)


def test_after_the_fuzz_the_server_answers_and_holds_no_thread() -> None:
    health = send(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert health.startswith(b"HTTP/1.1 200")
    names = [t.name for t in threading.enumerate()]
    assert names.count("till-api-stream") == 0
    assert sum(n.startswith("till-api") for n in names) <= 1 + 4  # the front and the workers
