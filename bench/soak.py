"""Soak: thousands of scans through the whole loop, watching for anything that grows.

    .venv/bin/python bench/soak.py                 # 10,000 scans (about 10 minutes here)
    .venv/bin/python bench/soak.py --scans 300     # the short variant CI runs as a test

Each scan is a code image rendered as the Diia app shows it (EAN-13, Code 128 or QR; some
product barcodes and empty frames among them), held for two frames in front of the real
decoder, checked against the Diia sandbox (a separate process, so only the kiosk's own
memory is measured) with its faults mixed in (5xx, dropped and reset connections, malformed
and slow answers, lost answers; expired, used, not valid and under-age codes), and shown on
the real outputs: gpiozero's mock LEDs and buzzer, pygame on SDL's dummy driver, JSON events
to a file, the audit log, the metrics (scraped over HTTP every 500 scans). This is `kiosk run`
wired as it is (`Operations.start`, `bootstrap`, `attach`), only the frames come from here.

Resident memory, open file descriptors, threads and live Python objects are sampled at the
start, after a warm-up (caches, fonts, the allocator's arenas settle in the first scans),
and at the end, each time at the same point of a scan. Growth from the warm-up to the end of
more than 5 % in memory, descriptors or threads is a failure (exit 1). Verdict counts come
from the kiosk's own metrics; a pass for a code that was not minted valid, without fault and
old enough is a failure too.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GROWTH_LIMIT = 0.05
HOLD_FRAMES = 2
MIN_AGE = 18
SCRAPE_EVERY = 500
MINT_BATCH = 50  # codes live 3 minutes: minted shortly before they are shown

# What each scan shows: (weight, state, fault). State None: no Diia code in the frame.
PLAN = [
    (40, "valid", None), (6, "not_valid", None), (5, "expired", None), (5, "used", None),
    (3, "valid", "unavailable"), (3, "valid", "status:502"), (3, "valid", "drop"),
    (3, "valid", "reset"), (3, "valid", "malformed"), (3, "valid", "slow:0.05"),
    (3, "valid", "lose"), (4, "product", None), (4, "blank", None),
]
KINDS = [(60, "ean13"), (20, "code128"), (20, "qr")]


# --- the Diia sandbox, in a process of its own ---------------------------------------------


def _sandbox_process(conn: Connection) -> None:
    from kiosk.diia.sandbox import DiiaSandbox

    with DiiaSandbox() as sandbox:
        creds = sandbox.credentials
        conn.send((sandbox.base_url, sandbox.branch_id, creds.acquirer_token, creds.auth_token))
        while (batch := conn.recv()) is not None:
            conn.send([sandbox.mint(state, age=age, kind=kind, fault=fault)
                       for state, age, kind, fault in batch])


class SandboxProcess:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_sandbox_process, args=(child,), daemon=True)
        self._process.start()
        self.base_url, self.branch_id, self.acquirer, self.auth = self._conn.recv()

    def mint(self, batch: list[tuple[str, int, str, str | None]]) -> list[str]:
        self._conn.send(batch)
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(None)
        self._process.join(10)


# --- what the process holds ------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    at_scan: int
    rss_kib: int
    fds: int
    threads: int
    objects: int

    @classmethod
    def now(cls, at_scan: int) -> Sample:
        status = Path("/proc/self/status").read_text()
        rss = int(next(line.split()[1] for line in status.splitlines()
                       if line.startswith("VmRSS:")))
        gc.collect()
        return cls(at_scan, rss, len(os.listdir("/proc/self/fd")),
                   len(os.listdir("/proc/self/task")), len(gc.get_objects()))


# --- the scans -----------------------------------------------------------------------------


@dataclass
class Scan:
    state: str
    fault: str | None
    kind: str
    age: int
    text: str = ""

    @property
    def may_pass(self) -> bool:
        return self.state == "valid" and self.fault in (None, "slow:0.05") and self.age >= MIN_AGE


def plan_scans(count: int, seed: int) -> list[Scan]:
    rng = random.Random(seed)
    weights, rows = zip(*[(w, (s, f)) for w, s, f in PLAN], strict=True)
    kind_weights, kinds = zip(*KINDS, strict=True)
    scans = []
    for _ in range(count):
        state, fault = rng.choices(rows, weights)[0]
        kind = rng.choices(kinds, kind_weights)[0]
        scans.append(Scan(state, fault, kind, rng.choice([15, 17, 18, 25, 40, 70])))
    return scans


class SoakFrames:
    """A `FrameSource`: each planned scan as rendered frames, minted just in time; samples
    the process at the scans asked for, and scrapes the metrics now and then."""

    def __init__(self, scans: list[Scan], sandbox: SandboxProcess, sample_at: set[int],
                 metrics_port: int) -> None:
        self.scans = scans
        self.scrape_every = max(25, min(SCRAPE_EVERY, len(scans) // 10))
        self.samples: list[Sample] = []
        self.scrapes = 0
        self._sandbox = sandbox
        self._sample_at = sample_at
        self._metrics_port = metrics_port
        self._rng = random.Random(len(scans))

    def frames(self) -> Iterator[Any]:
        from kiosk.model import Frame

        for index, scan in enumerate(self.scans):
            if index % MINT_BATCH == 0:
                self._mint(self.scans[index:index + MINT_BATCH])
            if index in self._sample_at:
                self.samples.append(Sample.now(index))
            if index and index % self.scrape_every == 0:
                self._scrape()
            pixels = self._pixels(scan)
            for _ in range(HOLD_FRAMES):
                yield Frame(pixels, time.monotonic())
            scan.text = ""  # shown: the harness keeps nothing per scan that the kiosk does not
        self.samples.append(Sample.now(len(self.scans)))

    def _mint(self, batch: list[Scan]) -> None:
        diia = [s for s in batch if s.state not in ("product", "blank")]
        texts = self._sandbox.mint([(s.state, s.age, "qr" if s.kind == "qr" else "barcode",
                                     s.fault) for s in diia])
        for scan, text in zip(diia, texts, strict=True):
            scan.text = text

    def _pixels(self, scan: Scan) -> np.ndarray:
        from kiosk.decoding import code_images
        from kiosk.sources.images import _to_gray

        if scan.state == "blank":
            return np.full((480, 640), 235, np.uint8)
        if scan.state == "product":
            image = code_images.product_ean13(f"0{self._rng.randrange(10**10, 10**11)}")
        elif scan.kind == "qr":
            image = code_images.render_qr(scan.text)
        elif scan.kind == "code128":
            image = code_images.render_code128(scan.text)
        else:
            image = code_images.render_ean13(scan.text)
        image = image.resize((image.width // 2, image.height // 2))
        return _to_gray(image)

    def _scrape(self) -> None:
        response = httpx.get(f"http://127.0.0.1:{self._metrics_port}/metrics", timeout=5)
        response.raise_for_status()
        self.scrapes += 1


# --- the run -------------------------------------------------------------------------------


@dataclass
class Report:
    scans: int
    seconds: float
    samples: list[Sample]
    verdicts: dict[str, int]
    may_pass: int
    scrapes: int
    failures: list[str] = field(default_factory=list)

    def growth(self, name: str) -> float:
        warm, end = self.samples[1], self.samples[-1]
        before = getattr(warm, name)
        return (getattr(end, name) - before) / before

    def text(self) -> str:
        lines = [f"{self.scans} scans in {self.seconds:.0f} s "
                 f"({1000 * self.seconds / self.scans:.1f} ms per scan), "
                 f"{self.scrapes} metrics scrapes"]
        lines.append(f"{'':<10}{'scan':>6}{'RSS MiB':>10}{'fds':>6}{'threads':>9}{'objects':>10}")
        for label, s in zip(("start", "warmed", "end"), self.samples, strict=False):
            lines.append(f"{label:<10}{s.at_scan:>6}{s.rss_kib / 1024:>10.1f}{s.fds:>6}"
                         f"{s.threads:>9}{s.objects:>10}")
        lines.append("growth warmed → end: " + ", ".join(
            f"{name} {100 * self.growth(name):+.1f} %"
            for name in ("rss_kib", "fds", "threads", "objects")))
        lines.append("verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(
            self.verdicts.items())))
        lines.append(f"codes that may pass (valid, old enough, no failing fault): "
                     f"{self.may_pass}")
        lines.append("FAILED: " + "; ".join(self.failures) if self.failures else "OK")
        return "\n".join(lines)

    def as_json(self) -> str:
        return json.dumps({
            "scans": self.scans, "seconds": round(self.seconds, 1),
            "samples": [s.__dict__ for s in self.samples], "verdicts": self.verdicts,
            "may_pass": self.may_pass, "scrapes": self.scrapes, "failures": self.failures,
            "growth": {name: round(self.growth(name), 4)
                       for name in ("rss_kib", "fds", "threads", "objects")},
        }, indent=2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(folder: Path, sandbox: SandboxProcess, metrics_port: int) -> Path:
    path = folder / "kiosk.toml"
    path.write_text(f"""
