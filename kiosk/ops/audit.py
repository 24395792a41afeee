"""The audit log: the verdict event stream, also kept in a file in the state directory.

The lines are exactly the events' (kiosk.signals.events): outcome, reason, mode, kind, a
keyed-hash id whose key is new at every start, timings. No code, no image, no personal data.
The file is rotated when it reaches `max_bytes` (renamed with the UTC time of rotation) and
rotated files older than `keep_days` are deleted, so a kiosk on a shelf for years never fills
its SD card.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from kiosk.signals.events import JsonLinesEvents

log = logging.getLogger(__name__)


class RotatingFile:
    """A text stream appending to `path`, rotated by size and pruned by age on flush."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int,
        keep_days: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self._max_bytes = max_bytes
        self._keep_s = keep_days * 86400
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._stream = self._open()
        self.prune()

    def _open(self) -> TextIO:
        # 0600: the audit is the shop's record, not for every local user. O_NOFOLLOW: a
        # link planted at its name is refused, never appended through.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        fd = os.open(self.path, flags, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8")

    def write(self, text: str) -> int:
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()
        if self._stream.tell() >= self._max_bytes:
            self.rotate()

    def rotate(self) -> None:
        self._stream.close()
        stamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}")
        n = 0
        while target.exists():  # never replace an earlier rotation (a clock stepped back)
            n += 1
            target = self.path.with_name(f"{self.path.stem}-{stamp}-{n}{self.path.suffix}")
        os.replace(self.path, target)
        self._stream = self._open()
        self.prune()

    def rotated(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))

    def prune(self) -> None:
        oldest = self._clock() - self._keep_s
        for old in self.rotated():
            try:
                if old.stat().st_mtime < oldest:
                    old.unlink()
                    log.info("audit log %s deleted (older than the kept days)", old.name)
            except OSError as exc:  # a vanished or locked file: try again next rotation
                log.debug("cannot prune %s: %s", old, exc)

    def close(self) -> None:
        self._stream.close()


def open_audit_log(
    path: str | Path, *, max_bytes: int, keep_days: float, clock: Callable[[], float] = time.time
) -> JsonLinesEvents:
    """A `Signals` writing one verdict event per line to a rotating file."""
    stream = RotatingFile(path, max_bytes=max_bytes, keep_days=keep_days, clock=clock)
    return JsonLinesEvents(stream)
