"""Image files, fuzzed: real encoders' output, then cut, scribbled on, or given a forged
size in the header. `kiosk decode` prints a decode line or an error line for every file and
exits 0; the `images` source with the real decoder (what `kiosk run` does) never raises."""

from __future__ import annotations

import contextlib
import io
import json
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from kiosk.cli import main
from kiosk.decoding.decode import make_decoder
from kiosk.sources.images import ImageFrames
from tests.fuzz.budget import fuzz_settings, ran

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "WEBP": ".webp", "GIF": ".png",
           "TIFF": ".jpg"}  # a wrong suffix too: files are read by content
MODES = ["L", "RGB", "RGBA", "P", "1", "I;16", "LA", "CMYK"]
DECODER = make_decoder("zxing")


def forge_png_size(raw: bytes, width: int, height: int) -> bytes:
    """The IHDR chunk rewritten to claim another size, its CRC made right again."""
    if raw[:8] != b"\x89PNG\r\n\x1a\n" or raw[12:16] != b"IHDR":
        return raw
    ihdr = b"IHDR" + struct.pack(">II", width, height) + raw[24:29]
    return raw[:8] + raw[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + raw[33:]


@st.composite
def image_files(draw: st.DrawFn) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(MODES))
    width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    if draw(st.integers(0, 4)) == 0:  # a real strip: one side long, past what decoders take
        long_side = draw(st.sampled_from([9_000, 65_535, 65_536, 200_000]))
        width, height = draw(st.permutations([draw(st.integers(1, 2)), long_side]))
        fmt, mode = "PNG", "L"  # the only format here that holds a side that long
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)
    image = Image.fromarray(pixels, "L").convert(mode if mode != "I;16" else "I")
    out = io.BytesIO()
    try:
        image.save(out, fmt)
    except (OSError, ValueError, KeyError):  # this format cannot hold this mode
        image.convert("RGB").save(out := io.BytesIO(), fmt)
    raw = out.getvalue()
    how = draw(st.sampled_from(["as is", "cut", "scribble", "forged size", "forged size",
                                "empty", "noise"]))
    if how == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == "scribble":
        raw = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        raw = bytes(raw)
    elif how == "forged size":
        side = st.one_of(st.integers(0, 70_000), st.sampled_from([2**31 - 1, 2**32 - 1]))
        raw = forge_png_size(png_of(pixels), draw(side), draw(side))
        fmt = "PNG"
    elif how == "empty":
        raw = b""
    elif how == "noise":
        raw = draw(st.binary(max_size=200))
    return f"{how.replace(' ', '-')}{FORMATS[fmt]}", raw


def png_of(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, "L").save(out, "PNG")
    return out.getvalue()


@fuzz_settings(100)
@given(st.lists(image_files(), min_size=1, max_size=4))
def test_every_image_file_gives_a_decode_line_or_an_error_line(files) -> None:
    ran("image files → kiosk decode + images source")
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, (name, raw) in enumerate(files):
            path = Path(folder) / f"{i:02d}-{name}"
            path.write_bytes(raw)
            paths.append(path)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(["decode", folder])
        assert code == 0
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [line["path"] for line in lines] == [str(p) for p in paths]
        for line in lines:
            assert ("codes" in line) != ("error" in line), line
        frames = list(ImageFrames(paths, hold_frames=1).frames())
        for frame in frames:
            DECODER.decode(frame)
        assert len(frames) == sum("codes" in line for line in lines)
