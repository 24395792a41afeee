"""A fleet's TUF repository made by `kiosk.ops.fleet`, served over plain HTTP on loopback.

The server serves the repository folder as it is, except where a test plays the mirror
or the attacker: `replace[url path] = bytes` serves those bytes instead (None: 404),
`delay_s` trickles every answer, `down` refuses connections. `snapshot()` copies the
folder's current files, for serving old ones back later (a freeze, a rollback).
"""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiosk.ops.fleet import FleetRepository


class ServedRepository:
    def __init__(self, folder: Path, *, now_offset: timedelta = timedelta(0)) -> None:
        self.folder = folder
        self.keys = folder.parent / f"{folder.name}-keys"
        self.offset = now_offset
        self.repo = FleetRepository.create(folder, self.keys, now=self.now)
        self.replace: dict[str, bytes | None] = {}
        self.delay_s = 0.0
        self.requests: list[str] = []
        self._serve()

    def _serve(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                if self.path in owner.replace:
                    data = owner.replace[self.path]
                else:
                    file = owner.folder / self.path.lstrip("/")
                    data = file.read_bytes() if file.is_file() else None
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if owner.delay_s:
                    for i in range(0, len(data), 64):
                        self.wfile.write(data[i:i + 64])
                        self.wfile.flush()
                        time.sleep(owner.delay_s)
                else:
                    self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    @property
    def root_file(self) -> Path:
        return self.folder / "metadata" / "1.root.json"

    def publish(self, target: str, text: str) -> None:
        self.repo.add_target(target, text.encode())

    def files(self) -> dict[str, bytes]:
        """Every file served now, by URL path (for serving it back later)."""
        return {"/" + str(p.relative_to(self.folder)): p.read_bytes()
                for p in self.folder.rglob("*") if p.is_file()}

    def serve_old(self, old: dict[str, bytes], *names: str) -> None:
        """Serve these metadata files as they were in `old` (an attacker's replay)."""
        for name in names:
            self.replace[f"/metadata/{name}"] = old[f"/metadata/{name}"]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def served(tmp_path: Path) -> Iterator[ServedRepository]:
    repo = ServedRepository(tmp_path / "fleet")
    try:
        yield repo
    finally:
        repo.stop()


def copy_keys(repo: ServedRepository, role_prefix: str, to: Path) -> None:
    """Some of the repository's private keys elsewhere (an attacker's stolen copy)."""
    to.mkdir(exist_ok=True)
    for pem in repo.keys.glob(f"{role_prefix}.*.pem"):
        shutil.copy(pem, to / pem.name)
