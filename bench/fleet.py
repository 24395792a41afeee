"""The centre's cost for a fleet, and the agent's cost on a kiosk: a real Prometheus with every
rule loaded, K real `kiosk run` processes each shipping through its own Prometheus agent, and
N simulated kiosks built from the kiosk's own metrics classes, on loopback only.

    .venv/bin/python bench/fleet.py [--kiosks 2] [--simulated 100 1000] [--seconds 90]

- Real kiosks: `kiosk run` (stdin source, the Diia sandbox in this process, metrics on), a
  code every ~2 s each; each scraped by a Prometheus in agent mode (deploy/fleet's agent
  settings: 15 s scrapes, external labels, compressed WAL) remote-writing to the centre.
- Simulated kiosks: `kiosk.ops.metrics.Metrics` registries (no process collector: one
  process), fed verdicts, frames and Diia exchanges, served from one HTTP server in this
  process at /kiosk/<n>/metrics and scraped by the centre directly with the fleet labels
  (the same series an agent would forward).
- The centre: `prometheus` with the remote-write receiver and deploy/fleet's recording and
  alert rules (evaluated every 15 s here, 1 m in the fleet: a harsher load).
- One more agent writes to a closed port (the centre unreachable): its WAL's growth is
  what a day offline costs the SD card.

For each N, after a warm-up, over `--seconds`: series in the centre's head, its CPU (cores)
and RSS, rule group evaluation time, mean scrape duration; the agents' CPU and RSS per kiosk;
the ratio of each figure at the largest N to the smallest (same run, same machine).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.diia.client import Exchange
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import CodeKind, Reason, Verdict
from kiosk.ops.metrics import Metrics
from tests.kiosk_process import RunningKiosk, free_port
from tests.prometheus import Prometheus, short_rules

TICK = os.sysconf("SC_CLK_TCK")
SCRAPE = "15s"
REASONS = [Reason.VALID] * 70 + [Reason.UNDERAGE] * 10 + [Reason.EXPIRED] * 8 + \
          [Reason.USED] * 4 + [Reason.TIMEOUT] * 5 + [Reason.DIIA_UNAVAILABLE] * 3


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Simulated:
    """N kiosks' registries behind one HTTP server; `feed()` adds a moment of activity."""

    def __init__(self, count: int, seed: int = 23) -> None:
        self.rng = random.Random(seed)
        self.kiosks = [Metrics(process=False) for _ in range(count)]
        for n, metrics in enumerate(self.kiosks):
            metrics.config_version.set(8 if n % 10 else 7)
            metrics.clock_trusted.set(1)
        kiosks = self.kiosks

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # /kiosk/<n>/metrics
                parts = self.path.split("/")
                body = generate_latest(kiosks[int(parts[2])].registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed(self) -> None:
        for metrics in self.kiosks:
            for _ in range(self.rng.randint(10, 15)):
                metrics.observe_frame(self.rng.uniform(0.004, 0.02))
            if self.rng.random() < 0.2:
                reason = self.rng.choice(REASONS)
                diia = self.rng.lognormvariate(-1.8, 0.4) * 1000
                metrics.observe_verdict(Verdict(reason, "age", CodeKind.BARCODE, "0" * 8,
                                                False, ms={"decode": 5.0, "diia": diia,
                                                           "total": diia + 20}))
                metrics.observe_exchange(Exchange("age", 200, diia, False))

    def targets(self, store_size: int = 4) -> list[dict[str, Any]]:
        return [{"targets": [f"127.0.0.1:{self.port}"],
                 "labels": {"__metrics_path__": f"/kiosk/{n}/metrics",
                            "store": f"sim-{n // store_size:04d}", "kiosk": f"sim-{n:04d}",
                            "region": f"region-{n % 24:02d}"}}
                for n in range(len(self.kiosks))]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def agent_config(kiosk_port: int, write_url: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"global": {"scrape_interval": SCRAPE, "external_labels": labels},
            "scrape_configs": [{"job_name": "kiosk", "static_configs": [
                {"targets": [f"127.0.0.1:{kiosk_port}"]}]}],
            "remote_write": [{"url": write_url}]}


def centre_config(rules: list[Path], simulated: Simulated | None, port: int) -> dict[str, Any]:
    jobs: list[dict[str, Any]] = [{"job_name": "centre", "static_configs": [
        {"targets": [f"127.0.0.1:{port}"]}]}]
    if simulated is not None:
        jobs.append({"job_name": "kiosk", "static_configs": simulated.targets()})
    return {"global": {"scrape_interval": SCRAPE, "evaluation_interval": SCRAPE},
            "rule_files": [str(path) for path in rules], "scrape_configs": jobs}


def own_metrics(prometheus: Prometheus) -> dict[str, float]:
    """The centre's own numbers, from its /metrics (summed over label sets)."""
    text = httpx.get(f"{prometheus.url}/metrics", timeout=10).text
    wanted = {"prometheus_tsdb_head_series", "prometheus_rule_group_last_duration_seconds"}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                out[sample.name] = out.get(sample.name, 0.0) + sample.value
    return out


def measure(centre: Prometheus, agents: list[Prometheus], simulated: Simulated | None,
            seconds: float, feed: threading.Event) -> dict[str, float]:
    centre_pid, agent_pids = centre.process.pid, [a.process.pid for a in agents]
    cpu0, agents0 = cpu_seconds(centre_pid), [cpu_seconds(p) for p in agent_pids]
    started = time.monotonic()
    durations = []
    while time.monotonic() - started < seconds:
        if simulated is not None and feed.is_set():
            simulated.feed()
        time.sleep(1.0)
        durations.append(own_metrics(centre)["prometheus_rule_group_last_duration_seconds"])
    elapsed = time.monotonic() - started
    scrape = centre.query('avg(scrape_duration_seconds{job="kiosk"})')
    return {
        "series": own_metrics(centre)["prometheus_tsdb_head_series"],
        "centre_cores": (cpu_seconds(centre_pid) - cpu0) / elapsed,
        "centre_rss_mb": rss_mb(centre_pid),
        "rules_ms": 1000 * statistics.median(durations),
        "rules_max_ms": 1000 * max(durations),
        "scrape_ms": 1000 * float(scrape[0]["value"][1]) if scrape else float("nan"),
        "agent_cores": sum(cpu_seconds(p) - c for p, c in zip(agent_pids, agents0, strict=True))
        / elapsed / max(1, len(agents)),
        "agent_rss_mb": sum(rss_mb(p) for p in agent_pids) / max(1, len(agents)),
    }


def wal_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in (folder / "data").rglob("*") if f.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kiosks", type=int, default=2, help="real kiosk run processes")
    parser.add_argument("--simulated", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seconds", type=float, default=90.0, help="measured per N")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    rules = short_rules(work / "rules")
    for path in rules:  # every group at the bench's 15 s, as short_rules set 1 s
        path.write_text(path.read_text().replace("interval: 1s", f"interval: {SCRAPE}"))
    results: dict[int, dict[str, float]] = {}
    with DiiaSandbox() as sandbox:
        kiosks = [RunningKiosk(sandbox, work / f"kiosk{k}", metrics_port=free_port())
                  for k in range(args.kiosks)]
        stop = threading.Event()

        def codes() -> None:
            while not stop.wait(2.0):
                for kiosk in kiosks:
                    kiosk.scan(sandbox.mint(random.choice(["valid", "valid", "expired"])))

        threading.Thread(target=codes, daemon=True).start()
        offline = None
        try:
            for n in args.simulated:
                simulated = Simulated(n)
                port = free_port()
                centre = Prometheus(work / f"centre-{n}", centre_config(rules, simulated, port),
                                    "--web.enable-remote-write-receiver", port=port)
                write = f"{centre.url}/api/v1/write"
                agents = [Prometheus(work / f"agent-{n}-{k}", agent_config(
                    kiosk.metrics_port, write,
                    {"store": "real-0001", "kiosk": f"real-{k}", "region": "kyiv"}),
                    "--storage.agent.wal-compression", agent=True)
                    for k, kiosk in enumerate(kiosks)]
                if offline is None:
                    offline = Prometheus(work / "agent-offline", agent_config(
                        kiosks[0].metrics_port, f"http://127.0.0.1:{free_port()}/api/v1/write",
                        {"store": "off-0001", "kiosk": "off-0", "region": "kyiv"}),
                        "--storage.agent.wal-compression", agent=True)
                    offline_started, offline_bytes0 = time.monotonic(), wal_bytes(offline.folder)
                feed = threading.Event()
                feed.set()
                centre.wait_until(lambda c=centre, n=n: c.targets_up() >= n, 120,
                                  f"scraping {n} simulated kiosks")
                time.sleep(20)  # warm-up: two scrape rounds, the rules' first evaluations
                results[n] = measure(centre, agents, simulated, args.seconds, feed)
                groups = centre.http.get("/api/v1/rules").json()["data"]["groups"]
                slowest = sorted(((rule["evaluationTime"], rule["name"]) for group in groups
                                  for rule in group["rules"]), reverse=True)[:3]
                print(f"N={n}: slowest rules: " + ", ".join(
                    f"{name} {1000 * seconds:.0f} ms" for seconds, name in slowest), flush=True)
                received = centre.query('count(kiosk_build_info{store="real-0001"})')
                results[n]["real_received"] = float(received[0]["value"][1]) if received else 0
                for agent in agents:
                    agent.close()
                centre.close()
                simulated.close()
                print(f"N={n}: " + ", ".join(f"{k} {v:.3g}" for k, v in results[n].items()),
                      flush=True)
            assert offline is not None
            offline_s = time.monotonic() - offline_started
            wal_growth = wal_bytes(offline.folder) - offline_bytes0
            offline.close()
        finally:
            stop.set()
            for kiosk in kiosks:
                kiosk.stop()
    first, last = args.simulated[0], args.simulated[-1]
    print(f"\n{'':28}" + "".join(f"{'N=' + str(n):>12}" for n in args.simulated)
          + f"{'ratio':>10}")
    labels = {"series": "series in the head", "centre_cores": "centre CPU (cores)",
              "centre_rss_mb": "centre RSS (MB)", "rules_ms": "rule groups (ms, median)",
              "rules_max_ms": "rule groups (ms, max)",
              "scrape_ms": "scrape, mean (ms)", "agent_cores": "agent CPU (cores/kiosk)",
              "agent_rss_mb": "agent RSS (MB/kiosk)",
              "real_received": "real kiosks at the centre"}
    for key, label in labels.items():
        row = [results[n][key] for n in args.simulated]
        ratio = row[-1] / row[0] if row[0] else float("nan")
        print(f"{label:28}" + "".join(f"{v:12.4g}" for v in row) + f"{ratio:10.2f}")
    per_day = wal_growth / offline_s * 86400 / 1e6
    print(f"\nagent WAL, centre unreachable: {wal_growth / 1e3:.0f} kB in {offline_s:.0f} s "
          f"= {per_day:.1f} MB a day (one kiosk, {SCRAPE} scrapes, compressed)")
    print(f"N={first}..{last}, {args.kiosks} real kiosks, {args.seconds:g} s each, "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
