"""`kiosk run` and `kiosk decode` as a user runs them, fed input that used to stop them: an
invalid byte on stdin, an absurd image in the folder, an idle connection on the metrics
port at the moment the input ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from kiosk.decoding import code_images
from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_config import write_kiosk_config


def run(args: list[str], sandbox: DiiaSandbox | None = None, stdin: bytes | None = None,
        **popen: object) -> subprocess.Popen:
    # A Pi's en_GB.UTF-8 locale gives stdin strict UTF-8; C.UTF-8 (all this machine may
    # have) would give surrogateescape: PYTHONIOENCODING makes it the Pi's.
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"}
    if sandbox is not None:
        env |= {"KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
                "KIOSK_DIIA_AUTH_TOKEN": sandbox.credentials.auth_token}
    return subprocess.Popen([sys.executable, "-m", "kiosk", *args], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **popen)  # type: ignore[call-overload]


def verdicts(stdout: bytes) -> list[tuple[str, str]]:
    lines = [json.loads(x) for x in stdout.decode().splitlines() if x.startswith("{")]
    return [(e["outcome"], e["reason"]) for e in lines if e.get("event") == "verdict"]


def test_an_invalid_byte_on_stdin_loses_no_code_and_does_not_stop_the_run(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    first, second = sandbox.mint("valid"), sandbox.mint("expired")
    path = write_kiosk_config(tmp_path / "k.toml", sandbox, attended=None)
    proc = run(["run", "--config", str(path)], sandbox)
    out, err = proc.communicate(f"{first}\n".encode() + b"\xff\xc3(\x80\n" + f"{second}\n".encode(),
                                timeout=60)
    assert proc.returncode == 0, err.decode()
    assert verdicts(out) == [("pass", "valid"), ("fail", "expired")]
    assert b"Traceback" not in err and b"UnicodeDecodeError" not in err


def test_an_absurd_image_is_skipped_by_run_and_named_by_decode(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    folder = tmp_path / "codes"
    folder.mkdir()
    Image.new("L", (1, 200_000), 255).save(folder / "a-strip.png")
    Image.new("L", (70_000, 2), 0).save(folder / "b-band.png")
    (folder / "c-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    code_images.render_ean13(sandbox.mint("valid")).save(folder / "d-code.png")

    decode = run(["decode", str(folder)])
    out, err = decode.communicate(timeout=60)
    assert decode.returncode == 0, err.decode()
    lines = [json.loads(x) for x in out.decode().splitlines()]
    assert [Path(x["path"]).name for x in lines] == [
        "a-strip.png", "b-band.png", "c-broken.png", "d-code.png"]
    assert all("error" in x for x in lines[:3])
    assert len(lines[3]["codes"]) == 1
    assert b"1x200000" in err and b"Traceback" not in err

    path = write_kiosk_config(tmp_path / "k.toml", sandbox, attended=None, source="images",
                              source_path=folder)
    proc = run(["run", "--config", str(path)], sandbox)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert verdicts(out) == [("pass", "valid")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_idle_metrics_connection_neither_stalls_a_scrape_nor_the_exit(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    port = free_port()
    path = write_kiosk_config(tmp_path / "k.toml", sandbox, attended=None, metrics_port=port)
    proc = run(["run", "--config", str(path)], sandbox)
    idle = socket.socket()
    try:
        deadline = time.monotonic() + 20
        while True:  # wait for the endpoint
            try:
                idle.connect(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "metrics endpoint never came up"
                time.sleep(0.05)
        idle.sendall(b"GET /metr")  # half a request line, then nothing
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as scrape:
            scrape.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = b"".join(iter(lambda: scrape.recv(65536), b""))
        assert reply.startswith(b"HTTP/1.0 200") and b"kiosk_build_info" in reply
        assert time.monotonic() - started < 1.0
        proc.stdin.write(f"{sandbox.mint('valid')}\n".encode())
        proc.stdin.close()  # end of input, the idle client still connected
        ended = time.monotonic()
        proc.wait(timeout=30)
        exit_s = time.monotonic() - ended
        print(f"exit after end of input, an idle metrics client connected: {exit_s:.2f} s")
    finally:
        idle.close()
        if proc.poll() is None:
            proc.kill()
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, err.decode()
    assert verdicts(out) == [("pass", "valid")]
    assert exit_s < 3.0, f"exit took {exit_s:.1f} s with an idle metrics client"


def test_a_frame_the_decoder_cannot_take_is_read_as_empty_and_the_next_is_decoded(
    caplog,
) -> None:
    """Frames from any source, not only image files: a decoder that raises on one frame
    (zxing-cpp refuses a side over 65535) costs that frame, logged once, not the run."""
    import numpy as np

    from kiosk.app import frame_readings
    from kiosk.model import Code, CodeKind, Frame

    code = Code("3559217693026", CodeKind.BARCODE, "QRCode")

    class Picky:
        def decode(self, frame: Frame) -> list[Code]:
            if frame.pixels.shape[1] > 65535:
                raise ValueError("Maximum image width/height is 65535")
            return [code]

    class Frames:
        def frames(self):
            for width in (70_000, 70_000, 10, 10):
                yield Frame(np.zeros((1, width), np.uint8), 0.0)

    readings = list(frame_readings(Frames(), Picky()))
    assert [r.seen for r in readings] == [[], [], [code], [code]]
    assert caplog.text.count("decoder failed on a 70000x1 frame") == 1
