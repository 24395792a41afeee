"""The till's API on a running `kiosk run`: what it adds to RSS and to start → READY, and
arm → verdict latency against the Diia sandbox, as a till sees it.

    python bench/api_latency.py [--checks 200] [--idle-s 10]

Start → READY is from spawning `kiosk run` (codes on stdin) until it logs that it is running
(after the API is bound), with and without `[api] listen`; RSS is the process's VmRSS after
the first verdict. Arm → verdict: POST /v1/checks, type a fresh sandbox code on the kiosk's
stdin, then the verdict event read from GET /v1/events; the code's typing is included, as the
scanner's would be. Ratios are against the same kiosk without the API, measured in this run.
Idle wake-ups: voluntary context switches a second of an idle kiosk's loop thread (and of
all its threads), read from /proc.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_config import write_kiosk_config
from tests.kiosk_process import EventReader, RunningKiosk, free_port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_to_ready(sandbox: DiiaSandbox, folder: Path, api: bool) -> tuple[float, int]:
    """Seconds from spawn to the "running" log line, and RSS (KiB) after one verdict."""
    folder.mkdir(parents=True, exist_ok=True)
    listen = f"127.0.0.1:{free_port()}" if api else None
    config = write_kiosk_config(folder / "kiosk.toml", sandbox, state_dir=folder / "state",
                                listen=listen)
    env = {**os.environ, "KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
           "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None and process.stdin is not None
    assert process.stdout is not None
    for line in process.stderr:
        if " running: mode " in line:
            break
    ready_s = time.perf_counter() - started
    process.stdin.write(sandbox.mint("valid") + "\n")
    process.stdin.flush()
    process.stdout.readline()  # the verdict: the loop, the client and the API have all run
    rss = rss_kib(process.pid)
    process.stdin.close()
    process.wait(timeout=20)
    return ready_s, rss


def arm_to_verdict(sandbox: DiiaSandbox, folder: Path, checks: int) -> list[float]:
    with RunningKiosk(sandbox, folder) as kiosk:
        stream = EventReader(kiosk.url)
        times = []
        for _ in range(checks):
            code = sandbox.mint("valid")
            started = time.perf_counter()
            check = kiosk.arm(mode="validate")
            kiosk.scan(code)
            stream.wait_for(lambda e, i=check["id"]: e.get("id") == i
                            and e["event"] == "verdict")
            times.append((time.perf_counter() - started) * 1000)
        stream.close()
    return times


def switches(pid: int, tid: int) -> int:
    """Voluntary context switches of thread `tid`: each is one wake-up after a wait."""
    for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def idle_wakeups(sandbox: DiiaSandbox, folder: Path, seconds: float) -> tuple[float, float]:
    """Wake-ups a second of an idle `kiosk run` (codes on stdin, no screen, the API on): its
    loop's thread, and all its threads together."""
    with RunningKiosk(sandbox, folder) as kiosk:
        pid = kiosk.process.pid
        time.sleep(1.0)  # past the start and the warm-up
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        before = {t: switches(pid, t) for t in tids}
        time.sleep(seconds)
        after = {t: switches(pid, t) for t in tids}
    loop = (after[pid] - before[pid]) / seconds
    total = sum(after[t] - before[t] for t in tids) / seconds
    return loop, total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    with DiiaSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        runs: dict[bool, list[tuple[float, int]]] = {False: [], True: []}
        for n in range(args.starts):
            for api in (False, True):  # interleaved, so machine load hits both alike
                runs[api].append(start_to_ready(sandbox, Path(tmp) / f"s{n}{api}", api))
        ready = {api: statistics.median(r for r, _ in rs) for api, rs in runs.items()}
        rss = {api: statistics.median(m for _, m in rs) for api, rs in runs.items()}
        print(f"start → READY: {ready[False] * 1000:.0f} ms without the API, "
              f"{ready[True] * 1000:.0f} ms with it ({(ready[True] - ready[False]) * 1000:+.0f} ms,"
              f" x{ready[True] / ready[False]:.2f}; median of {args.starts})")
        print(f"RSS after the first verdict: {rss[False] / 1024:.1f} MiB without the API, "
              f"{rss[True] / 1024:.1f} MiB with it ({(rss[True] - rss[False]) / 1024:+.1f} MiB)")
        times = arm_to_verdict(sandbox, Path(tmp) / "latency", args.checks)
        server = [r.server_ms for r in sandbox.requests if "/auth/" not in r.path]
        print(f"arm → verdict over the API ({args.checks} checks): "
              f"p50 {percentile(times, 0.5):.1f} ms, p99 {percentile(times, 0.99):.1f} ms, "
              f"max {max(times):.1f} ms (the sandbox's own time p50 "
              f"{percentile(server, 0.5):.1f} ms)")
        loop, total = idle_wakeups(sandbox, Path(tmp) / "idle", args.idle_s)
        print(f"idle wake-ups a second ({args.idle_s:g} s, no camera, no screen): the loop's "
              f"thread {loop:.1f}, the whole process {total:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
