"""HTTP/1.1 on the wire for the till's API: h11's framing, our limits, few threads.

One front thread owns every connection while a request is coming in: it accepts, reads
(non-blocking, through the selector), parses with h11 and enforces the limits. `screen`
(the token, Host, Origin, Content-Type) runs there on the request's head, before the body
is read. A thread is spent only on a request that has arrived whole and passed: it runs on
a small pool of workers, which write the answer and hand the connection back. A slow or
idle peer costs a descriptor and a few hundred bytes, never a thread, and only up to the
caps.

Limits (`Limits`): connections open at once, in all and per peer address; one deadline for
a whole request (head and body) from the moment the connection waits for it, idle
keep-alive included; the head's size (h11's 16 KiB) and the body's. At a cap, the
connection that has waited longest for its request (the peer's own, at the peer's cap) is
closed to make room: a flood of slow connections evicts itself, while a till that sends its
request as soon as it connects is served (if every connection is busy with a worker or a
stream, the new one is refused with a 503).

Framing is h11's, which refuses conflicting or malformed lengths and any transfer coding
but `chunked` (RFC 9112 §6); a request with both a length and a coding is refused too.
Every refusal at this level is answered and the connection closed: no byte after a framing
error is ever read as a request.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import queue
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import h11

log = logging.getLogger(__name__)

LINGER_S = 1.0  # after a refusal, unread bytes are drained this long before the close
_BUSY = float("inf")


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 64
    max_per_peer: int = 16
    request_deadline_s: float = 10.0  # idle keep-alive + head + body, whole
    write_timeout_s: float = 5.0  # one whole answer (CPython's sendall bounds the total)
    max_body_bytes: int = 16 * 1024
    workers: int = 4


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    target: str  # as sent: path and query
    headers: dict[str, str]  # lower-case names; a repeated header's values joined by ", "
    body: bytes = b""
    peer: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False


@dataclass(frozen=True, slots=True)
class Stream:
    """A reply whose body is written by `run(write, closed)` on a thread of its own, until it
    returns: `write(bytes)` sends one piece, `closed()` says whether the peer hung up."""

    headers: tuple[tuple[str, str], ...]
    run: Callable[[Callable[[bytes], None], Callable[[], bool]], None]


Screen = Callable[[Request], Reply | None]  # on the front thread: cheap, never blocks
Handle = Callable[[Request], Reply | Stream]  # on a worker


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    peer: str
    deadline: float  # for the request it waits for; _BUSY while a worker or stream has it
    since: float  # when it began to wait for that request
    parser: h11.Connection = field(
        default_factory=lambda: h11.Connection(h11.SERVER, max_incomplete_event_size=16384))
    head: h11.Request | None = None
    body: bytearray = field(default_factory=bytearray)
    lingering: bool = False


def _ascii(value: bytes) -> str:
    return value.decode("latin-1")  # h11 has checked the bytes a header may hold


class WireServer:
    """`WireServer(sock, screen, handle, limits).start()`; `stop()` closes every connection.

    `sock` is a bound socket; `screen(request)` sees each request's head (its body not yet
    read, `body` empty) on the front thread, and may answer it there (a refusal: the
    connection closes); `handle(request)` answers the whole requests that passed, on a
    worker.
    """

    def __init__(self, sock: socket.socket, screen: Screen, handle: Handle,
                 limits: Limits = Limits(), *, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self._listener = sock
        self._screen = screen
        self._handle = handle
        self._clock = clock
        self._selector = selectors.DefaultSelector()
        self._conns: dict[int, _Conn] = {}  # by descriptor, every one we hold
        self._per_peer: dict[str, int] = {}
        self._returned: queue.SimpleQueue[tuple[_Conn, bool]] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._pool = ThreadPoolExecutor(limits.workers, thread_name_prefix="till-api")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._accept_paused_until = 0.0
        self._stream_threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.refused_connections = 0  # over a cap with none to evict, since the start
        self.evicted_connections = 0  # closed to make room, since the start

    # -- life -------------------------------------------------------------------------------

    def start(self) -> WireServer:
        self._listener.setblocking(False)
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)  # a wake never waits: a full pipe wakes already
        self._selector.register(self._listener, selectors.EVENT_READ, "listen")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name="till-api-front", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace_s: float = 1.0) -> None:
        """Close everything; streams whose `run` was told to end (by their owner) get
        `grace_s` to end cleanly first."""
        with self._lock:
            streams = list(self._stream_threads)
        until = time.monotonic() + grace_s
        for thread in streams:
            thread.join(max(0.0, until - time.monotonic()))
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- the front thread -------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            while not self._stopping.is_set():
                for key, _ in self._selector.select(self._timeout()):
                    if key.data == "listen":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._read(key.data)
                self._take_returned()
                self._expire()
                self._resume_accepting()
        except Exception:  # a bug here must be seen; the kiosk goes on without its API
            log.exception("the till's API stopped")
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)
            self._selector.close()

    def _timeout(self) -> float:
        now = self._clock()
        soonest = min((c.deadline for c in self._conns.values()), default=now + 1.0)
        return min(1.0, max(0.0, soonest - now))

    def _accept(self) -> None:
        for _ in range(64):  # a flood is taken in bites, so reads and expiries go on
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors: stop asking for a moment rather than spin on a
                    # listener that stays readable.
                    log.warning("the till's API cannot accept: %s", exc.strerror)
                    self._pause_accepting(0.5)
                    return
                log.debug("the till's API: accept failed", exc_info=True)
                return
            peer = str(address[0])
            if not self._make_room(peer):
                self.refused_connections += 1
                with contextlib.suppress(OSError):
                    sock.setblocking(False)
                    sock.send(_OVER_CAP)
                sock.close()
                continue
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            now = self._clock()
            conn = _Conn(sock, peer, now + self.limits.request_deadline_s, now)
            with self._lock:
                self._conns[sock.fileno()] = conn
                self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _make_room(self, peer: str) -> bool:
        """Below both caps, or made so by closing the longest-waiting connection that is not
        being answered (of `peer` at its own cap); False if none can go."""
        limits = self.limits
        if self._per_peer.get(peer, 0) >= limits.max_per_peer:
            pool = [c for c in self._conns.values() if c.peer == peer]
        elif len(self._conns) >= limits.max_connections:
            pool = list(self._conns.values())
        else:
            return True
        waiting = [c for c in pool if c.deadline != _BUSY]
        if not waiting:
            return False
        self.evicted_connections += 1
        self._close(min(waiting, key=lambda c: c.since))
        return True

    def _pause_accepting(self, seconds: float) -> None:
        if not self._accept_paused_until:
            self._selector.unregister(self._listener)
        self._accept_paused_until = self._clock() + seconds

    def _resume_accepting(self) -> None:
        if self._accept_paused_until and self._clock() >= self._accept_paused_until:
            self._accept_paused_until = 0.0
            self._selector.register(self._listener, selectors.EVENT_READ, "listen")

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if conn.lingering:
            if not data:
                self._close(conn)
            return
        if not data:
            self._close(conn)  # the peer left, maybe mid-request: nothing to answer
            return
        conn.parser.receive_data(data)
        self._advance(conn)

    def _advance(self, conn: _Conn) -> None:
        """Take what h11 has parsed: a head, body pieces, the end of a request."""
        limits = self.limits
        while True:
            try:
                event = conn.parser.next_event()
            except h11.RemoteProtocolError as exc:
                # A fixed text: h11's own can quote the offending line (a credential).
                status = exc.error_status_hint
                self._refuse(conn, _reply(status, "bad_request" if status == 400 else
                                          "not_implemented", _FRAMING_TEXT))
                return
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Request):
                conn.head = event
                names = [_ascii(n) for n, _ in event.headers]
                if "transfer-encoding" in names and "content-length" in names:
                    self._refuse(conn, _reply(400, "bad_request", _FRAMING_TEXT))
                    return
                length = _declared_length(event)
                if length is not None and length > limits.max_body_bytes:
                    self._refuse(conn, _too_large(limits.max_body_bytes))
                    return
                refusal = self._screen(_request(event, b"", conn.peer))
                if refusal is not None:  # before the body is read, and before any thread
                    self._refuse(conn, refusal)
                    return
            elif isinstance(event, h11.Data):
                conn.body += event.data
                if len(conn.body) > limits.max_body_bytes:
                    self._refuse(conn, _too_large(limits.max_body_bytes))
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._dispatch(conn)
                return
            elif isinstance(event, h11.ConnectionClosed):
                self._close(conn)
                return

    def _dispatch(self, conn: _Conn) -> None:
        assert conn.head is not None
        request = _request(conn.head, bytes(conn.body), conn.peer)
        conn.head, conn.body = None, bytearray()
        self._selector.unregister(conn.sock)
        conn.deadline = _BUSY  # the worker's now; its writes have their own timeout
        self._pool.submit(self._work, conn, request)

    def _refuse(self, conn: _Conn, reply: Reply) -> None:
        """Answer on the front thread (a small reply the socket's buffer takes at once) and
        close: half-close now, drain what the peer still sends, then close."""
        with contextlib.suppress(OSError):
            conn.sock.send(_refusal_bytes(reply))
            conn.sock.shutdown(socket.SHUT_WR)
        conn.lingering = True
        conn.deadline = self._clock() + LINGER_S

    def _take_returned(self) -> None:
        while True:
            try:
                conn, keep = self._returned.get_nowait()
            except queue.Empty:
                return
            if not keep or self._stopping.is_set():
                self._close(conn)
                continue
            conn.since = self._clock()
            conn.deadline = conn.since + self.limits.request_deadline_s
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            self._advance(conn)  # a pipelined request may be in h11's buffer already

    def _expire(self) -> None:
        now = self._clock()
        for conn in [c for c in self._conns.values() if c.deadline <= now]:
            if conn.lingering or (conn.head is None and not conn.body
                                  and not conn.parser.trailing_data[0]):
                self._close(conn)  # an idle keep-alive, or a refusal drained: no answer due
            else:
                within = f"{self.limits.request_deadline_s:g} s"
                self._refuse(conn, _reply(408, "request_timeout",
                                          f"the request did not arrive whole within {within}"))

    def _close(self, conn: _Conn) -> None:
        with self._lock:
            if self._conns.pop(conn.sock.fileno(), None) is None:
                return
            left = self._per_peer.get(conn.peer, 1) - 1
            if left:
                self._per_peer[conn.peer] = left
            else:
                self._per_peer.pop(conn.peer, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        with contextlib.suppress(OSError):
            conn.sock.close()

    # -- the workers ------------------------------------------------------------------------

    def _work(self, conn: _Conn, request: Request) -> None:
        try:
            reply = self._handle(request)
        except Exception:  # a bug must not take the connection down silently
            log.exception("the till's API failed on %s %s", request.method,
                          request.target.split("?", 1)[0][:80])
            reply = _reply(500, "internal", "the kiosk failed on this call")
        try:
            conn.sock.settimeout(self.limits.write_timeout_s)
            if isinstance(reply, Stream):
                self._stream(conn, reply)  # gives the connection back when it ends
                return
            keep = self._answer(conn, reply)
        except (OSError, h11.LocalProtocolError):
            keep = False
        self._give_back(conn, keep)

    def _answer(self, conn: _Conn, reply: Reply) -> bool:
        """Send `reply`; whether the connection may carry another request."""
        parser = conn.parser
        headers = [*reply.headers, ("Content-Length", str(len(reply.body))),
                   ("Cache-Control", "no-store")]
        if reply.close:
            headers.append(("Connection", "close"))
        conn.sock.sendall(parser.send(h11.Response(status_code=reply.status, headers=headers))
                          + parser.send(h11.Data(data=reply.body))
                          + parser.send(h11.EndOfMessage()))
        if parser.our_state is not h11.DONE or parser.their_state is not h11.DONE:
            return False
        parser.start_next_cycle()
        conn.sock.setblocking(False)
        return True

    def _give_back(self, conn: _Conn, keep: bool) -> None:
        self._returned.put((conn, keep))
        self._wake()

    def _stream(self, conn: _Conn, stream: Stream) -> None:
        """The head now, then the body on a thread of its own until `run` returns; the
        connection leaves the front thread's count only when the stream ends."""
        parser = conn.parser
        conn.sock.sendall(parser.send(h11.Response(status_code=200, headers=[
            *stream.headers, ("Cache-Control", "no-cache")])))

        def write(data: bytes) -> None:
            conn.sock.sendall(parser.send(h11.Data(data=data)))

        def closed() -> bool:
            # poll, not the socket's own timeout: a peek must never wait.
            poller = select.poll()
            try:
                poller.register(conn.sock, select.POLLIN)
            except ValueError:  # closed under us by stop()
                return True
            if not poller.poll(0):
                return False
            try:
                return conn.sock.recv(1, socket.MSG_PEEK) == b""  # readable: no wait
            except (OSError, ValueError):  # ValueError: closed under us by stop()
                return True

        def run() -> None:
            try:
                stream.run(write, closed)
                conn.sock.sendall(parser.send(h11.EndOfMessage()))  # a clean end for the till
            except (OSError, ValueError, h11.LocalProtocolError):
                pass  # the till hung up or stalled, or the kiosk stops: the stream ends here
            finally:
                self._give_back(conn, False)

        thread = threading.Thread(target=run, name="till-api-stream", daemon=True)
        with self._lock:
            self._stream_threads = [t for t in self._stream_threads if t.is_alive()]
            self._stream_threads.append(thread)
        thread.start()


_FRAMING_TEXT = "the request's framing is malformed or ambiguous (RFC 9112): refused"
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 408: "Request Timeout",
            413: "Content Too Large", 415: "Unsupported Media Type", 501: "Not Implemented",
            503: "Service Unavailable"}


