"""A hostile Diia: a raw-socket HTTP/1.1 peer on loopback that misbehaves on purpose.

It parses just enough of each request to know which call it is, answers logins honestly
(unless told otherwise) and hands every other request to a behaviour: a function that
writes whatever bytes it likes, when it likes, or resets the connection. Nothing here
helps the client: no framing is fixed up, no write is coalesced unless the behaviour does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.tls import write_tls_files

LOGIN_PREFIX = "/api/v1/auth/acquirer/"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # 1 for the first connection the server accepted


class Peer:
    """One accepted connection, for a behaviour to write to (or to break)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, data: bytes) -> None:
        """`data` in one write; a connection already gone is not the behaviour's problem."""
        with contextlib.suppress(OSError):
            self.sock.sendall(data)

    def trickle(self, data: bytes, every_s: float, stop: threading.Event) -> None:
        """`data` one byte at a time, `every_s` apart (until the client gives up)."""
        for i in range(len(data)):
            if stop.wait(every_s):
                return
            try:
                self.sock.sendall(data[i : i + 1])
            except OSError:
                return

    def reset(self) -> None:
        """Close with an RST instead of a FIN."""
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # Closed at the descriptor: the request reader's reference must not delay it.
            socket.close(self.sock.detach())


Behaviour = Callable[[Peer, Request], None]


def response(status: int, body: bytes | dict[str, Any], *, headers: dict[str, str] | None = None,
             content_length: int | None = None) -> bytes:
    """Raw bytes of an HTTP/1.1 answer; `content_length` may lie about the body."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    if content_length is not None or "Transfer-Encoding" not in (headers or {}):
        head.append(f"Content-Length: {len(raw) if content_length is None else content_length}")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + raw


def session_token() -> str:
    """A JWT-shaped session token that lives two hours (the client reads only iat/exp)."""
    now = int(time.time())
    claims = base64.urlsafe_b64encode(json.dumps({"iat": now, "exp": now + 7200}).encode())
    return "e30." + claims.decode().rstrip("=") + ".sig"


def honest_login(peer: Peer, request: Request) -> None:
    peer.send(response(200, {"token": session_token()}))


class HostileServer:
    """Listens on 127.0.0.1; logins go to `login`, every other request to `check`.

    `tls` wraps each accepted socket (handshake done before any request is read).
    `stop` is set when the server stops, so a trickling behaviour ends with it.
    """

    def __init__(self, check: Behaviour, *, login: Behaviour = honest_login,
                 tls: ssl.SSLContext | None = None) -> None:
        self._check, self._login, self._tls = check, login, tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.requests: list[Request] = []
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._listener.close()
        for sock in list(self._open):
            with contextlib.suppress(OSError):
                sock.close()
        self._thread.join(2)

    @property
    def checks(self) -> list[Request]:
        return [r for r in self.requests if not r.path.startswith(LOGIN_PREFIX)]

    def _accept(self) -> None:
        self._listener.settimeout(0.05)  # a closed listener does not wake accept() on Linux
        while not self.stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            self.connections += 1
            self._open.append(sock)
            threading.Thread(target=self._serve, args=(sock, self.connections),
                             daemon=True).start()

    def _serve(self, sock: socket.socket, number: int) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
                self._open.append(sock)
            reader = sock.makefile("rb")
            peer = Peer(sock)
            while not self.stop.is_set():
                request = _read_request(reader, number)
                if request is None:
                    return
                self.requests.append(request)
                behaviour = self._login if request.path.startswith(LOGIN_PREFIX) else self._check
                behaviour(peer, request)


def _read_request(reader: Any, connection: int) -> Request | None:
    line = reader.readline(65536)
    if not line:
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = reader.read(int(headers.get("content-length") or 0))
    return Request(method, path, headers, body, connection)


class SilentListener:
    """Accepts connections and never says a word (a TLS handshake that never completes); with
    `reset` answers each with an RST at once; with `trickle` sends those bytes one at a time,
    20 ms apart, whatever the client says."""

    def __init__(self, *, reset: bool = False, trickle: bytes = b"") -> None:
        self._reset, self._trickle = reset, trickle
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> SilentListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        for sock in self._held:
            sock.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while self._listener.fileno() >= 0:
            try:
                sock = self._listener.accept()[0]
                if self._reset:
                    Peer(sock).reset()
                else:
                    self._held.append(sock)
                    if self._trickle:
                        threading.Thread(target=Peer(sock).trickle, daemon=True,
                                         args=(self._trickle, 0.02, self._stop)).start()
            except TimeoutError:
                continue
            except OSError:
                return


def tls_files(folder: Path, host: str) -> tuple[Path, ssl.SSLContext]:
    """A private CA (its PEM file, for the client's `ca_file`) and a server context with a
    certificate for `host` signed by it."""
    ca_path, cert_path, key_path = write_tls_files(folder, host, ca_name="hostile CA")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return ca_path, context
