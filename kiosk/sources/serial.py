"""A serial or USB-CDC barcode scanner (/dev/ttyACM*, /dev/ttyUSB*) as a `CodeSource`.

pyserial is imported when a `SerialScanner` is made (`pip install .[scanners]`, or apt
`python3-serial`). The port is opened exclusively (an flock, so a second kiosk or a stray
`screen` session cannot read half the codes) and in raw mode. A code ends at CR or LF, or,
for scanners set to send no suffix, after `inter_key_timeout_s` of silence. Every text must
be a Diia code with a valid check digit before anything is sent (`scanner.text_to_code`).

Unplugging the scanner makes pyserial raise `SerialException`: the port is closed and opened
again once the device is back (every `rescan_s`). Use the stable name under
/dev/serial/by-id/, which reappears with the device, and keep ModemManager away from it
(README, "Reading codes").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from kiosk.sources.keyboard import ScannerUnavailable
from kiosk.sources.scanner import ReconnectingScanner

log = logging.getLogger(__name__)

_ENDS = b"\r\n"
MAX_TEXT = 512  # a scanner without line ends (or line noise) cannot grow a text forever


def load_pyserial() -> Any:
    try:
        import serial
    except ImportError as exc:
        raise ScannerUnavailable(
            f"pyserial cannot be imported ({exc}): apt install python3-serial, or pip install "
            "'diia-kiosk[scanners]'"
        ) from exc
    return serial


class SerialScanner(ReconnectingScanner):
    """A `CodeSource` over a serial port. `open_port(path)` is the seam (by default a
    `serial.Serial` opened exclusively); a port needs `read(n)`, `in_waiting` and `close()`,
    and raises `error_types` when the device is gone."""

    def __init__(
        self,
        path: str,
        *,
        baudrate: int = 9600,
        inter_key_timeout_s: float = 0.3,
        rescan_s: float = 1.0,
        open_port: Callable[[str], Any] | None = None,
        error_types: tuple[type[BaseException], ...] = (OSError,),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not path:
            raise ValueError("a serial scanner needs its device path")
        if open_port is None:
            serial = load_pyserial()
            error_types = (serial.SerialException, OSError)

            def open_port(port_path: str) -> Any:
                return serial.Serial(port_path, baudrate=baudrate,
                                     timeout=inter_key_timeout_s / 2, exclusive=True)

        self.path = path
        self.inter_key_timeout_s = inter_key_timeout_s
        self.rescan_s = rescan_s
        self._open_port = open_port
        self._errors = error_types
        self._clock = clock
        self._sleep = sleep
        self._port: Any = None
        self._closed = False
        self._missing_logged = False

    def _is_connected(self) -> bool:
        return self._port is not None

    def _connect(self) -> bool:
        try:
            self._port = self._open_port(self.path)
        except self._errors as exc:
            if not self._missing_logged:
                self._missing_logged = True
                log.warning("serial scanner %s cannot be opened (%s); retrying", self.path, exc)
            return False
        self._missing_logged = False
        log.info("serial scanner open: %s", self.path)
        return True

    def _read_texts(self) -> Iterator[str]:
        """Texts from the open port until it goes away. `read` waits at most the port's
        timeout, so the silence that ends a suffix-less code is noticed without spinning."""
        pending = bytearray()
        last = self._clock()
        while not self._closed:
            try:
                chunk = self._port.read(max(1, self._port.in_waiting))
            except self._errors as exc:
                log.warning("serial scanner gone (%s); waiting for it to come back", exc)
                self._disconnect()
                return
            now = self._clock()
            if chunk:
                last = now
                for byte in chunk:
                    if byte in _ENDS:
                        if pending:
                            yield pending.decode("ascii", errors="replace")
                            pending.clear()
                    elif len(pending) < MAX_TEXT:
                        pending.append(byte)
            elif pending and now - last > self.inter_key_timeout_s:
                yield pending.decode("ascii", errors="replace")
                pending.clear()

    def _disconnect(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except self._errors as exc:
                log.debug("ignored while closing the serial port: %s", exc)
