"""The sandbox's HTTP plumbing: a threading HTTP/1.1 server that keeps connections alive,
sends each answer in one piece, and can drop or reset a connection on purpose.

Latency is honest: keep-alive, Nagle off, and headers and body leave in one send, so a
kept-alive request does not pay the 40 ms delayed-ACK stall. The `Date` header comes from the
sandbox's own clock, which can be set off on purpose. A request target in absolute form
(`POST http://host/path`, as a client sends it through an HTTP proxy) is accepted and marked,
so the sandbox can stand in for a proxy in tests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import struct
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

_log = logging.getLogger("kiosk.diia.sandbox")

MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer: a JSON body (dict), raw bytes, or `close` ("drop" or "reset") for none."""

    status: int
    body: dict[str, Any] | bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    close: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without scheme, host and query
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    proxied: bool  # the target came in absolute form, as through a proxy


class Responder(Protocol):
    """What the server asks of the sandbox."""

    def respond(self, request: Request) -> Reply: ...

    def record(self, request: Request, reply: Reply, server_ms: float) -> None: ...

    def now(self) -> float: ...

    def opened(self, sock: socket.socket) -> None: ...

    def closed(self, sock: socket.socket) -> None: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Diia's front end
    disable_nagle_algorithm = True
    wbufsize = -1  # buffered: headers and body go out in the one flush after each request
    server: SandboxServer

    def setup(self) -> None:
        super().setup()
        self.server.responder.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.responder.closed(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The `Date` header, from the sandbox's clock (which may be set off on purpose)."""
        return formatdate(self.server.responder.now() if timestamp is None else timestamp,
                          usegmt=True)

    def _serve(self) -> None:
        started = time.perf_counter()
        responder = self.server.responder
        raw_length = (self.headers.get("Content-Length") or "0").strip()
        if not (raw_length.isascii() and raw_length.isdigit()):
            self.close_connection = True  # where the body ends is unknown: nothing after it
            self._send_json(400, {"error": "Content-Length must be a whole number"})
            return
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send_json(413, {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"})
            return
        target = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=target.path or "/",
            query=target.query,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length > 0 else b"",
            proxied=bool(target.scheme),
        )
        reply = responder.respond(request)
        if reply.close is not None:
            responder.record(request, reply, (time.perf_counter() - started) * 1000)
            self._close(reply.close)
            return
        if isinstance(reply.body, bytes):
            body = reply.body
        else:
            body = json.dumps(reply.body or {}, ensure_ascii=False).encode()
        self._send(reply.status, body, reply.content_type)
        # Recorded before the answer leaves, so a client that has it finds it in the log.
        responder.record(request, reply, (time.perf_counter() - started) * 1000)
        self.wfile.flush()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json; charset=utf-8")
        self.wfile.flush()

    def _close(self, how: str) -> None:
        """End the connection without an answer: a FIN ("drop") or an RST ("reset")."""
        self.close_connection = True
        if how == "reset":
            with contextlib.suppress(OSError):  # linger 0: closing sends RST, not FIN
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                # Closed now (the descriptor goes when finish() closes the files), before
                # socketserver's usual shutdown(SHUT_WR) could send a polite FIN first.
                self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the default writes every request line (with the token) to stderr."""


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler sleeping on "slow" must not hold up stop()

    def __init__(self, address: tuple[str, int], responder: Responder) -> None:
        self.responder = responder
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer's own server_bind does a reverse DNS lookup that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        _log.debug("sandbox: a connection ended with an error", exc_info=True)
