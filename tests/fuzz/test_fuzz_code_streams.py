"""Keystrokes, serial bytes and stdin streams, fuzzed: only 13 ASCII digits with a valid
check digit or a Diia verify URL ever reach Diia, asserted on the requests the real
sandbox received; a clean code on its own line is never lost; nothing raises."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.diia.client import DiiaClient
from kiosk.diia.errors import DiiaError
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Code, CodeKind
from kiosk.sources.keyboard import KEY_ENTER, KEY_LEFTSHIFT, US_KEYMAP, Keystrokes
from kiosk.sources.scanner import text_to_code
from kiosk.sources.serial import SerialScanner
from kiosk.sources.stdin import StdinCodes
from tests.fuzz.budget import fuzz_settings, ran
from tests.fuzz.strategies import barcodes, diia_urls, is_sendable, pieces

SEPARATORS = [b"\n", b"\r\n", b"\n\n", b"\r", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b""]


@pytest.fixture(scope="module")
def diia() -> Iterator[tuple[DiiaSandbox, DiiaClient]]:
    with DiiaSandbox() as sandbox, DiiaClient(sandbox.base_url, sandbox.credentials,
                                              sandbox.branch_id, timeout_s=2.0) as client:
        yield sandbox, client


def send_all(diia: tuple[DiiaSandbox, DiiaClient], codes: list[Code]) -> list[tuple[str, str]]:
    """Each code checked with the real client; what the sandbox received, as (kind, text)."""
    sandbox, client = diia
    before = len(sandbox.requests)
    for code in codes:
        with contextlib.suppress(DiiaError):  # not minted: Diia says "not found"
            client.validate(code)
    received = []
    for request in sandbox.requests[before:]:
        body = request.body or {}
        if "barcode" in body:
            received.append(("barcode", body["barcode"]))
        if "qrcode" in body:
            received.append(("qr", body["qrcode"]))
    return received


def assert_only_diia_codes(codes: list[Code]) -> None:
    for code in codes:
        kind = "barcode" if code.kind is CodeKind.BARCODE else "qr"
        assert is_sendable(code.text, kind), ascii(code.text)


@st.composite
def byte_streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A stream of lines, and the clean codes in it that must come out, in order."""
    out: list[bytes] = []
    expected: list[str] = []
    for piece in draw(st.lists(st.one_of(pieces(), st.binary(max_size=30)), max_size=8)):
        raw = piece if isinstance(piece, bytes) else piece.encode()
        end = draw(st.sampled_from(SEPARATORS))
        line_start = not out or out[-1].endswith(b"\n")
        out.append(raw + end)
        clean = piece.strip() if isinstance(piece, str) else ""
        digits = clean.replace(" ", "")
        whole_line = line_start and end in (b"\n", b"\r\n", b"\n\n")
        if whole_line and is_sendable(digits, "barcode"):
            expected.append(digits)
        elif whole_line and is_sendable(clean, "qr"):
            expected.append(clean)
    return b"".join(out), expected


@fuzz_settings(120)
@given(byte_streams())
def test_stdin_streams_send_only_diia_codes_and_lose_none(diia, stream) -> None:
    ran("stdin → client → sandbox")
    raw, expected = stream
    codes = list(StdinCodes(io.BytesIO(raw)).codes())
    assert_only_diia_codes(codes)
    texts = [code.text for code in codes]
    position = 0
    for want in expected:  # every clean code line came out, in order
        position = texts.index(want, position) + 1
    received = send_all(diia, codes)
    assert len(received) == len(codes)
    for kind, text in received:
        assert isinstance(text, str) and is_sendable(text, kind), ascii(text)


KEY_FOR = {plain: code for code, (plain, _) in US_KEYMAP.items() if plain.isdigit()}
KEY_CODES = st.one_of(st.sampled_from(sorted(US_KEYMAP)), st.integers(0, 260),
                      st.just(KEY_ENTER), st.just(KEY_LEFTSHIFT))


@st.composite
def key_events(draw: st.DrawFn) -> list[tuple[int, int, float]]:
    """Random keys and gaps, with whole scans (a code at scanner pace, then Enter) mixed in."""
    events: list[tuple[int, int, float]] = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            text = draw(st.one_of(barcodes(), diia_urls().map(lambda u: u[:30])))
            for ch in text:
                code = KEY_FOR.get(ch, draw(st.sampled_from(sorted(US_KEYMAP))))
                events += [(code, 1, 0.004), (code, 0, 0.002)]
            events.append((KEY_ENTER, 1, 0.004))
        else:
            for _ in range(draw(st.integers(0, 20))):
                events.append((draw(KEY_CODES), draw(st.sampled_from([0, 1, 2])),
                               draw(st.floats(0, 20, allow_nan=False))))
    return events


@fuzz_settings(200)
@given(key_events())
def test_keystrokes_give_only_diia_codes(events) -> None:
    ran("keystrokes → codes")
    keys = Keystrokes(inter_key_timeout_s=0.3)
    now, texts = 0.0, []
    for code, value, gap in events:
        now += gap
        for text in (keys.idle(now), keys.key(code, value, now)):
            if text is not None:
                texts.append(text)
    texts.append(keys.idle(now + 60) or "")
    assert all(len(t) <= keys.max_length for t in texts)
    assert_only_diia_codes([c for t in texts if (c := text_to_code(t)) is not None])


class ChunkPort:
    """A serial port (the `open_port` seam) that gives these chunks, then is unplugged."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = list(chunks)

    @property
    def in_waiting(self) -> int:
        return len(self._chunks[0]) if self._chunks else 0

    def read(self, size: int) -> bytes:
        if not self._chunks:
            raise OSError(5, "Input/output error")
        return self._chunks.pop(0)

    def close(self) -> None:
        pass


@fuzz_settings(150)
@given(st.lists(st.one_of(pieces().map(lambda s: s.encode("utf-8", "surrogatepass")),
                          st.binary(max_size=40), st.sampled_from([b"\r", b"\n", b""])),
                max_size=12))
def test_serial_bytes_give_only_diia_codes(diia, chunks) -> None:
    ran("serial bytes → client → sandbox")
    clock = [0.0]

    def tick() -> float:
        clock[0] += 0.2  # every read takes a while: silences end suffix-less codes
        return clock[0]

    opened: list[ChunkPort] = []

    def open_port(path: str) -> ChunkPort:
        if opened:
            raise OSError(2, "No such device")
        opened.append(ChunkPort(chunks))
        return opened[0]

    scanner = SerialScanner("/dev/fuzz", open_port=open_port, inter_key_timeout_s=0.3,
                            clock=tick, sleep=lambda s: scanner.close())
    codes = list(scanner.codes())
    assert_only_diia_codes(codes)
    for kind, text in send_all(diia, codes):
        assert is_sendable(text, kind), ascii(text)
