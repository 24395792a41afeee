"""`kiosk run` as a till sees it: a real process reading codes from stdin, its API on
loopback, the Diia sandbox beside it. Used by the API tests and bench/api_latency.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_config import write_kiosk_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningKiosk:
    """`kiosk run` with its config in `folder`; `scan(code)` types a code on its stdin."""

    def __init__(self, sandbox: DiiaSandbox, folder: Path, *, mode: str = "validate",
                 token: str | None = None, extra: str = "", kiosk_extra: str = "",
                 api_extra: str = "", listen_host: str = "127.0.0.1",
                 attended: bool = False, verbose: bool = False,
                 metrics_port: int = 0, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.metrics_port = metrics_port
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        if token is not None:
            token_file = folder / "api-token"
            token_file.write_text(token)
            token_file.chmod(0o600)
            api_extra += f'token_file = "{token_file}"\n'
        listen = f"{listen_host}:{self.port}"
        self.config = write_kiosk_config(
            folder / "kiosk.toml", sandbox, mode=mode, attended=attended,
            state_dir=folder / "state",
            kiosk_extra=kiosk_extra, listen=listen, api_extra=api_extra, extra=extra,
            metrics_port=metrics_port)
        env = {**os.environ, "KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
               "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token, **(env or {})}
        env.pop("CREDENTIALS_DIRECTORY", None)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", *(["-v"] if verbose else []), "run",
             "--config", str(self.config)],
            stdin=subprocess.PIPE, stdout=open(folder / "stdout", "w"),  # noqa: SIM115
            stderr=open(folder / "stderr", "w"), text=True, env=env, cwd=folder,  # noqa: SIM115
        )
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=10)
        self.ready_s = self._wait_ready()

    def _wait_ready(self, timeout_s: float = 30.0) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kiosk run exited {self.process.returncode}: "
                                   f"{(self.folder / 'stderr').read_text()[-2000:]}")
            try:
                if self.http.get("/v1/openapi.json").status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                time.sleep(0.02)
        raise TimeoutError("the kiosk's API did not come up")

    def scan(self, code: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(code + "\n")
        self.process.stdin.flush()

    def arm(self, **terms: Any) -> dict[str, Any]:
        response = self.http.post("/v1/checks", json=terms)
        assert response.status_code == 201, response.text
        return response.json()

    def wait_state(self, check_id: str, states: tuple[str, ...] = ("done",),
                   timeout_s: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            check = self.http.get(f"/v1/checks/{check_id}").json()
            if check["state"] in states:
                return check
            time.sleep(0.01)
        raise TimeoutError(f"check {check_id} stayed {check['state']}")

    def wait_health(self, state: str, timeout_s: float = 15.0) -> dict[str, Any]:
        """`GET /v1/health` once its "state" is `state`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            health = self.http.get("/v1/health").json()
            if health["state"] == state:
                return health
            time.sleep(0.01)
        raise TimeoutError(f"the kiosk stayed {health['state']}, not {state}")

    def stop(self) -> tuple[int, str, str]:
        """Ends stdin (the run then ends by itself); exit status, stdout, stderr."""
        self.http.close()
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return (self.process.returncode, (self.folder / "stdout").read_text(),
                (self.folder / "stderr").read_text())

    def __enter__(self) -> RunningKiosk:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.stop()


class EventReader:
    """A till listening on `GET /v1/events` on a thread; `events` fills as they come."""

    def __init__(self, url: str, headers: dict[str, str] | None = None,
                 last_event_id: str | None = None) -> None:
        import threading

        self.events: list[tuple[str, dict[str, Any]]] = []
        self._headers = dict(headers or {})
        if last_event_id is not None:
            self._headers["Last-Event-ID"] = last_event_id
        self._url = url
        self._stop = False
        self._arrived = threading.Condition()  # an event came: `wait_for` looks again
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self.connected.wait(10), "the event stream did not open"

    def _read(self) -> None:
        import json

        with httpx.stream("GET", f"{self._url}/v1/events", headers=self._headers,
                          timeout=httpx.Timeout(10, read=60)) as stream:
            number = ""
            for line in stream.iter_lines():
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("id: "):
                    number = line[4:]
                elif line.startswith("data: "):
                    with self._arrived:
                        self.events.append((number, json.loads(line[6:])))
                        self._arrived.notify_all()
                if self._stop:
                    return

    def wait_for(self, predicate: Any, timeout_s: float = 15.0) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        with self._arrived:  # woken by each event: no polling delay in what is measured
            while (left := deadline - time.monotonic()) > 0:
                for number, event in self.events:
                    if predicate(event):
                        return number, event
                self._arrived.wait(left)
        raise TimeoutError(f"no such event among {[e for _, e in self.events]}")

    def close(self) -> None:
        self._stop = True  # the stream ends at the next keep-alive or when the kiosk stops
