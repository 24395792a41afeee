"""Verdict time and peak memory of the Diia client against a hostile Diia, at a real deadline.

    .venv/bin/python bench/hostile.py [--deadline 3.0] [--trickle 0.1]

Each check runs in a fresh process (so its peak resident size, VmHWM, is the client's own)
against the raw-socket server of `tests/adversarial/hostile.py` on loopback: trickled head, trickled
body, trickled TLS records, a resolver that never answers, a declared 500 MB answer, an
endless answer, a gzip bomb (1 GB inside). The baseline is the same client on httpx's stock
transport, measured in the same run where that is safe to do (the trickles; a 20 MB answer
instead of 500 MB). The goal (SECURITY.md): every verdict within deadline + 0.5 s, never a
pass, peak RSS < 150 MB. The exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_MARGIN_S = 0.5
GOAL_PEAK_MB = 150


def peak_mb() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) // 1024 if match else -1


def check_once(url: str, ca_file: str, hang_dns: bool, stock: bool,
               deadline: float) -> dict[str, object]:
    """In this (fresh) process: one validation at `url`; its verdict, time and peak."""
    import threading

    import httpx

    from kiosk.config import Credentials
    from kiosk.diia.client import DiiaClient
    from kiosk.diia.errors import DiiaError
    from kiosk.model import Code, CodeKind

    never = threading.Event()
    kwargs: dict[str, object] = {"timeout_s": deadline, "ca_file": ca_file,
                                 "resolver": (lambda h, p: never.wait(3600) or []) if hang_dns
                                 else (lambda h, p: ["127.0.0.1"])}
    if stock:
        kwargs["transport"] = httpx.HTTPTransport()
    client = DiiaClient(url, Credentials("acq-bench", "auth-bench"), "b",
                        **kwargs)  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        answer = client.validate(Code("3559217693026", CodeKind.BARCODE, "typed"))
        verdict = "pass" if answer else "fail"
    except DiiaError as error:
        verdict = error.reason
    seconds = time.monotonic() - started
    client.close()
    return {"verdict": verdict, "seconds": seconds, "peak_mb": peak_mb()}


def hostile_server(attack: str, trickle_s: float, folder: Path) -> tuple[object, str, str]:
    """The server for `attack` (not started), the URL to give the client, and its CA file."""
    import gzip

    from tests.adversarial.hostile import HostileServer, response, tls_files

    valid = response(200, {"success": True})
    stop = threading.Event()
    tls, ca_file = None, ""

    def trickle(data: bytes):
        return lambda peer, request: peer.trickle(data, trickle_s, stop)

    def endless(head: bytes):
        def behaviour(peer, request):
            peer.send(head)
            block = b" " * 65536
            try:
                while not stop.is_set():
                    peer.sock.sendall(block)
            except OSError:
                return
        return behaviour

    def send(data: bytes):
        return lambda peer, request: peer.send(data)

    if attack == "trickled head":
        behaviour = trickle(valid)
    elif attack == "trickled body":
        head, _, body = response(200, b'{"success": true}' + b" " * 60).partition(b"\r\n\r\n")

        def behaviour(peer, request):
            peer.send(head + b"\r\n\r\n")
            peer.trickle(body, trickle_s, stop)
    elif attack == "trickled TLS records":
        ca, tls = tls_files(folder, "diia.test")
        ca_file, behaviour = str(ca), trickle(valid)
    elif attack == "resolver never answers":
        behaviour = send(valid)
    elif attack == "declared 500 MB":
        behaviour = endless(b"HTTP/1.1 200 OK\r\nContent-Length: 500000000\r\n\r\n")
    elif attack == "endless answer":
        behaviour = endless(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    elif attack == "20 MB answer":
        behaviour = send(response(200, b'{"success": true, "pad": "' + b"x" * 20_000_000
                                  + b'"}'))
    elif attack == "gzip bomb, 1 GB inside":
        bomb = gzip.compress(bytes(1 << 20), 9) * 1000
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(bomb)}"
        behaviour = send(head.encode() + b"\r\n\r\n" + bomb)
    else:
        raise SystemExit(f"unknown attack {attack!r}")
    server = HostileServer(behaviour, tls=tls)
    server.stop = stop
    named = tls is not None or attack == "resolver never answers"
    url = f"https://diia.test:{server.port}" if named else server.url
    return server, url, ca_file


ATTACKS = ("trickled head", "trickled body", "trickled TLS records", "resolver never answers",
           "declared 500 MB", "endless answer", "gzip bomb, 1 GB inside")
BASELINED = {"trickled head", "trickled body", "20 MB answer"}


def measure(attack: str, stock: bool, deadline: float, trickle_s: float) -> dict[str, object]:
    """The server here, the client in a fresh process: its peak is the client's alone."""
    with tempfile.TemporaryDirectory() as folder:
        server, url, ca_file = hostile_server(attack, trickle_s, Path(folder))
        with server:  # type: ignore[attr-defined]
            done = subprocess.run(
                [sys.executable, __file__, "--one", url, "--ca", ca_file,
                 "--deadline", str(deadline),
                 *(["--hang-dns"] if attack == "resolver never answers" else []),
                 *(["--stock"] if stock else [])],
                capture_output=True, text=True, timeout=600, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=3.0)
    parser.add_argument("--trickle", type=float, default=0.1, help="seconds between bytes")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the client's process: its URL
    parser.add_argument("--ca", default="", help=argparse.SUPPRESS)
    parser.add_argument("--hang-dns", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stock", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(check_once(args.one, args.ca, args.hang_dns, args.stock,
                                    args.deadline)))
        return 0
    print(f"deadline {args.deadline:g} s, trickle one byte every {args.trickle:g} s; "
          f"goal: verdict <= {args.deadline + GOAL_MARGIN_S:g} s, no pass, "
          f"peak RSS < {GOAL_PEAK_MB} MB")
    print(f"  {'attack':<26}{'verdict':<14}{'seconds':>8}{'peak MB':>9}   stock httpx")
    missed = False
    for attack in (*ATTACKS, "20 MB answer"):
        ours = measure(attack, False, args.deadline, args.trickle)
        stock = ""
        if attack in BASELINED:
            base = measure(attack, True, args.deadline, args.trickle)
            stock = f"{base['verdict']}, {base['seconds']:.2f} s, {base['peak_mb']} MB"
        print(f"  {attack:<26}{ours['verdict']:<14}{ours['seconds']:>8.2f}"
              f"{ours['peak_mb']:>9}   {stock}")
        missed |= (ours["verdict"] == "pass"
                   or float(ours["seconds"]) > args.deadline + GOAL_MARGIN_S  # type: ignore[arg-type]
                   or int(ours["peak_mb"]) >= GOAL_PEAK_MB)  # type: ignore[call-overload]
    print("all within the goal" if not missed else "GOAL MISSED")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
