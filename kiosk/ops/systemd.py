"""sd_notify and the watchdog, without a dependency: a few datagrams on a Unix socket.

systemd names the socket in $NOTIFY_SOCKET (a leading "@" is an abstract socket). It is
popped from the environment so that child processes cannot speak for us. Outside systemd
every call is a no-op, so `kiosk run` on a laptop behaves the same.

The watchdog is fed by `LoopWatchdog`, which the kiosk calls once per loop turn: a loop that
stops turning (a hung camera read, a blocked signal) stops the pings, and systemd kills and
restarts the service. It is never fed from a free-running thread, which would keep a dead
loop alive.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, MutableMapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends state lines to systemd; every method is a no-op when not under systemd."""

    def __init__(self, address: str | None = None) -> None:
        self._socket: socket.socket | None = None
        self._address = ""
        if address:
            # "@name" is Linux's abstract namespace, written with a leading NUL on the wire.
            self._address = "\0" + address[1:] if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        environ = os.environ if environ is None else environ
        return cls(environ.pop("NOTIFY_SOCKET", None))

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def notify(self, *lines: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(lines).encode("utf-8"), self._address)
        except OSError as exc:  # systemd gone (shutdown) or a full queue: never fatal
            log.debug("sd_notify failed: %s", exc)

    def ready(self, status: str = "") -> None:
        self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> None:
        """A line a person reads in `systemctl status kiosk`."""
        self.notify(f"STATUS={text}")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self, status: str = "") -> None:
        self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_period(environ: MutableMapping[str, str] | None = None) -> float | None:
    """The watchdog period in seconds systemd asked for, or None (no watchdog for us).

    $WATCHDOG_PID, when set, must be our own pid: the variables may have been inherited from
    a parent that is the watched one.
    """
    environ = os.environ if environ is None else environ
    usec = environ.pop("WATCHDOG_USEC", "")
    pid = environ.pop("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        period = int(usec) / 1_000_000
    except ValueError:
        return None
    return period if period > 0 else None


class LoopWatchdog:
    """The kiosk's heartbeat: called every loop turn, pings systemd at half the period.

    `healthy` can veto a ping even though the loop turns (e.g. a check stuck far past its
    deadline); without pings systemd restarts the service after one period.
    """

    def __init__(
        self,
        notifier: Notifier,
        period_s: float | None,
        *,
        healthy: Callable[[], bool] = lambda: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._notifier = notifier
        self._interval = period_s / 2 if period_s else None
        self._healthy = healthy
        self._clock = clock
        self._last = float("-inf")
        self.pings = 0

    def __call__(self) -> None:
        if self._interval is None:
            return
        now = self._clock()
        if now - self._last < self._interval:
            return
        if not self._healthy():
            return
        self._last = now
        self.pings += 1
        self._notifier.watchdog()
