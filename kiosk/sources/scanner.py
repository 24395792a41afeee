"""What every scanner that decodes by itself shares: read codes, and when the device is
gone, wait and connect again instead of ending or spinning."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from kiosk.model import Code
from kiosk.sources.stdin import parse_typed

log = logging.getLogger(__name__)


def text_to_code(text: str) -> Code | None:
    """A finished scan as a Diia code, or None with a warning (never the text itself)."""
    code = parse_typed(text)
    if code is None:
        log.warning(
            "scanner sent %d characters that are not a Diia code (wrong length or check "
            "digit, e.g. a dropped character): ignored", len(text.strip())
        )
    return code


class ReconnectingScanner:
    """Base for `CodeSource`s over a device that can be unplugged at any time.

    Subclasses set `rescan_s`, `_sleep` and `_closed`, and provide `_is_connected`,
    `_connect` (False when the device is absent), `_read_texts` (ends when the device goes)
    and `_disconnect`.
    """

    rescan_s: float
    _sleep: Callable[[float], None]
    _closed: bool

    def codes(self) -> Iterator[Code]:
        """Codes as scanned; blocks between scans (the loop paces itself around it)."""
        while not self._closed:
            if not self._is_connected() and not self._connect():
                self._sleep(self.rescan_s)
                continue
            for text in self._read_texts():
                code = text_to_code(text)
                if code is not None:
                    yield code

    def close(self) -> None:
        self._closed = True
        self._disconnect()

    def _is_connected(self) -> bool:
        raise NotImplementedError

    def _connect(self) -> bool:
        raise NotImplementedError

    def _read_texts(self) -> Iterator[str]:
        raise NotImplementedError

    def _disconnect(self) -> None:
        raise NotImplementedError
