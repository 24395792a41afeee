"""What a local HTTP server adds to the kiosk's process: RSS and time until it answers.

Each candidate runs in a fresh interpreter that first imports what `kiosk run` imports (the
baseline), then starts the server on a thread, as the kiosk does, and serves 200 requests
to /v1/health. Candidates whose library is not installed are skipped.

    python bench/api_server_choice.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    r"""
    import json, socket, sys, threading, time
    import kiosk.bootstrap, kiosk.cli, kiosk.ops.runtime  # what `kiosk run` has loaded

    def rss_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    def get(port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return data

    def free_port():
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    base = rss_kib()
    t0 = time.perf_counter()
    port = free_port()
    kind = sys.argv[1]
    if kind == "stdlib":
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_GET(self):
                body = b'{"state": "idle"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *a): pass
        server = ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    elif kind == "aiohttp":
        import asyncio
        from aiohttp import web
        async def health(request):
            return web.json_response({"state": "idle"})
        def serve():
            loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_get("/v1/health", health)
            runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
            loop.run_forever()
        threading.Thread(target=serve, daemon=True).start()
    elif kind == "starlette":
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route
        async def health(request):
            return JSONResponse({"state": "idle"})
        app = Starlette(routes=[Route("/v1/health", health)])
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        threading.Thread(target=server.run, daemon=True).start()
    while True:
        try:
            assert b"200 OK" in get(port)
            break
        except OSError:
            time.sleep(0.002)
    ready_ms = (time.perf_counter() - t0) * 1000
    for _ in range(200):
        get(port)
    print(json.dumps({"server": kind, "rss_base_kib": base, "rss_added_kib": rss_kib() - base,
                      "start_to_answer_ms": round(ready_ms, 1)}))
    """
)


def main() -> int:
    for kind in ("stdlib", "aiohttp", "starlette"):
        runs = []
        for _ in range(3):
            done = subprocess.run([sys.executable, "-c", CHILD, kind], capture_output=True,
                                  text=True, timeout=120)
            if done.returncode != 0:
                break
            runs.append(json.loads(done.stdout))
        if not runs:
            last = done.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"{kind:10} skipped: {last[0]}")
            continue
        rss = sorted(r["rss_added_kib"] for r in runs)[len(runs) // 2]
        ms = sorted(r["start_to_answer_ms"] for r in runs)[len(runs) // 2]
        print(f"{kind:10} +{rss / 1024:5.1f} MiB RSS  start→first answer {ms:6.1f} ms "
              f"(baseline {runs[0]['rss_base_kib'] / 1024:.1f} MiB; median of {len(runs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
