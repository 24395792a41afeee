"""The audit log: the verdict event stream, also kept in a file in the state directory.

The lines are exactly the events' (kiosk.signals.events): outcome, reason, mode, kind, a
keyed-hash id whose key is new at every start, timings. No code, no image, no personal data.
The file is rotated when it reaches `max_bytes` and rotated files older than `keep_days` are
deleted, so a kiosk on a shelf for years never fills its SD card.

A rotated file's age must be one the kiosk can trust, or a clock set ahead would delete the
shop's recent record. A rotated file is named with the UTC time of its rotation, the boot it
happened in and the seconds since that boot (`verdicts-<UTC>.<boot>.<uptime>.jsonl`): one
rotated in this boot is aged by the kernel's time since boot, which no clock setting moves;
one from another boot (or named before this scheme) by its modification time, and only while
the clock is trusted (`clock_trusted`); meanwhile it is kept, and pruning is tried again.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from kiosk.signals.events import JsonLinesEvents

log = logging.getLogger(__name__)


def boot_time() -> tuple[str, float]:
    """(this boot's id, seconds since it began): the kernel's own count, read from /proc
    (no library's clock call, which a faked or stepped wall clock could reach)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return "", 0.0  # not Linux: every file is aged by the trusted clock alone
    return boot[:8], uptime


class RotatingFile:
    """A text stream appending to `path`, rotated by size and pruned by age on flush."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_bytes: int,
        keep_days: float,
        clock: Callable[[], float] = time.time,
        clock_trusted: Callable[[], bool] = lambda: True,
        boot: Callable[[], tuple[str, float]] = boot_time,
    ) -> None:
        self.path = Path(path)
        self._max_bytes = max_bytes
        self._keep_s = keep_days * 86400
        self._clock = clock
        self._clock_trusted = clock_trusted
        self._boot = boot
        self._prune_due = False  # a rotated file's age could not be trusted at the last try
        self._named = re.compile(rf"\.([0-9a-f]{{8}})\.([0-9]+){re.escape(self.path.suffix)}$")
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
        elif self._prune_due and self._clock_trusted():
            self.prune()

    def rotate(self) -> None:
        self._stream.close()
        stamp = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%dT%H%M%S%fZ")
        boot, uptime = self._boot()
        mark = f".{boot}.{int(uptime)}" if boot else ""
        target = self.path.with_name(f"{self.path.stem}-{stamp}{mark}{self.path.suffix}")
        n = 0
        while target.exists():  # never replace an earlier rotation (a clock stepped back)
            n += 1
            target = self.path.with_name(f"{self.path.stem}-{stamp}-{n}{mark}{self.path.suffix}")
        os.replace(self.path, target)
        self._stream = self._open()
        self.prune()

    def rotated(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))

    def prune(self) -> None:
        """Delete rotated files older than the kept days, by an age that can be trusted."""
        boot, uptime = self._boot()
        trusted: bool | None = None  # asked once, and only if a file needs it
        self._prune_due = False
        for old in self.rotated():
            named = self._named.search(old.name)
            try:
                if boot and named and named.group(1) == boot:
                    age = uptime - int(named.group(2))  # this boot: the kernel's count
                else:
                    trusted = self._clock_trusted() if trusted is None else trusted
                    if not trusted:
                        self._prune_due = True  # kept for now; tried again once trusted
                        continue
                    age = self._clock() - old.stat().st_mtime
                if age > self._keep_s:
                    old.unlink()
                    log.info("audit log %s deleted (older than the kept days)", old.name)
            except OSError as exc:  # a vanished or locked file: try again next rotation
                log.debug("cannot prune %s: %s", old, exc)

    def close(self) -> None:
        self._stream.close()


def open_audit_log(
    path: str | Path, *, max_bytes: int, keep_days: float, clock: Callable[[], float] = time.time,
    clock_trusted: Callable[[], bool] = lambda: True,
) -> JsonLinesEvents:
    """A `Signals` writing one verdict event per line to a rotating file."""
    stream = RotatingFile(path, max_bytes=max_bytes, keep_days=keep_days, clock=clock,
                          clock_trusted=clock_trusted)
    return JsonLinesEvents(stream)
