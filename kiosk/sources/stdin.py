"""Codes typed or piped in, one per line: a terminal, a POS test harness, or a scanner
that presents itself as a serial console.

A line that is not a Diia code (wrong length, wrong check digit) is refused here with a
warning, so a typing slip never reaches Diia.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

from kiosk.decoding.codes import to_code
from kiosk.model import Code

log = logging.getLogger(__name__)


def parse_typed(line: str) -> Code | None:
    """A typed line as a Diia code: 13 digits (spaces allowed) or a Diia verify URL."""
    text = line.strip()
    if text.startswith("https://"):
        return to_code(text, "QRCode")
    return to_code(text, "typed")


MAX_LINE = 512  # bytes; longer than any Diia code or verify URL


class StdinCodes:
    """A `CodeSource` over a byte stream (stdin by default); ends when the stream does.

    Read as bytes, line by line, and decoded one line at a time: a stray invalid byte
    (a scanner's glitch, a binary file piped in by mistake) spoils only its own line, never
    the codes before or after it, whatever the locale says stdin's encoding is. A line is
    read up to `MAX_LINE` bytes, so input without newlines cannot fill the memory.
    """

    def __init__(self, stream: BinaryIO | DescriptorLines | None = None) -> None:
        self._stream: BinaryIO | DescriptorLines = (
            stream if stream is not None else DescriptorLines(sys.stdin.fileno()))

    def codes(self) -> Iterator[Code]:
        for line in self._lines():
            if not line.strip():
                continue
            code = parse_typed(line)
            if code is None:
                log.warning("typed input is not a Diia code (13 digits with a valid check digit)")
                continue
            yield code

    def _lines(self) -> Iterator[str]:
        skipping = False  # inside a line found too long: its rest goes too
        while raw := self._stream.readline(MAX_LINE + 1):
            ended = raw.endswith(b"\n")
            if skipping:
                skipping = not ended
            elif len(raw) > MAX_LINE and not ended:
                log.warning("typed input line longer than %d bytes: ignored", MAX_LINE)
                skipping = True
            else:
                yield raw.decode("utf-8", errors="replace")


class DescriptorLines:
    """`readline(limit)` straight from a descriptor with `os.read`. Not `sys.stdin.buffer`:
    the thread that waits for the next line is a daemon, and one blocked inside a buffered
    reader holds its lock, which the interpreter then cannot take at exit ("Fatal Python
    error: _enter_buffered_busy", exit -6) after a stop or a restart for a new config."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = b""

    def readline(self, limit: int) -> bytes:
        while b"\n" not in self._pending and len(self._pending) < limit:
            chunk = os.read(self._fd, 4096)
            if not chunk:
                break
            self._pending += chunk
        end = self._pending.find(b"\n", 0, limit)
        cut = end + 1 if end >= 0 else min(limit, len(self._pending))
        line, self._pending = self._pending[:cut], self._pending[cut:]
        return line
