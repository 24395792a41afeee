"""Codes typed or piped in, one per line: a terminal, a POS test harness, or a scanner
that presents itself as a serial console.

A line that is not a Diia code (wrong length, wrong check digit) is refused here with a
warning, so a typing slip never reaches Diia.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import TextIO

from kiosk.codes import to_code
from kiosk.model import Code

log = logging.getLogger(__name__)


def parse_typed(line: str) -> Code | None:
    """A typed line as a Diia code: 13 digits (spaces allowed) or a Diia verify URL."""
    text = line.strip()
    if text.startswith("https://"):
        return to_code(text, "QRCode")
    return to_code(text, "typed")


class StdinCodes:
    """A `CodeSource` over a text stream; ends when the stream does."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdin

    def codes(self) -> Iterator[Code]:
        for line in self._stream:
            if not line.strip():
                continue
            code = parse_typed(line)
            if code is None:
                log.warning("typed input is not a Diia code (13 digits with a valid check digit)")
                continue
            yield code
