"""`DiiaSandbox`: an emulator of the Diia partner API, served for real on loopback.

It speaks the contract in DIIA-API.md (login with Basic, expiring bearer tokens, validation
and age checks, Diia's error statuses and bodies), mints codes on request in any state and can
be told to fail: latency, 503, dropped connections, malformed bodies, revoked tokens. The demo,
the tests and `kiosk sandbox` use it; nothing here is a mock object.

Latency is honest: HTTP/1.1 keep-alive, Nagle off, and each response's headers and body
leave in one send, so a kept-alive request does not pay the 40 ms delayed-ACK stall.

Faults, per code (`mint(fault=...)`) or for every check call (`fail(...)`):
    "unavailable"   503 ServiceNotAvailableError
    "drop"          the connection is closed without an answer
    "malformed"     200 with a body that is not JSON
    "slow:<s>"      the answer comes <s> seconds late
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import secrets
import socket
import socketserver
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kiosk.codes import ean13_check_digit, is_diia_qr
from kiosk.config import Credentials

_log = logging.getLogger(__name__)

CODE_LIFETIME_S = 180.0  # a Diia code pair lives 3 minutes
STATES = ("valid", "not_valid", "expired", "used")
KINDS = ("barcode", "qr")
FAULTS = ("unavailable", "drop", "malformed", "slow")

_LOGIN = re.compile(r"/api/v1/auth/acquirer/([^/]+)")
_CHECK = re.compile(r"/api/v(\d+)/acquirers/document-identification(/age)?")
_TOKEN_SEGMENT = re.compile(r"(/auth/acquirer/)[^/?#]+")

Payload = dict[str, Any] | bytes | None  # None: drop the connection
Reply = tuple[int, Payload]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the sandbox answered; `status` 0 means the connection was dropped."""

    method: str
    path: str  # the acquirer token replaced by "***"
    status: int


@dataclass(frozen=True, slots=True)
class _Minted:
    state: str
    age: int
    kind: str
    fault: str | None
    expires_at: float


def _parse_fault(fault: str | None) -> tuple[str, float] | None:
    """("slow", 1.5) for "slow:1.5"; ValueError for an unknown fault."""
    if fault is None:
        return None
    name, _, arg = fault.partition(":")
    if name not in FAULTS or bool(arg) != (name == "slow"):
        raise ValueError(f"unknown fault {fault!r}; known: unavailable, drop, malformed, slow:<s>")
    return name, float(arg) if arg else 0.0


def _error(name: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "message": message, **extra}