[kiosk]
mode = "age"
min_age = {MIN_AGE}
attended = false
result_seconds = 0
state_dir = "{folder / 'state'}"
[diia]
base_url = "{sandbox.base_url}"
branch_id = "{sandbox.branch_id}"
timeout_s = 1.0
[source]
kind = "images"
path = "{folder}"
hold_frames = {HOLD_FRAMES}
[signals]
gpio = "mock"
screen = "pygame"
events = "{folder / 'events.jsonl'}"
[metrics]
port = {metrics_port}
[clock]
require_sync = false
""")
    return path


def run_soak(scans: int, *, seed: int = 7, warmup: int | None = None) -> Report:
    """`scans` scans through the whole loop; see the module docstring."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    from kiosk.bootstrap import bootstrap
    from kiosk.config import Credentials
    from kiosk.ops.runtime import Operations

    warmup = warmup if warmup is not None else max(50, min(1000, scans // 10))
    plan = plan_scans(scans, seed)
    start = Sample.now(0)
    sandbox = SandboxProcess()
    try:
        with tempfile.TemporaryDirectory(prefix="kiosk-soak-") as tmp:
            folder = Path(tmp)
            port = free_port()
            ops = Operations.start(write_config(folder, sandbox, port), {})
            frames = SoakFrames(plan, sandbox, {warmup}, port)
            appliance = bootstrap(ops.config, credentials=Credentials(sandbox.acquirer,
                                                                      sandbox.auth),
                                  frames=frames, ops=ops)
            ops.attach(appliance)
            started = time.monotonic()
            try:
                appliance.run()
            finally:
                ops.close()
            seconds = time.monotonic() - started
            verdicts = _verdict_counts(ops)
    finally:
        sandbox.close()
    report = Report(scans, seconds, [start, *frames.samples], verdicts,
                    sum(s.may_pass for s in plan), frames.scrapes)
    for name in ("rss_kib", "fds", "threads"):
        if report.growth(name) > GROWTH_LIMIT:
            report.failures.append(f"{name} grew {100 * report.growth(name):.1f} %")
    passes = sum(v for k, v in verdicts.items() if k.startswith("pass/"))
    if passes > report.may_pass:
        report.failures.append(f"{passes} passes for {report.may_pass} codes that may pass")
    return report


def _verdict_counts(ops: Any) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for metric in ops.metrics.registry.collect():
        if metric.name != "kiosk_verdicts":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                counts[f"{sample.labels['outcome']}/{sample.labels['reason']}"] += int(
                    sample.value)
    return dict(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=int, help="scans before the baseline sample "
                        "(default: a tenth of the scans, 50..1000)")
    parser.add_argument("--json", metavar="FILE", help="write the figures here too")
    args = parser.parse_args()
    report = run_soak(args.scans, seed=args.seed, warmup=args.warmup)
    print(report.text())
    if args.json:
        Path(args.json).write_text(report.as_json())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
