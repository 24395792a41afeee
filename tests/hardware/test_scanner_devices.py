"""Real scanners: a HID keyboard-wedge scanner (evdev) and a serial / USB-CDC one.

Set KIOSK_TEST_HID or KIOSK_TEST_SERIAL to the device, run with -s, and scan a Diia code
(e.g. one `kiosk demo` shows) when asked. Without the variable the test skips.
"""

from __future__ import annotations

import os
import threading

import pytest

from kiosk.sources.keyboard import HidScanner, ScannerUnavailable
from kiosk.sources.serial import SerialScanner

WAIT_S = 30.0


def first_code(source) -> str:
    timer = threading.Timer(WAIT_S, source.close)  # no scan in time: the source ends
    timer.daemon = True
    timer.start()
    try:
        code = next(iter(source.codes()), None)
    finally:
        timer.cancel()
        source.close()
    assert code is not None, f"no valid Diia code scanned within {WAIT_S:.0f} s"
    return code.text


@pytest.mark.skipif(not os.environ.get("KIOSK_TEST_HID"),
                    reason="set KIOSK_TEST_HID=/dev/input/by-id/…-event-kbd to test a HID scanner")
def test_hid_scanner_reads_a_code_and_grabs_the_device():
    try:
        source = HidScanner(os.environ["KIOSK_TEST_HID"])
    except ScannerUnavailable as exc:
        pytest.skip(str(exc))
    print(f"\nscan a Diia code with the HID scanner within {WAIT_S:.0f} s …")
    assert len(first_code(source)) >= 13


@pytest.mark.skipif(not os.environ.get("KIOSK_TEST_SERIAL"),
                    reason="set KIOSK_TEST_SERIAL=/dev/serial/by-id/…-if00 to test one")
def test_serial_scanner_reads_a_code():
    try:
        source = SerialScanner(os.environ["KIOSK_TEST_SERIAL"])
    except ScannerUnavailable as exc:
        pytest.skip(str(exc))
    print(f"\nscan a Diia code with the serial scanner within {WAIT_S:.0f} s …")
    assert len(first_code(source)) >= 13
