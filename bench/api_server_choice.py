"""The till's API server, chosen by measurement: what each candidate costs and how it holds.

Each candidate serves the same two routes (`GET /v1/health`, `POST /v1/checks`, which counts
what it was asked) on a thread of a fresh interpreter that first imports what `kiosk run`
imports, with its descriptors limited to 1,024 (systemd's default soft limit). Measured:

- RSS added and the time from start to the first answer (median of 3 starts);
- N slow connections (default 2,000 from 64 loopback addresses), each a request head that
  never ends, held for 10 s: threads, descriptors and RSS of the server's process, the CPU it burnt
  meanwhile, and whether and how fast `GET /v1/health` and a `POST /v1/checks` are answered;
- framing: requests whose body hides a second `POST /v1/checks` behind an ambiguous length
  or transfer coding (RFC 9112 §6); counted: the ones refused without the hidden request
  running.

Candidates whose library is not installed are skipped. Everything stays on loopback, and
every connection the bench opens is closed before the next candidate.

    python bench/api_server_choice.py [--slow 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

CANDIDATES = ("stdlib", "h11-front", "uvicorn", "hypercorn")

CHILD = textwrap.dedent(
    r"""
    import json, os, resource, socket, sys, threading, time
    import kiosk.bootstrap, kiosk.cli, kiosk.ops.runtime  # what `kiosk run` has loaded

    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    armed = [0]
    HEALTH = b'{"state": "idle"}'

    def rss_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    def stats():  # opens nothing: the process may have no descriptor left
        return {"armed": armed[0]}

    def get(port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = rss_kib()
    t0 = time.perf_counter()
    kind = sys.argv[1]
    if kind == "stdlib":
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10.0  # what the kiosk's server had: per read, not per request
            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def do_GET(self):
                self.answer(200, HEALTH)
            def do_POST(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    return self.answer(411, b"{}")
                raw = self.headers.get("Content-Length") or "0"
                if not raw.isdigit():
                    return self.answer(400, b"{}")
                self.rfile.read(int(raw))
                armed[0] += 1
                self.answer(201, b"{}")
            def log_message(self, *a): pass
        class S(ThreadingHTTPServer):
            daemon_threads = True
        server = S(("127.0.0.1", port), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    elif kind == "h11-front":
        from kiosk.api.wire import Reply, WireServer
        def handle(request):
            if request.method == "POST":
                armed[0] += 1
                return Reply(201, b"{}")
            return Reply(200, HEALTH)
        sock = socket.create_server(("127.0.0.1", port), backlog=128)
        WireServer(sock, lambda request: None, handle).start()
    else:
        import asyncio
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
            status, body = (201, b"{}") if scope["method"] == "POST" else (200, HEALTH)
            if scope["method"] == "POST":
                armed[0] += 1
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
        if kind == "uvicorn":
            import uvicorn
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                    access_log=False, lifespan="off", http="h11",
                                    limit_concurrency=64, timeout_keep_alive=5)
            server = uvicorn.Server(config)
            server.install_signal_handlers = lambda: None
            threading.Thread(target=server.run, daemon=True).start()
        else:
            from hypercorn.asyncio import serve
            from hypercorn.config import Config
            config = Config()
            config.bind = [f"127.0.0.1:{port}"]
            config.keep_alive_timeout = 5
            config.read_timeout = 10
            config.accesslog = config.errorlog = None
            async def forever():  # no signal handlers: not the main thread
                await serve(app, config, shutdown_trigger=asyncio.Event().wait)
            threading.Thread(target=lambda: asyncio.run(forever()), daemon=True).start()
    while True:
        try:
            assert b" 200 " in get(port)
            break
        except (OSError, AssertionError):
            time.sleep(0.002)
    ready_ms = (time.perf_counter() - t0) * 1000
    for _ in range(200):
        get(port)
    print(json.dumps({"port": port, "rss_base_kib": base, "rss_added_kib": rss_kib() - base,
                      "start_to_answer_ms": round(ready_ms, 1)}), flush=True)
    for line in sys.stdin:  # the parent asks for figures while it holds connections
        print(json.dumps(stats()), flush=True)
    """
)

SMUGGLED = (b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n{}")
FRAMINGS = {
    "two lengths": b"Content-Length: 0\r\nContent-Length: %d\r\n",
    "a length list": b"Content-Length: 0, %d\r\n",
    "a bad length": b"Content-Length: 0x%x\r\n",
    "gzip, chunked": b"Transfer-Encoding: gzip, chunked\r\nContent-Length: %d\r\n",
    "chunked, a space": b"Transfer-Encoding: chunked \r\nContent-Length: %d\r\n",
    "chunked twice": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Length: %d\r\n",
    "chunked and a length": b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n",
    "identity": b"Transfer-Encoding: identity\r\nContent-Length: %d\r\n",
}


class Child:
    def __init__(self, kind: str) -> None:
        # stderr to a file: a server out of descriptors may log without end, and a full
        # pipe would stop it.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen([sys.executable, "-c", CHILD, kind],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._stderr, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self._stderr.seek(0)
            raise RuntimeError((self._stderr.read().strip().splitlines() or ["?"])[-1])
        self.start = json.loads(line)
        self.port = int(self.start["port"])

    def stats(self) -> dict[str, float]:
        """Threads, descriptors, RSS and CPU seconds read from outside (the server may have
        no descriptor left to read them itself), and what it counted."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("?\n")
        self.process.stdin.flush()
        found = json.loads(self.process.stdout.readline())
        proc = f"/proc/{self.process.pid}"
        status = dict(line.split(":", 1) for line in open(f"{proc}/status"))  # noqa: SIM115
        ticks = open(f"{proc}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
        found.update(threads=int(status["Threads"]), rss_kib=int(status["VmRSS"].split()[0]),
                     fds=len(os.listdir(f"{proc}/fd")),
                     cpu_s=(int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK"))
        return found

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self._stderr.close()


def timed(port: int, raw: bytes, timeout_s: float = 5.0) -> float | None:
    """Seconds to a complete answer to `raw`, or None if none came within `timeout_s`."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(raw)
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                got += chunk
    except OSError:
        return None
    return time.monotonic() - started if got.split(b" ", 2)[1].startswith(b"2") else None


def slow_connections(child: Child, count: int, hold_s: float,
                     peers: int) -> dict[str, object]:
    """`count` connections from `peers` loopback addresses, opened at once (non-blocking: a
    server's short backlog lets them in at its own pace), each sending a request head that
    never ends, held `hold_s`."""
    before = child.stats()
    selector = selectors.DefaultSelector()
    held: list[socket.socket] = []
    sent = 0
    try:
        for n in range(count):
            sock = socket.socket()
            sock.bind((f"127.0.0.{2 + n % peers}", 0))
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", child.port))
            selector.register(sock, selectors.EVENT_WRITE)
            held.append(sock)
        until = time.monotonic() + hold_s
        while time.monotonic() < until - 2.0:
            for key, _ in selector.select(0.2):
                selector.unregister(key.fileobj)
                with contextlib.suppress(OSError):
                    key.fileobj.send(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    sent += 1
        cpu_from = child.stats()["cpu_s"]
        time.sleep(max(0.0, until - time.monotonic()))
        during = child.stats()
        health = timed(child.port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
                       b"Connection: close\r\n\r\n")
        post = timed(child.port, b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Length: 2"
                     b"\r\nConnection: close\r\n\r\n{}")
    finally:
        selector.close()
        for sock in held:
            sock.close()
    return {"opened": sent, "threads": (before["threads"], during["threads"]),
            "fds": (before["fds"], during["fds"]),
            "rss_mib": round((during["rss_kib"] - before["rss_kib"]) / 1024, 1),
            "cpu_share": round((during["cpu_s"] - cpu_from) / 2.0, 2),
            "health_s": health, "post_s": post}


def framing(child: Child) -> tuple[int, list[str]]:
    refused, ran = 0, []
    for name, header in FRAMINGS.items():
        body = (b"0\r\n\r\n" + SMUGGLED) if b"chunked" in header else SMUGGLED
        head = header.replace(b"%d", str(len(body)).encode()).replace(
            b"%x", f"{len(body):x}".encode())
        before = child.stats()["armed"]
        raw = b"POST /v1/health HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n" + body
        try:
            with socket.create_connection(("127.0.0.1", child.port), timeout=2) as sock:
                sock.sendall(raw)
                time.sleep(0.3)
        except OSError:
            pass
        time.sleep(0.1)
        if child.stats()["armed"] > before:
            ran.append(name)
        else:
            refused += 1
    return refused, ran


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--peers", type=int, default=64, choices=range(1, 250),
                        metavar="1..249", help="source addresses (default 64)")
    parser.add_argument("--only", nargs="*", choices=CANDIDATES, default=CANDIDATES)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.slow + 256)), hard))
    for kind in args.only:
        starts = []
        try:
            for _ in range(3):
                child = Child(kind)
                starts.append(child.start)
                child.close()
        except RuntimeError as exc:
            print(f"{kind:10} skipped: {exc}")
            continue
        rss = sorted(r["rss_added_kib"] for r in starts)[1] / 1024
        ms = sorted(r["start_to_answer_ms"] for r in starts)[1]
        child = Child(kind)
        try:
            held = slow_connections(child, args.slow, args.hold, args.peers)
            refused, ran = framing(child)
        finally:
            child.close()
        print(f"{kind:10} +{rss:4.1f} MiB RSS, start→answer {ms:6.1f} ms "
              f"(baseline {starts[0]['rss_base_kib'] / 1024:.1f} MiB)")
        print(f"{'':10} {held['opened']} of {args.slow} slow connections sent a head: "
              f"threads {held['threads']}, fds {held['fds']}, RSS +{held['rss_mib']} MiB, "
              f"CPU {held['cpu_share']} of a core; health {held['health_s']}, "
              f"POST {held['post_s']} (s, None = no answer)")
        print(f"{'':10} framing: {refused}/{len(FRAMINGS)} refused"
              + (f"; hidden request ran after: {', '.join(ran)}" if ran else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
