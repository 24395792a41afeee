"""A real Prometheus (Debian's binary) on loopback for the fleet tests and bench/fleet.py: its
own temporary data directory, a free port, gone when closed. Queries go through its HTTP API."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.kiosk_process import free_port

FLEET_PROMETHEUS = Path(__file__).parents[1] / "deploy" / "fleet" / "prometheus"


def binary() -> str:
    path = shutil.which("prometheus")
    assert path, "prometheus is missing: ./dev.sh test installs Debian's prometheus package"
    return path


def short_rules(folder: Path, for_s: float | None = None,
                names: tuple[str, ...] = ()) -> list[Path]:
    """The fleet's rule files copied into `folder`, every group evaluated each second and the
    `for:` of the alerts in `names` (all when empty) cut to `for_s` seconds: a test's minute
    stands for the fleet's hours, the expressions stay as shipped."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted((FLEET_PROMETHEUS / "rules").glob("*.yml")):
        rules = yaml.safe_load(source.read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
            for rule in group["rules"]:
                if for_s is not None and "alert" in rule and (not names or rule["alert"] in names):
                    rule["for"] = f"{for_s:g}s"
        target = folder / source.name
        target.write_text(yaml.safe_dump(rules, allow_unicode=True, sort_keys=False))
        written.append(target)
    return written


class Prometheus:
    """`prometheus` with `config` (a dict, written as YAML) and `flags`; `.url` its API."""

    def __init__(self, folder: Path, config: dict[str, Any], *flags: str,
                 agent: bool = False, port: int | None = None, scheme: str = "http",
                 verify: ssl.SSLContext | bool = True, auth: tuple[str, str] | None = None) -> None:
        """`scheme`, `verify` and `auth`: how to reach one run with --web.config.file."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = port or free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        storage = "--storage.agent.path" if agent else "--storage.tsdb.path"
        self.log = open(folder / "prometheus.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [binary(), f"--config.file={folder / 'prometheus.yml'}",
             f"{storage}={folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             *(["--enable-feature=agent"] if agent else []), *flags],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=folder)
        self.http = httpx.Client(base_url=self.url, timeout=10, verify=verify, auth=auth)
        self.wait_until(self._ready, 30, "ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {self.logs()[-3000:]}")
        try:
            return self.http.get("/-/ready").status_code == 200
        except httpx.TransportError:
            return False

    def logs(self) -> str:
        return (self.folder / "prometheus.log").read_text()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant query's result; an error status raises with Prometheus's own words."""
        reply = self.http.get("/api/v1/query", params={"query": expr}).json()
        if reply["status"] != "success":
            raise AssertionError(f"{expr}: {reply.get('errorType')}: {reply.get('error')}")
        return reply["data"]["result"]

    def alerts(self, state: str = "firing") -> list[dict[str, Any]]:
        alerts = self.http.get("/api/v1/alerts").json()["data"]["alerts"]
        return [alert for alert in alerts if alert["state"] == state]

    def firing(self) -> set[str]:
        return {alert["labels"]["alertname"] for alert in self.alerts()}

    def targets_up(self) -> int:
        active = self.http.get("/api/v1/targets").json()["data"]["activeTargets"]
        return sum(1 for target in active if target["health"] == "up")

    def wait_until(self, predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.2)
        raise TimeoutError(f"prometheus: not {what} within {timeout_s:g} s")

    def close(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- a remote-write request by hand: what an agent sends, with timestamps of our choosing ---


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:  # a length-delimited protobuf field
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """prometheus.WriteRequest (prompb/remote.proto, types.proto) for `series`: each its
    labels and (timestamp in ms, value) samples; snappy-framed as the receiver requires,
    in literal blocks only (valid snappy, no compression needed)."""
    import struct

    body = b""
    for labels, samples in series:
        encoded = b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode()))
                           for k, v in sorted(labels.items()))
        for ms, value in samples:
            sample = b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(ms)
            encoded += _field(2, sample)
        body += _field(1, encoded)
    framed = _varint(len(body))
    for start in range(0, len(body), 60):  # literal elements of up to 60 bytes
        chunk = body[start:start + 60]
        framed += bytes([(len(chunk) - 1) << 2]) + chunk
    return framed
