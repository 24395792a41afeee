"""How long a kiosk takes to notice a frozen repository, and what a refresh costs.

A mirror that keeps serving the files a kiosk already has looks like "nothing new" until the
timestamp's expiry passes; the next refresh after that refuses it ("expired"). So the delay
from the expiry to the refusal is at most one poll interval plus one refresh. This runs the
kiosk's real poller (its own thread, its own interval) against a repository made by the
fleet tool and served on loopback, with a short expiry and interval, and prints each delay
as a fraction of the interval (the bound is 1.0 + a refresh), and a refresh's time when
nothing changed against the first one (which fetches everything).

    .venv/bin/python bench/remote_freeze.py [--runs 5] [--interval 0.5] [--expiry 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.config import RemoteSection
from kiosk.ops.remote_config import ConfigStore, RemoteConfigPoller
from kiosk.ops.tuf_client import layer_paths
from tests.fleet_repo import ServedRepository


def one_run(folder: Path, interval_s: float, expiry_s: float) -> tuple[float, float, float]:
    """(delay after expiry in s, first refresh s, an unchanged refresh s)."""
    served = ServedRepository(folder / "fleet")
    try:
        served.publish("fleet.toml", "[kiosk]\nmin_age = 21\n")
        served.publish("kiosks/k1.toml", "[kiosk]\nresult_seconds = 2\n")
        settings = RemoteSection(url=served.url, interval_s=interval_s, timeout_s=5.0,
                                 allow_http_loopback=True)
        store = ConfigStore(folder / "state", served.root_file.read_bytes())
        probe = RemoteConfigPoller(settings, {}, store, paths=layer_paths("k1", "s1"),
                                   running=lambda: None)
        started = time.perf_counter()
        candidate = probe.fetch_once()
        first = time.perf_counter() - started
        assert candidate is not None
        started = time.perf_counter()
        probe.fetch_once()
        unchanged = time.perf_counter() - started
        served.repo.renew_timestamp(expires=timedelta(seconds=expiry_s))
        expires = served.repo.timestamp().signed.expires.timestamp()
        frozen = served.files()  # from now on the mirror serves exactly these
        served.replace.update(frozen)
        poller = RemoteConfigPoller(settings, {}, store, paths=layer_paths("k1", "s1"),
                                    running=lambda: candidate.remote)
        poller.start()
        try:
            while poller.last_rejection != "expired":
                time.sleep(0.005)
            noticed = time.time()
        finally:
            poller.close()
        return noticed - expires, first, unchanged
    finally:
        served.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.5, help="poll interval, s")
    parser.add_argument("--expiry", type=float, default=1.0, help="timestamp expiry, s")
    args = parser.parse_args()
    delays, firsts, unchanged = [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            delay, first, same = one_run(Path(folder), args.interval, args.expiry)
        delays.append(delay)
        firsts.append(first)
        unchanged.append(same)
    ratios = [d / args.interval for d in delays]
    print(f"freeze noticed after expiry: {', '.join(f'{d:.3f}' for d in delays)} s "
          f"(interval {args.interval} s, expiry {args.expiry} s)")
    print(f"  as a fraction of the interval: max {max(ratios):.2f}, median "
          f"{statistics.median(ratios):.2f} (bound: 1.0 + one refresh)")
    print(f"refresh: first {statistics.median(firsts) * 1000:.1f} ms, unchanged "
          f"{statistics.median(unchanged) * 1000:.1f} ms "
          f"(ratio {statistics.median(unchanged) / statistics.median(firsts):.2f})")


if __name__ == "__main__":
    main()
