"""The till's local HTTP API, served on a thread of the kiosk's own process.

Built on the standard library's threading HTTP server: measured on the kiosk, it adds
under 1 MiB of RSS and a few milliseconds to start, where aiohttp adds about 12 MiB and
0.3 s and Starlette on uvicorn about 5 MiB and 0.1 s (bench/api_server_choice.py). The API
is small, JSON only, for one till on loopback or the shop's LAN, so a framework would not
earn its weight. One thread per connection; an SSE subscriber holds one, so they are capped.

Every answer is JSON (the event stream aside); every refusal says what was wrong and names
the field. With a token configured, every call but the OpenAPI document needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kiosk.api.checks import OPEN, TooManyOpen
from kiosk.api.openapi import openapi_document
from kiosk.api.requests import BadField, json_object, parse_check, refuse_unknown
from kiosk.api.service import StaffRefused, TillService
from kiosk.model import StaffCommand

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies and the till's client awake
MAX_SUBSCRIBERS = 8
REQUEST_TIMEOUT_S = 10.0  # a client that stalls mid-request lets its thread go after this
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer
    timeout = REQUEST_TIMEOUT_S

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines go nowhere (a reference or an id is the till's business)."""

    # -- dispatch ---------------------------------------------------------------------------

    def _serve(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        try:
            body = self._read_body()
            if path == "/v1/openapi.json" and method == "GET":
                self._json(200, openapi_document())
                return
            self._authorize()
            self._route(method, path, body)
        except ApiError as exc:
            self._json(exc.status, exc.body())
        except BadField as exc:
            self._json(400, {"error": "bad_request", "field": exc.field,
                             "message": exc.message})
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:  # a bug here must not take the thread's client down silently
            log.exception("the till's API failed on %s %s", method, path)
            self._json(500, {"error": "internal", "message": "the kiosk failed on this call"})

    def _route(self, method: str, path: str, raw: bytes) -> None:
        service = self.server.service
        if path == "/v1/checks":
            self._allow(method, "POST")
            terms = parse_check(json_object(raw), default_min_age=service.default_min_age,
                                default_expires_s=service.default_expires_s)
            if terms.mode == "share_online" and not service.online_share:
                raise BadField("mode", "share_online needs the kiosk's [share] offer_id")
            try:
                check = service.arm(terms)  # in attended mode this arms the kiosk too
            except TooManyOpen as exc:
                raise ApiError(429, "too_many_open", str(exc)) from None
            self._json(201, check.public(), location=f"/v1/checks/{check.id}")
        elif match := _CHECK_PATH.fullmatch(path):
            self._allow(method, "GET", "DELETE")
            self._check(method, match.group(1))
        elif path == "/v1/events":
            self._allow(method, "GET")
            self._stream_events()
        elif path in _STAFF:
            self._allow(method, "POST")
            refuse_unknown(json_object(raw), ())
            if not service.staff_step:
                raise ApiError(409, "no_staff_step", "this kiosk has no staff step (attended "
                               'age checks only: kiosk.mode = "age", kiosk.attended = true)')
            try:
                service.staff(_STAFF[path])
            except StaffRefused as exc:
                raise ApiError(409, exc.error, str(exc)) from None
            self._json(202, {"accepted": str(_STAFF[path])})
        elif path == "/v1/health":
            self._allow(method, "GET")
            self._json(200, service.health())
        else:
            raise ApiError(404, "not_found", f"no such resource: {path[:80]}")

    def _check(self, method: str, check_id: str) -> None:
        service = self.server.service
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
        self._json(200, check.public())

    # -- the event stream -------------------------------------------------------------------

    def _stream_events(self) -> None:
        server, events = self.server, self.server.service.events
        last = self._last_event_id()
        with server.subscriber() as admitted:
            if not admitted:
                raise ApiError(503, "too_many_subscribers",
                               f"at most {MAX_SUBSCRIBERS} event streams at once")
            self.close_connection = True  # the stream ends with the connection
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            self.wfile.write(b"retry: 2000\n: connected\n\n")
            self.wfile.flush()
            if last is None:
                last = events.last_number  # a fresh subscriber starts from now
            self.connection.settimeout(KEEPALIVE_S * 2)
            while not events.closed and not server.stopping:
                found = events.wait_after(last, server.keepalive_s)
                chunk = b"".join(_sse(e.number, e.event) for e in found) or b": keep-alive\n\n"
                if found:
                    last = found[-1].number
                self.wfile.write(chunk)
                self.wfile.flush()

    def _last_event_id(self) -> int | None:
        raw = self.headers.get("Last-Event-ID")
        if raw is None:
            return None
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise BadField("Last-Event-ID", "must be the number of an event")
        return int(raw)

    # -- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ApiError(411, "length_required", "send the body with a Content-Length")
        raw_length = self.headers.get("Content-Length") or "0"
        if not (raw_length.isascii() and raw_length.isdigit()):
            raise BadField("Content-Length", "must be a number")
        length = int(raw_length)
        if length > 16 * 1024:
            self.close_connection = True
            raise ApiError(413, "too_large", "the body is larger than 16 KiB", field="body")
        return self.rfile.read(length) if length else b""

    def _authorize(self) -> None:
        token = self.server.token
        if token is None:
            return
        scheme, _, given = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            raise ApiError(401, "unauthorized", "a valid bearer token is required",
                           field="Authorization")

    def _allow(self, method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ApiError(405, "method_not_allowed", f"{method} is not allowed here; "
                           f"allowed: {', '.join(allowed)}")

    def _json(self, status: int, body: dict[str, Any], location: str | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="kiosk"')
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _sse(number: int, event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False)
    return f"id: {number}\nevent: {event.get('event', 'message')}\ndata: {data}\n\n".encode()


class ApiServer(ThreadingHTTPServer):
    """`ApiServer((host, port), service, token).start()`; `stop()` ends every stream."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        service: TillService,
        token: str | None = None,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.service = service
        self.token = token
        self.keepalive_s = keepalive_s
        self.stopping = False
        self._subscribers = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer's own server_bind does a reverse DNS lookup that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), int(self.server_address[1])
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> ApiServer:
        self._thread = threading.Thread(target=self.serve_forever, name="till-api",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.service.events.close()
        with contextlib.suppress(OSError):  # wakes serve_forever's select now, not at next poll
            self.socket.shutdown(socket.SHUT_RDWR)
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    @contextlib.contextmanager
    def subscriber(self) -> Any:
        with self._lock:
            admitted = self._subscribers < MAX_SUBSCRIBERS
            if admitted:
                self._subscribers += 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self._subscribers -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("the till's API: a connection ended with an error", exc_info=True)