def _validation(errors: list[tuple[str, str, str]]) -> Reply:
    found = [{"type": t, "message": m, "field": f} for t, m, f in errors]
    return 422, _error("ValidationError", "Parameters validation error!", data={"errors": found})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DiiaSandbox:
    """A Diia partner API on `base_url`, with `credentials` that log in to it.

    Use as a context manager, or `start()` and `stop()`. `requests` records what was asked
    (token-free paths), `logins` counts successful logins, `connections` accepted sockets.
    """

    def __init__(
        self,
        *,
        acquirer_token: str = "sandbox-acquirer-token",
        auth_token: str | None = None,
        branch_id: str = "sandbox-branch",
        token_lifetime_s: float = 7200,
        host: str = "127.0.0.1",
        port: int = 0,
        age_field: str = "age",
        qr_field: str = "qrcode",
    ) -> None:
        self._acquirer_token = acquirer_token
        self._auth_token = auth_token or _b64(f"acquirer_1:{acquirer_token}")
        self._branch_id = branch_id
        self._token_lifetime_s = token_lifetime_s
        self._address = (host, port)
        self._age_field = age_field
        self._qr_field = qr_field
        self._lock = threading.Lock()
        self._codes: dict[str, _Minted] = {}
        self._tokens: dict[str, float] = {}  # bearer token → exp
        self._fault: str | None = None
        self._latency_s = 0.0
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.logins = 0
        self.connections = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> DiiaSandbox:
        if self._server is None:
            self._stopping.clear()
            self._server = _Server(self._address, self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                name="diia-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping on latency or "slow"
        with contextlib.suppress(OSError):  # wakes serve_forever's select now, not at next poll
            server.socket.shutdown(socket.SHUT_RDWR)
        server.shutdown()
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:  # kept-alive connections would otherwise outlive the server
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> DiiaSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def branch_id(self) -> str:
        return self._branch_id

    @property
    def credentials(self) -> Credentials:
        return Credentials(acquirer_token=self._acquirer_token, auth_token=self._auth_token)

    # -- control --------------------------------------------------------------------------

    def mint(
        self,
        state: str = "valid",
        *,
        age: int = 30,
        kind: str = "barcode",
        fault: str | None = None,
    ) -> str:
        """A fresh code in `state` for a holder of `age`: 13 digits, or a verify URL (kind "qr")."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; known: {', '.join(STATES)}")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        _parse_fault(fault)
        now = time.time()
        expires_at = now - 1 if state == "expired" else now + CODE_LIFETIME_S
        with self._lock:
            text = _new_code(kind)
            while text in self._codes:
                text = _new_code(kind)
            self._codes[text] = _Minted(state, age, kind, fault, expires_at)
        return text

    def fail(self, fault: str | None, latency_s: float = 0.0) -> None:
        """Make every check call fail with `fault` (None: answer normally); add `latency_s`."""
        _parse_fault(fault)
        with self._lock:
            self._fault, self._latency_s = fault, latency_s

    def revoke_tokens(self) -> None:
        """Every bearer token issued so far is answered with 401 from now on."""
        with self._lock:
            self._tokens.clear()

    # -- the API --------------------------------------------------------------------------

    def _answer(self, method: str, path: str, authorization: str, raw: bytes) -> Reply:
        with self._lock:
            latency_s, fault = self._latency_s, self._fault
        self._wait(latency_s)
        path = path.partition("?")[0]
        if method == "GET" and (login := _LOGIN.fullmatch(path)):
            return self._login(login.group(1), authorization)
        check = _CHECK.fullmatch(path)
        if method != "POST" or check is None:
            return 404, _error("NotFoundError", "Route not found")
        if check.group(1) != "1":
            return 401, _error("UnauthorizedError", "Unexpected action token")
        if fault and (reply := self._fault_reply(fault)):
            return reply
        if refused := self._refuse_bearer(authorization):
            return refused
        return self._check(raw, age_check=bool(check.group(2)))

    def _login(self, acquirer_token: str, authorization: str) -> Reply:
        if acquirer_token != self._acquirer_token:
            return 401, _error("UnauthorizedError", "Acquirer not found", code=401)
        if authorization != f"Basic {self._auth_token}":
            return 401, _error("UnauthorizedError", "Invalid basic authorization", code=401)
        now = time.time()
        exp = now + self._token_lifetime_s
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        claims = {"sub": "acquirer_1", "iat": round(now, 3), "exp": round(exp, 3)}
        claims["jti"] = uuid.uuid4().hex
        payload = _b64url(json.dumps(claims).encode())
        token = f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"
        with self._lock:
            self._tokens[token] = exp
            self.logins += 1
        return 200, {"token": token}

    def _refuse_bearer(self, authorization: str) -> Reply | None:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return 401, _error("UnauthorizedError", "Empty token", code=401)
        with self._lock:
            exp = self._tokens.get(token)
        if exp is None:
            return 401, _error("UnauthorizedError", "Invalid token", code=401)
        if time.time() >= exp:
            return 401, _error("UnauthorizedError", "Token has expired", code=401)
        return None

    def _check(self, raw: bytes, *, age_check: bool) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _validation([("object", "The body must be a JSON object.", "body")])
        errors = []
        branch = body.get("branchId")
        if branch is None:
            errors.append(("required", "The 'branchId' field is required.", "branchId"))
        elif branch != self._branch_id:
            errors.append(("enumValue", "The 'branchId' field is not a known branch.", "branchId"))
        kind = "qr" if self._qr_field in body else "barcode"
        field = self._qr_field if kind == "qr" else "barcode"
        text = body.get(field)
        if not isinstance(text, str) or not text:
            errors.append(("required", f"The '{field}' field is required.", field))
        min_age = body.get(self._age_field)
        if age_check and (not isinstance(min_age, int) or isinstance(min_age, bool)):
            field = self._age_field
            errors.append(("number", f"The '{field}' field must be a number.", field))
        if errors:
            return _validation(errors)
        with self._lock:
            minted = self._codes.get(text)
        if minted is None or minted.kind != kind:
            return 404, _error("NotFoundError", "No record with presented code!", code=404)
        if minted.fault and (reply := self._fault_reply(minted.fault)):
            return reply
        now = time.time()
        if minted.state == "used":
            return 400, _error("BadRequestError", "This code has been used already!", code=400)
        if minted.state == "expired" or now >= minted.expires_at:
            data = {"now": _iso(now), "expirationDate": _iso(minted.expires_at)}
            return 400, _error("BadRequestError", "Code has been expired!", code=400, data=data)
        if minted.state == "not_valid":
            return 200, {"success": False}
        return 200, {"success": not age_check or minted.age >= min_age}

    def _fault_reply(self, fault: str) -> Reply | None:
        """The answer a fault gives, or None when it only delays the normal answer."""
        parsed = _parse_fault(fault)
        assert parsed is not None
        name, seconds = parsed
        if name == "slow":
            self._wait(seconds)
            return None
        if name == "unavailable":
            return 503, _error("ServiceNotAvailableError", "Service is not available", code=503)
        if name == "drop":
            return 0, None
        return 200, b"<html><body>502 Bad Gateway</body></html>"

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- bookkeeping for the handler ------------------------------------------------------

    def _record(self, method: str, path: str, status: int) -> None:
        entry = RecordedRequest(method, _TOKEN_SEGMENT.sub(r"\1***", path), status)
        with self._lock:
            self.requests.append(entry)

    def _opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)
            self.connections += 1

    def _closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _new_code(kind: str) -> str:
    if kind == "qr":
        url = f"https://diia.app/documents/internal-passport/{secrets.token_hex(10)}/verify/"
        url += str(uuid.uuid4())
        assert is_diia_qr(url)
        return url
    first12 = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(11))
    return first12 + str(ean13_check_digit(first12))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Diia's front end
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: headers and body go out in the one flush after each request
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.sandbox._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sandbox._closed(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        authorization = self.headers.get("Authorization", "")
        status, payload = sandbox._answer(self.command, self.path, authorization, raw)
        sandbox._record(self.command, self.path, status)
        if payload is None:
            self.close_connection = True
            return
        if isinstance(payload, bytes):
            body, content_type = payload, "text/html; charset=utf-8"
        else:
            body, content_type = json.dumps(payload).encode(), "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the default writes every request line (with the token) to stderr."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping on "slow" must not hold up stop()

    def __init__(self, address: tuple[str, int], sandbox: DiiaSandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer's own server_bind does a reverse DNS lookup that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("sandbox: a connection ended with an error", exc_info=True)