def _request(head: h11.Request, body: bytes, peer: str) -> Request:
    headers: dict[str, str] = {}
    for name, value in head.headers:  # h11 gives names in lower case
        key, text = _ascii(name), _ascii(value)
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return Request(_ascii(head.method), _ascii(head.target), headers, body, peer)


def _declared_length(head: h11.Request) -> int | None:
    for name, value in head.headers:
        if name == b"content-length":
            return int(value)  # h11 has checked it is one run of digits
    return None


def _reply(status: int, error: str, message: str, field: str | None = None) -> Reply:
    """A JSON error answer, as every refusal of the API is."""
    body: dict[str, Any] = {"error": error, "message": message}
    if field is not None:
        body["field"] = field
    return Reply(status, json.dumps(body, ensure_ascii=False).encode(),
                 (("Content-Type", "application/json; charset=utf-8"),), close=True)


def _too_large(limit: int) -> Reply:
    return _reply(413, "too_large", f"the body is larger than {limit // 1024} KiB", "body")


def _refusal_bytes(reply: Reply) -> bytes:
    """A refusal, formed by hand: h11 cannot answer a request it never saw whole, and the
    connection closes after it anyway."""
    head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Error')}",
            *(f"{name}: {value}" for name, value in reply.headers),
            f"Content-Length: {len(reply.body)}", "Cache-Control: no-store",
            "Connection: close", "", ""]
    return "\r\n".join(head).encode("latin-1") + reply.body


_OVER_CAP = _refusal_bytes(_reply(503, "too_many_connections",
                                  "the kiosk is at its limit of connections"))
