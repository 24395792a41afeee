"""Class 3: answers larger than any real Diia answer are refused at once, compressed or not."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from kiosk.diia.transport import MAX_ANSWER_BYTES
from tests.adversarial.conftest import DEADLINE_S, ask
from tests.adversarial.hostile import HostileServer, Peer, Request, response

BLOCK = b" " * 65536


def endless(head: bytes, block: bytes = BLOCK):
    def behaviour(peer: Peer, request: Request) -> None:
        peer.send(head)
        try:
            while True:
                peer.sock.sendall(block)
        except OSError:
            return
    return behaviour


def peak_bytes_during(run):
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_declared_500_mb_answer_is_refused_before_its_body(make_client):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 500000000\r\n\r\n" + b'{"success": true,"x":"'
    with HostileServer(endless(head)) as server:
        client = make_client(server.url)
        verdict, peak = peak_bytes_during(lambda: ask(client, attack="huge"))
    assert verdict.reason == "bad_response" and "larger" in str(verdict.error)
    assert verdict.seconds < DEADLINE_S / 2
    assert peak < 2_000_000


def test_an_endless_chunked_answer_is_refused_at_the_cap(make_client):
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with HostileServer(endless(head, b"10000\r\n" + BLOCK + b"\r\n")) as server:
        client = make_client(server.url)
        verdict, peak = peak_bytes_during(lambda: ask(client, attack="huge"))
    assert verdict.reason == "bad_response"
    assert verdict.seconds < DEADLINE_S / 2
    assert peak < 2_000_000


def test_an_answer_without_length_that_never_ends_is_refused_at_the_cap(make_client):
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    with HostileServer(endless(head)) as server:
        verdict = ask(make_client(server.url), attack="huge")
    assert verdict.reason == "bad_response" and verdict.seconds < DEADLINE_S / 2


def test_a_valid_answer_padded_past_the_cap_is_no_pass(make_client):
    padded = response(200, {"success": True, "pad": "x" * MAX_ANSWER_BYTES})
    with HostileServer(lambda peer, request: peer.send(padded)) as server:
        verdict = ask(make_client(server.url), attack="huge")
    assert verdict.reason == "bad_response"


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_compression_bomb_under_the_wire_cap_is_refused_decompressed(make_client, coding):
    # 10 MB of a "valid" answer's padding packs into ~10 KiB: under the wire cap.
    plain = b'{"success": true, "pad": "' + b"0" * 10_000_000 + b'"}'
    packed = gzip.compress(plain, 9) if coding == "gzip" else zlib.compress(plain, 9)
    assert len(packed) < MAX_ANSWER_BYTES
    bomb = response(200, packed, headers={"Content-Encoding": coding})
    with HostileServer(lambda peer, request: peer.send(bomb)) as server:
        client = make_client(server.url)
        verdict, peak = peak_bytes_during(lambda: ask(client, attack="huge"))
    assert verdict.reason == "bad_response" and verdict.seconds < DEADLINE_S / 2
    assert peak < 2_000_000


def test_a_large_gzip_bomb_is_refused_on_the_wire(make_client):
    packer, zeros = zlib.compressobj(1, wbits=31), bytes(1 << 20)  # gzip, built piecewise
    packed = b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()
    assert len(packed) > MAX_ANSWER_BYTES  # 200 MB inside, ~200 KiB on the wire
    bomb = response(200, packed, headers={"Content-Encoding": "gzip"})
    with HostileServer(lambda peer, request: peer.send(bomb)) as server:
        verdict = ask(make_client(server.url), attack="huge")
    assert verdict.reason == "bad_response" and verdict.seconds < DEADLINE_S / 2


def test_a_small_compressed_answer_is_read(make_client):
    packed = response(200, gzip.compress(b'{"success": false}'),
                      headers={"Content-Encoding": "gzip"})
    with HostileServer(lambda peer, request: peer.send(packed)) as server:
        assert ask(make_client(server.url)).reason == "fail"


@pytest.mark.parametrize("coding", ["br", "zstd", "gzip, compress"])
def test_an_unknown_content_coding_is_no_answer(make_client, coding):
    odd = response(200, b'{"success": true}', headers={"Content-Encoding": coding})
    with HostileServer(lambda peer, request: peer.send(odd)) as server:
        assert ask(make_client(server.url)).reason == "bad_response"


def test_a_truncated_gzip_answer_is_no_answer(make_client):
    cut = response(200, gzip.compress(b'{"success": true}')[:-6],
                   headers={"Content-Encoding": "gzip"})
    with HostileServer(lambda peer, request: peer.send(cut)) as server:
        assert ask(make_client(server.url)).reason == "bad_response"


RSS_PROBE = r"""
import gzip, re, zlib
from pathlib import Path
from tests.adversarial.conftest import CREDENTIALS, code
from tests.adversarial.hostile import HostileServer
from tests.adversarial.test_size import BLOCK, endless
from kiosk.diia.client import DiiaClient
from kiosk.diia.errors import DiiaError

def peak_mb():
    # VmHWM belongs to this process's own memory map. ru_maxrss would not do: Linux carries the
    # parent's high-water mark across the exec of a vfork'd child, so it reports pytest's peak.
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) // 1024


start_mb = peak_mb()
bomb = gzip.compress(bytes(1 << 20), 9) * 1000  # ~1 MB on the wire, 1 GB inside (members)
packer = zlib.compressobj(9, wbits=31)
small_bomb = packer.compress(b'{"success": true, "pad": "') + b"".join(
    packer.compress(bytes(1 << 20)) for _ in range(30)) + packer.flush()  # 30 MB inside
heads = [
    endless(b"HTTP/1.1 200 OK\r\nContent-Length: 500000000\r\n\r\n"),
    endless(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
    endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"10000\r\n" + BLOCK + b"\r\n"),
]
for body in (bomb, small_bomb):
    head = (f"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode())
    heads.append(lambda peer, request, data=head + body: peer.send(data))
passes = 0
for behaviour in heads:
    with HostileServer(behaviour) as server:
        client = DiiaClient(server.url, CREDENTIALS, "b", timeout_s=3.0)
        for _ in range(3):
            try:
                passes += client.validate(code()) is True
            except DiiaError:
                pass
        client.close()
print(passes, start_mb, peak_mb())
"""


def test_peak_rss_under_huge_answers_stays_small():
    # A fresh process, so its peak resident size is the client's (and this server's) alone.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", RSS_PROBE], cwd=root, capture_output=True,
                          text=True, timeout=60, check=True)
    passes, start_mb, peak_mb = map(int, done.stdout.split())
    assert passes == 0
    assert peak_mb < 150, f"peak RSS {peak_mb} MB"
    print(f"peak RSS under huge answers: {peak_mb} MB (after imports: {start_mb} MB)")
