"""The till's local HTTP API, served on threads of the kiosk's own process.

HTTP/1.1 is h11's, with the limits of `kiosk.api.wire`: a capped number of connections,
one deadline for a whole request, strict framing, and no thread spent on a request until it
has arrived whole and passed the checks below (bench/README.md says why this over the
standard library's server, uvicorn or hypercorn). The API is small, JSON only, for one till
on loopback or the shop's LAN.

Before any thread is spent on it, every request is checked on the front thread:
- a web page must not drive the kiosk (`kiosk.diia.web_guard`): without a token, `Host` must
  be `localhost` or an IP address; a cross-site `Origin` or `Sec-Fetch-Site` is refused (403);
  a body must come as `Content-Type: application/json` (415);
- with a token configured, every call but the OpenAPI document needs
  `Authorization: Bearer <token>` (401).

Every answer is JSON (the event stream aside); every refusal says what was wrong and names
the field.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.api.checks import OPEN, TooManyOpen
from kiosk.api.openapi import openapi_document
from kiosk.api.requests import BadField, json_object, parse_check, refuse_unknown
from kiosk.api.service import StaffRefused, TillService
from kiosk.api.wire import Limits, Reply, Request, Stream, WireServer
from kiosk.diia.web_guard import browser_refusal
from kiosk.model import StaffCommand

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and the till's client awake
MAX_SUBSCRIBERS = 8  # each holds a thread for as long as it listens
STREAM_POLL_S = 0.5  # how soon a stream notices its till hung up (and frees its slot)
LIMITS = Limits()  # connections, the request deadline, body size: see kiosk.api.wire
CANCEL_WAIT_S = 1.0  # how long DELETE waits for the loop to take the cancellation
_CHECK_PATH = re.compile(r"/v1/checks/([0-9a-f]{1,32})")
_STAFF = {"/v1/staff/ack": StaffCommand.ACKNOWLEDGE, "/v1/staff/arm": StaffCommand.ARM}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.error, self.message, self.field = status, error, message, field

    def body(self) -> dict[str, Any]:
        body = {"error": self.error, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body




def _json_reply(status: int, body: dict[str, Any], *headers: tuple[str, str]) -> Reply:
    data = json.dumps(body, ensure_ascii=False).encode()
    return Reply(status, data, (("Content-Type", "application/json; charset=utf-8"), *headers))


def _error(exc: ApiError | BadField) -> Reply:
    if isinstance(exc, BadField):
        return _json_reply(400, {"error": "bad_request", "field": exc.field,
                                 "message": exc.message})
    extra = (("WWW-Authenticate", 'Bearer realm="kiosk"'),) if exc.status == 401 else ()
    return _json_reply(exc.status, exc.body(), *extra)


class ApiServer:
    """`ApiServer((host, port), service, token).start()`; `stop()` ends every stream."""

    def __init__(
        self,
        address: tuple[str, int],
        service: TillService,
        token: str | None = None,
        keepalive_s: float = KEEPALIVE_S,
        limits: Limits = LIMITS,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.service = service
        self.token = token
        self.keepalive_s = keepalive_s
        self.stopping = False
        self._subscribers = 0
        self._lock = threading.Lock()
        sock = socket.create_server(address, family=family, backlog=128)  # OSError: in use
        self.server_address = sock.getsockname()
        self.wire = WireServer(sock, self._screen, self._handle, limits)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> ApiServer:
        self.wire.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.service.events.close()
        self.wire.stop()

    # -- on the front thread: before any thread is spent -----------------------------------

    def _screen(self, request: Request) -> Reply | None:
        refused = browser_refusal(request.method, request.headers,
                                  any_host=self.token is not None)
        if refused is not None:
            return _error(ApiError(refused.status, "forbidden" if refused.status == 403 else
                                   "unsupported_media_type", refused.message, refused.header))
        path = request.target.split("?", 1)[0]
        if self.token is None or (path == "/v1/openapi.json" and request.method == "GET"):
            return None
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("latin-1"), self.token.encode()):
            return None
        return _error(ApiError(401, "unauthorized", "a valid bearer token is required",
                               field="Authorization"))

    # -- on a worker -------------------------------------------------------------------------

    def _handle(self, request: Request) -> Reply | Stream:
        path = request.target.split("?", 1)[0]
        try:
            if path == "/v1/openapi.json" and request.method == "GET":
                return _json_reply(200, openapi_document())
            return self._route(request.method, path, request)
        except (ApiError, BadField) as exc:
            return _error(exc)

    def _route(self, method: str, path: str, request: Request) -> Reply | Stream:
        service = self.service
        if path == "/v1/checks":
            _allow(method, "POST")
            terms = parse_check(json_object(request.body),
                                default_min_age=service.default_min_age,
                                default_expires_s=service.default_expires_s)
            if terms.mode == "share_online" and not service.online_share:
                raise BadField("mode", "share_online needs the kiosk's [share] offer_id")
            try:
                check = service.arm(terms)  # in attended mode this arms the kiosk too
            except TooManyOpen as exc:
                raise ApiError(429, "too_many_open", str(exc)) from None
            return _json_reply(201, check.public(), ("Location", f"/v1/checks/{check.id}"))
        if match := _CHECK_PATH.fullmatch(path):
            _allow(method, "GET", "DELETE")
            return self._check(method, match.group(1))
        if path == "/v1/events":
            _allow(method, "GET")
            return self._stream_events(request)
        if path in _STAFF:
            _allow(method, "POST")
            refuse_unknown(json_object(request.body), ())
            if not service.staff_step:
                raise ApiError(409, "no_staff_step", "this kiosk has no staff step (attended "
                               'age checks only: kiosk.mode = "age", kiosk.attended = true)')
            try:
                service.staff(_STAFF[path])
            except StaffRefused as exc:
                raise ApiError(409, exc.error, str(exc)) from None
            return _json_reply(202, {"accepted": str(_STAFF[path])})
        if path == "/v1/health":
            _allow(method, "GET")
            return _json_reply(200, service.health())
        raise ApiError(404, "not_found", f"no such resource: {path[:80]}")

    def _check(self, method: str, check_id: str) -> Reply:
        service = self.service
        check = service.registry.get(check_id)
        if check is None:
            raise ApiError(404, "not_found", "no such check", field="id")
        if method == "DELETE":
            if check.state not in OPEN:
                raise ApiError(409, "not_open", f"the check is {check.state} already",
                               field="id")
            service.cancel(check_id)
            # The loop takes it within a tick; answer with what it made of it.
            check = service.registry.wait_change(check_id, check.state, CANCEL_WAIT_S) or check
        return _json_reply(200, check.public())

    # -- the event stream --------------------------------------------------------------------

    def _stream_events(self, request: Request) -> Stream:
        events = self.service.events
        given = _last_event_id(request.headers.get("last-event-id"))
        # A fresh subscriber starts from now; one that reconnects, after what it last heard
        # (everything kept, if that was another run's event).
        last = events.last_number if given is None else events.resume_from(given)
        with self._lock:
            if self._subscribers >= MAX_SUBSCRIBERS:
                raise ApiError(503, "too_many_subscribers",
                               f"at most {MAX_SUBSCRIBERS} event streams at once")
            self._subscribers += 1

        def run(write: Callable[[bytes], None], closed: Callable[[], bool]) -> None:
            try:
                self._feed(last, write, closed)
            finally:
                with self._lock:
                    self._subscribers -= 1

        return Stream((("Content-Type", "text/event-stream; charset=utf-8"),
                       ("X-Accel-Buffering", "no")), run)

    def _feed(self, last: int, write: Callable[[bytes], None],
              closed: Callable[[], bool]) -> None:
        """Events after `last` as they come, a comment every `keepalive_s` meanwhile; ends
        when the kiosk stops or the till hangs up (noticed within `STREAM_POLL_S`)."""
        events = self.service.events
        write(b"retry: 2000\n: connected\n\n")
        quiet_since = time.monotonic()
        while not events.closed and not self.stopping:
            found = events.wait_after(last, min(STREAM_POLL_S, self.keepalive_s))
            if found:
                last = found[-1].number
                write(b"".join(_sse(e.number, e.event) for e in found))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= self.keepalive_s:
                write(b": keep-alive\n\n")
                quiet_since = time.monotonic()
            if closed():
                return


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ApiError(405, "method_not_allowed", f"{method} is not allowed here; "
                       f"allowed: {', '.join(allowed)}")


def _last_event_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadField("Last-Event-ID", "must be the number of an event")
    return int(raw)


def _sse(number: int, event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False)
    return f"id: {number}\nevent: {event.get('event', 'message')}\ndata: {data}\n\n".encode()
