"""`DiiaSandbox`: an emulator of the Diia partner API, served for real on loopback.

It speaks the contract in DIIA-API.md: login with Basic, expiring bearer tokens (a JWT with
`iat` and `exp`), the validation call, the age check and the name check, and Diia's error
statuses and bodies, including a 401 for a wrong API version. It mints codes on request in
any state for a holder of a given age and name, and can be told to misbehave. The demo, the
tests and `kiosk sandbox` use it; nothing here is a mock object. POS developers drive it over
HTTP through the admin API in `kiosk.diia.sandbox.admin`.

Faults (listed in `kiosk.diia.sandbox.faults`: unavailable, status:<n>, refuse, drop, reset,
lose, malformed, slow:<s>) apply per code (`mint(fault=...)`) or to every check or login call
(`fail(...)`, optionally for the next `times` calls only). `fail(None, latency_s=...)`
delays every answer; `revoke_tokens()` makes every session token issued so far a 401;
`clock_offset_s` sets the sandbox's clock (its `Date` header, its tokens' `iat`/`exp`, its
codes' expiry) ahead of or behind the real one; `token_lifetime_s` sets how long a session
token lives.

Codes are one-time: a check that gets an answer uses the code up, and asking again gives
"used" (`one_time_codes=False` turns that off). A per-code fault acts until the code is used
up, so "lose" (the check is done and the code used, but the answer is lost) followed by a
retry gives "used", as it would from Diia.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from kiosk.diia.sandbox import admin
from kiosk.diia.sandbox.faults import error_body, fault_reply, parse_fault
from kiosk.diia.sandbox.http_server import Reply, Request, SandboxServer
from kiosk.diia.sandbox.rules import (
    CODE_LIFETIME_S,
    DEFAULT_HOLDER,
    KINDS,
    STATES,
    Minted,
    asked_name,
    judge,
    new_code,
    unauthorized,
    validation,
)
from kiosk.diia.sandbox.share import ShareDesk
from kiosk.diia.types import Credentials, PersonName

TARGETS = ("checks", "logins")
MAX_LOGGED_REQUESTS = 10_000

_LOGIN = re.compile(r"/api/v1/auth/acquirer/([^/]+)")
_CHECK = re.compile(r"/api/v([0-9]+)/acquirers/document-identification(/age)?")
_TOKEN_SEGMENT = re.compile(r"(/auth/acquirer/)[^/?#]+")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One Diia API request the sandbox answered, for tests; `status` 0: no answer."""

    method: str
    path: str  # the acquirer token replaced by "***"
    status: int
    body: dict[str, Any] | None = None  # the JSON body of a check call
    proxied: bool = False  # it came through an HTTP proxy (absolute-form target)
    user_agent: str = ""
    server_ms: float = 0.0  # the sandbox's own time on it, added latency included


