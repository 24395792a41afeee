"""Whether the kiosk may trust its own clock.

A Pi 4 has no battery clock: after a reboot offline it runs from the last saved time, which
can be hours or days behind. TLS certificates and token lifetimes depend on the time, so a
verdict given on an untrusted clock is "unknown", never green.

The clock is trusted when one of these vouches for it, checked in this order:
- systemd-timesyncd's marker file (/run/systemd/timesync/synchronized) exists;
- the kernel says an NTP daemon (chrony, timesyncd, ntpd) has synchronised it (adjtimex);
- the `Date` header of Diia's last answer agrees with our clock within `max_offset_s`.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

TIME_ERROR = 5  # adjtimex(2): "clock not synchronized"


def kernel_clock_synced() -> bool | None:
    """The kernel's NTP status through a read-only adjtimex(); None when it cannot be asked
    (not Linux, or a sandbox that forbids the call)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = ctypes.create_string_buffer(512)  # larger than struct timex; modes = 0: read
        state = libc.adjtimex(timex)
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


@dataclass(frozen=True, slots=True)
class ClockState:
    trusted: bool
    source: str  # "ntp", "kernel", "diia", "not_required" or "none"
    diia_offset_s: float | None = None  # Diia's clock minus ours, from its last Date header


class ClockTrust:
    """Answers `trusted()` from whatever vouches for the clock; cheap enough to ask per
    verdict (a stat, a syscall, a float).

    `server_offset` gives Diia's clock minus ours in seconds from its last answer, or None
    before any; `kernel_synced` is the adjtimex seam.
    """

    def __init__(
        self,
        *,
        required: bool = True,
        sync_file: str | Path = "/run/systemd/timesync/synchronized",
        max_offset_s: float = 60.0,
        server_offset: Callable[[], float | None] = lambda: None,
        kernel_synced: Callable[[], bool | None] = kernel_clock_synced,
    ) -> None:
        self._required = required
        self._sync_file = Path(sync_file) if sync_file else None
        self._max_offset_s = max_offset_s
        self._server_offset = server_offset
        self._kernel_synced = kernel_synced
        self._last_trusted: bool | None = None

    def state(self) -> ClockState:
        offset = self._server_offset()
        if not self._required:
            source = "not_required"
        elif self._sync_file is not None and os.path.exists(self._sync_file):
            source = "ntp"
        elif self._kernel_synced():
            source = "kernel"
        elif offset is not None and abs(offset) <= self._max_offset_s:
            source = "diia"
        else:
            source = "none"
        state = ClockState(source != "none", source, offset)
        if state.trusted != self._last_trusted:  # availability changes: logged once each way
            self._last_trusted = state.trusted
            if state.trusted:
                log.info("clock trusted (%s)", source)
            else:
                log.warning("clock not trusted: no NTP sync yet%s; verdicts are unknown",
                            "" if offset is None else f", Diia's clock differs by {offset:+.0f} s")
        return state

    def trusted(self) -> bool:
        return self.state().trusted
