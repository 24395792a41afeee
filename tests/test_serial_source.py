"""The serial scanner on a real pseudo-terminal, opened by pyserial as a scanner's ttyACM is.

The "device" is a pty pair: the test writes what the scanner would send to the master end;
the source reads the slave end through a /dev/serial/by-id-like symlink. Closing the master
is an unplug (reads fail as on a vanished ttyACM); a new pty behind the link is the replug.
pyserial flushes the input when it opens a port, so a scan is sent a moment after the source
starts reading, as a customer would; a watchdog closes a source that waits too long, so a
broken source fails its test instead of hanging it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("serial", reason="pyserial not installed (extras 'test' / 'scanners')")

from kiosk.sources.serial import SerialScanner

DIGITS = "3559217693026"
OTHER = "4006381333931"


class FakeScannerPort:
    """A pty whose slave side is reachable under a stable link, like /dev/serial/by-id."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        path = os.ttyname(slave)
        os.close(slave)  # pyserial opens it by name
        if self.link.is_symlink():
            self.link.unlink()
        self.link.symlink_to(path)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def send_later(self, data: bytes, delay: float = 0.3) -> None:
        timer = threading.Timer(delay, self.send, args=(data,))
        timer.daemon = True
        timer.start()

    def unplug(self) -> None:
        os.close(self.master)
        self.master = -1
        self.link.unlink()

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)


@pytest.fixture
def port(tmp_path: Path):
    scanner_port = FakeScannerPort(tmp_path / "usb-Scanner_0001-if00")
    yield scanner_port
    scanner_port.close()


def guarded(source: SerialScanner, seconds: float = 5.0) -> SerialScanner:
    timer = threading.Timer(seconds, source.close)
    timer.daemon = True
    timer.start()
    return source


def test_codes_end_at_cr_or_lf(port):
    port.send_later(f"{DIGITS}\r\n{OTHER}\n".encode())
    source = guarded(SerialScanner(str(port.link), inter_key_timeout_s=0.1))
    codes = source.codes()
    assert next(codes).text == DIGITS
    assert next(codes).text == OTHER
    source.close()


def test_a_scanner_without_a_suffix_ends_its_code_by_silence(port):
    port.send_later(DIGITS.encode())
    source = guarded(SerialScanner(str(port.link), inter_key_timeout_s=0.1))
    assert next(source.codes()).text == DIGITS
    source.close()


def test_a_bad_check_digit_or_a_dropped_character_is_never_sent(port, caplog):
    caplog.set_level(logging.WARNING)
    port.send_later(f"{DIGITS[:12]}0\r{DIGITS[:6]}{DIGITS[7:]}\r\x00\xff\r{DIGITS}\r"
                    .encode("latin-1"))
    source = guarded(SerialScanner(str(port.link), inter_key_timeout_s=0.1))
    assert next(source.codes()).text == DIGITS
    assert caplog.text.count("not a Diia code") == 3 and DIGITS[:12] not in caplog.text
    source.close()


def test_the_port_is_exclusive(port, caplog):
    first = SerialScanner(str(port.link), inter_key_timeout_s=0.1)
    assert first._connect()
    caplog.set_level(logging.WARNING)
    second = SerialScanner(str(port.link), inter_key_timeout_s=0.1)
    assert not second._connect()
    assert "cannot be opened" in caplog.text
    first.close()


def test_unplug_and_replug_reopens_the_port_without_spinning(port):
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            port.plug()
            port.send_later(f"{OTHER}\r".encode())

    port.send_later(f"{DIGITS}\r".encode())
    source = guarded(SerialScanner(str(port.link), inter_key_timeout_s=0.1, rescan_s=0.05,
                                   sleep=sleep))
    codes = source.codes()
    assert next(codes).text == DIGITS
    port.unplug()
    assert next(codes).text == OTHER
    assert sleeps == [0.05, 0.05]
    source.close()


def test_a_missing_device_is_waited_for(tmp_path):
    sleeps: list[float] = []
    link = tmp_path / "usb-Scanner-if00"
    ports: list[FakeScannerPort] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            ports.append(FakeScannerPort(link))
            ports[0].send_later(f"{DIGITS}\r".encode())

    source = guarded(SerialScanner(str(link), inter_key_timeout_s=0.1, rescan_s=0.2,
                                   sleep=sleep))
    assert next(source.codes()).text == DIGITS
    assert sleeps == [0.2, 0.2, 0.2]
    source.close()
    ports[0].close()


def test_needs_a_path():
    with pytest.raises(ValueError):
        SerialScanner("")


def test_the_config_builds_the_serial_scanner_into_readings(port):
    from kiosk.bootstrap import build_readings
    from kiosk.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match=r"source\.path"):
        parse_config({"source": {"kind": "serial"}})
    config = parse_config({"source": {"kind": "serial", "path": str(port.link)},
                           "scanner": {"inter_key_timeout_s": 0.1}})
    readings, gone_frames = build_readings(config)
    assert gone_frames == 0
    port.send_later(f"{DIGITS}\r".encode())
    reading = next(iter(readings))
    assert [c.text for c in reading.confirmed] == [DIGITS]