def _lost(reply: Reply, fault: str | None) -> Reply:
    """With the fault "lose" the work is done, but the answer never leaves."""
    return Reply(0, close="drop") if fault == "lose" else reply


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DiiaSandbox:
    """A Diia partner API on `base_url`, with `credentials` that log in to it.

    Use as a context manager, or `start()` and `stop()`. With `tls` (a certificate and its
    key, PEM files) it serves HTTPS. `requests` records the Diia API
    requests answered (token-free paths), `logins` counts successful logins, `connections`
    accepted sockets. The `*_field` arguments must agree with the kiosk's `diia.*_field`.
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
        last_name_field: str = "lastName",
        first_name_field: str = "firstName",
        middle_name_field: str = "middleName",
        clock_offset_s: float = 0.0,
        one_time_codes: bool = True,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self._acquirer_token = acquirer_token
        self._auth_token = auth_token or _b64(f"acquirer_1:{acquirer_token}")
        self._branch_id = branch_id
        self.token_lifetime_s = token_lifetime_s
        self._address = (host, port)
        self._age_field = age_field
        self._qr_field = qr_field
        self._name_fields = (last_name_field, first_name_field, middle_name_field)
        self.clock_offset_s = clock_offset_s
        self.one_time_codes = one_time_codes
        self._tls = tls  # (certificate file, key file): serve HTTPS, as Diia does
        self._lock = threading.Lock()
        self._codes: dict[str, Minted] = {}
        self._tokens: dict[str, float] = {}  # bearer token → exp (sandbox clock)
        self._faults: dict[str, tuple[str, int | None] | None] = {"checks": None, "logins": None}
        self._latency_s = 0.0
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.share = ShareDesk(branch_id, self._take_for_share, qr_field=qr_field)
        self.logins = 0
        self.connections = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> DiiaSandbox:
        if self._server is None:
            self._stopping.clear()
            self._server = SandboxServer(self._address, self)
            if self._tls is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(*self._tls)
                self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name="diia-sandbox", daemon=True
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
        host = host.decode() if isinstance(host, bytes) else host
        return f"{'https' if self._tls else 'http'}://{host}:{port}"

    @property
    def branch_id(self) -> str:
        return self._branch_id

    @property
    def credentials(self) -> Credentials:
        return Credentials(acquirer_token=self._acquirer_token, auth_token=self._auth_token)

    def now(self) -> float:
        """The sandbox's clock: real time plus `clock_offset_s`."""
        return time.time() + self.clock_offset_s

    # -- control --------------------------------------------------------------------------

    def mint(
        self,
        state: str = "valid",
        *,
        age: int = 30,
        kind: str = "barcode",
        fault: str | None = None,
        name: PersonName = DEFAULT_HOLDER,
    ) -> str:
        """A fresh code in `state` for a holder of `age` called `name`: 13 digits, or a
        verify URL (kind "qr")."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; known: {', '.join(STATES)}")
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 150:
            raise ValueError(f"age must be a whole number 0..150, got {age!r}")
        parse_fault(fault)
        now = self.now()
        expires_at = now - 1 if state == "expired" else now + CODE_LIFETIME_S
        with self._lock:
            if len(self._codes) > 50_000:  # a sandbox left running for days stays small
                self._codes = {k: m for k, m in self._codes.items() if m.expires_at > now - 3600}
            text = new_code(kind)
            while text in self._codes:
                text = new_code(kind)
            self._codes[text] = Minted(state, age, kind, fault, expires_at, name)
        return text

    def fail(
        self,
        fault: str | None,
        latency_s: float = 0.0,
        *,
        on: str = "checks",
        times: int | None = None,
    ) -> None:
        """Make check calls (`on="checks"`) or logins (`on="logins"`) fail with `fault`
        (None: answer normally), every one or only the next `times`; `latency_s` delays
        every answer."""
        parse_fault(fault)
        if on not in TARGETS:
            raise ValueError(f"unknown target {on!r}; known: {', '.join(TARGETS)}")
        if latency_s < 0:
            raise ValueError("latency_s must not be negative")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                                  or times < 1):
            raise ValueError("times must be a whole number from 1, or None for every call")
        with self._lock:
            self._faults[on] = None if fault is None else (fault, times)
            self._latency_s = latency_s

    def _take_fault(self, on: str) -> str | None:
        """The fault for this call, counting it down when it has a number of `times`."""
        with self._lock:
            entry = self._faults[on]
            if entry is None:
                return None
            fault, times = entry
            if times is not None:
                self._faults[on] = (fault, times - 1) if times > 1 else None
            return fault

    def revoke_tokens(self) -> int:
        """Every session token issued so far is answered with 401 from now on; how many."""
        with self._lock:
            revoked = len(self._tokens)
            self._tokens.clear()
        return revoked

    # -- the Diia API ---------------------------------------------------------------------

    def respond(self, request: Request) -> Reply:
        if request.path == "/sandbox" or request.path.startswith("/sandbox/"):
            # The share desk's admin routes are guarded like every other admin route.
            return admin.refusal(request) or self.share.admin(request) or admin.respond(
                self, request)
        with self._lock:
            latency_s = self._latency_s
        self._wait(latency_s)
        authorization = request.headers.get("authorization", "")
        if request.method == "GET" and (login := _LOGIN.fullmatch(request.path)):
            fault = self._take_fault("logins")
            if fault and (reply := self._fault_reply(fault, login=True)):
                return reply
            return _lost(self._login(login.group(1), authorization), fault)
        if self.share.handles(request):
            fault = self._take_fault("checks")
            if fault and (reply := self._fault_reply(fault)):
                return reply
            return _lost(self._refuse_bearer(authorization) or self.share.respond(request),
                         fault)
        check = _CHECK.fullmatch(request.path)
        if request.method != "POST" or check is None:
            return Reply(404, error_body("NotFoundError", "Route not found"))
        if check.group(1) != "1":
            return Reply(401, error_body("UnauthorizedError", "Unexpected action token"))
        fault = self._take_fault("checks")
        if fault and (reply := self._fault_reply(fault)):
            return reply
        reply = self._refuse_bearer(authorization) or self._check(
            request.body, age_check=bool(check.group(2))
        )
        return _lost(reply, fault)

    def _login(self, acquirer_token: str, authorization: str) -> Reply:
        if acquirer_token != self._acquirer_token:
            return unauthorized("Acquirer not found")
        if authorization != f"Basic {self._auth_token}":
            return unauthorized("Invalid basic authorization")
        now = self.now()
        exp = now + self.token_lifetime_s
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        claims = {"sub": "acquirer_1", "iat": round(now, 3), "exp": round(exp, 3)}
        claims["jti"] = uuid.uuid4().hex
        payload = _b64url(json.dumps(claims).encode())
        token = f"{header}.{payload}.{_b64url(secrets.token_bytes(32))}"
        with self._lock:
            self._tokens[token] = exp
            self.logins += 1
        return Reply(200, {"token": token})

    def _refuse_bearer(self, authorization: str) -> Reply | None:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return unauthorized("Empty token")
        with self._lock:
            exp = self._tokens.get(token)
        if exp is None:
            return unauthorized("Invalid token")
        if self.now() >= exp:
            return unauthorized("Token has expired")
        return None

    def _check(self, raw: bytes, *, age_check: bool) -> Reply:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            return validation([("object", "The body must be a JSON object.", "body")])
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
        name = None if age_check else asked_name(body, self._name_fields, errors)
        if errors or not isinstance(text, str):
            return validation(errors)
        with self._lock:
            minted = self._codes.get(text)
        if minted is None or minted.kind != kind:
            return Reply(404, error_body("NotFoundError", "No record with presented code!",
                                         code=404))
        fault = None if minted.consumed else minted.fault  # a used-up code just says so
        if fault and (reply := self._fault_reply(fault)):
            return reply
        with self._lock:  # judged and used up in one step: a code answers only once
            minted = self._codes[text]
            reply = judge(minted, self.now(), min_age if age_check else None, name)
            if reply.status == 200 and self.one_time_codes:
                self._codes[text] = replace(minted, consumed=True)
        return _lost(reply, fault)

    def _take_for_share(self, text: str, kind: str) -> Reply | None:
        """A document-request uses a code up as a check does; the refusal a check would get,
        or None when the code is good for sharing."""
        with self._lock:
            minted = self._codes.get(text)
            if minted is None or minted.kind != kind:
                return Reply(404, error_body("NotFoundError", "No record with presented code!",
                                             code=404))
            reply = judge(minted, self.now(), None, None)
            if reply.status == 200 and reply.body == {"success": False}:
                return reply
            if reply.status == 200 and self.one_time_codes:
                self._codes[text] = replace(minted, consumed=True)
        return None if reply.status == 200 else reply

    def _fault_reply(self, fault: str, *, login: bool = False) -> Reply | None:
        return fault_reply(fault, login=login, wait=self._wait)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    # -- bookkeeping for the server -------------------------------------------------------

    def record(self, request: Request, reply: Reply, server_ms: float) -> None:
        if request.path.startswith("/sandbox"):
            return  # the admin API is not Diia's: tests count Diia requests
        body = None
        if request.method == "POST":
            with contextlib.suppress(ValueError, RecursionError):
                parsed = json.loads(request.body)
                body = parsed if isinstance(parsed, dict) else None
        entry = RecordedRequest(
            method=request.method,
            path=_TOKEN_SEGMENT.sub(r"\1***", request.path),
            status=reply.status,
            body=body,
            proxied=request.proxied,
            user_agent=request.headers.get("user-agent", ""),
            server_ms=server_ms,
        )
        with self._lock:
            self.requests.append(entry)
            if len(self.requests) > MAX_LOGGED_REQUESTS:
                del self.requests[: MAX_LOGGED_REQUESTS // 2]

    def opened(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)
            self.connections += 1

    def closed(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
