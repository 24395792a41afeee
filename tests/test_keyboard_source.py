"""Keystrokes to codes (pure), and the HID scanner through a fake evdev device."""

from __future__ import annotations

import logging

import pytest

from kiosk.sources.keyboard import (
    KEY_A,
    KEY_ENTER,
    KEY_KPENTER,
    KEY_LEFTSHIFT,
    HidScanner,
    Keystrokes,
    ScannerUnavailable,
)
from kiosk.sources.scanner import text_to_code
from tests.fakes.evdev import FakeInputBus

DIGITS = "3559217693026"
VERIFY_URL = (
    "https://diia.app/documents/internal-passport/1234567890/verify/"
    "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)
KEY_OF_DIGIT = {"1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11}
KEYPAD_OF_DIGIT = {"0": 82, "1": 79, "2": 80, "3": 81, "4": 75, "5": 76, "6": 77, "7": 71,
                   "8": 72, "9": 73}


def typed(keys: Keystrokes, text: str, start: float = 0.0, gap: float = 0.005,
          keymap: dict[str, int] = KEY_OF_DIGIT) -> tuple[list[str], float]:
    """Press and release each digit `gap` s apart; the texts finished on the way, and when."""
    out, at = [], start
    for ch in text:
        for value in (1, 0):
            done = keys.key(keymap[ch], value, at)
            if done is not None:
                out.append(done)
        at += gap
    return out, at


# --- Keystrokes: the pure part -----------------------------------------------------------


def test_digits_then_enter_make_one_text():
    keys = Keystrokes()
    assert typed(keys, DIGITS)[0] == []
    assert keys.key(KEY_ENTER, 1, 0.1) == DIGITS
    assert not keys.pending


def test_shift_gives_the_upper_row_and_capitals():
    keys = Keystrokes()
    keys.key(KEY_LEFTSHIFT, 1, 0.0)
    keys.key(KEY_A, 1, 0.0)
    keys.key(39, 1, 0.0)  # ; with Shift: ':'
    keys.key(KEY_LEFTSHIFT, 0, 0.0)
    keys.key(KEY_A, 1, 0.0)
    keys.key(53, 1, 0.0)  # '/'
    assert keys.key(KEY_KPENTER, 1, 0.0) == "A:a/"


def test_autorepeat_of_a_held_key_is_ignored():
    keys = Keystrokes()
    keys.key(KEY_OF_DIGIT["3"], 1, 0.0)
    for i in range(5):
        keys.key(KEY_OF_DIGIT["3"], 2, 0.01 * i)
    keys.key(KEY_OF_DIGIT["3"], 0, 0.06)
    assert keys.key(KEY_ENTER, 1, 0.07) == "3"


def test_a_numeric_keypad_types_digits_and_ends_with_its_enter():
    keys = Keystrokes()
    typed(keys, DIGITS, gap=0.25, keymap=KEYPAD_OF_DIGIT)
    assert keys.key(KEY_KPENTER, 1, 5.0) == DIGITS


def test_a_scan_without_enter_ends_after_the_inter_key_timeout():
    keys = Keystrokes(inter_key_timeout_s=0.3)
    _, end = typed(keys, DIGITS)
    assert keys.idle(end + 0.1) is None
    assert keys.idle(end + 0.4) == DIGITS


def test_back_to_back_scans_without_enter_are_split_at_the_pause():
    keys = Keystrokes(inter_key_timeout_s=0.3)
    _, end = typed(keys, DIGITS)
    finished, end = typed(keys, "4006381333931", start=end + 1.0)
    assert finished == [DIGITS]
    assert keys.idle(end + 1.0) == "4006381333931"


def test_a_scan_that_lost_a_character_ends_and_is_refused():
    keys = Keystrokes(inter_key_timeout_s=0.3)
    _, end = typed(keys, DIGITS[:6] + DIGITS[7:])  # one digit dropped on the way
    text = keys.idle(end + 0.5)
    assert text == DIGITS[:6] + DIGITS[7:]
    assert text_to_code(text) is None


def test_a_person_typing_slowly_is_not_cut_off():
    keys = Keystrokes(inter_key_timeout_s=0.3)
    _, end = typed(keys, DIGITS[:5], gap=0.6)
    assert keys.idle(end + 1.0) is None  # a short text at a person's pace waits
    _, end = typed(keys, DIGITS[5:], start=end + 1.5, gap=0.6)
    assert keys.key(KEY_ENTER, 1, end) == DIGITS


def test_a_half_typed_code_is_dropped_after_a_long_silence():
    keys = Keystrokes(inter_key_timeout_s=0.3, abandon_s=10.0)
    _, end = typed(keys, "35592", gap=0.5)
    assert keys.idle(end + 5.0) is None and keys.pending
    assert keys.idle(end + 11.0) == "35592"
    assert not keys.pending


def test_the_text_is_capped():
    keys = Keystrokes(max_length=20)
    for i in range(100):
        keys.key(KEY_OF_DIGIT["1"], 1, i * 0.001)
    assert keys.key(KEY_ENTER, 1, 1.0) == "1" * 20


def test_an_unknown_key_spoils_the_code():
    keys = Keystrokes()
    typed(keys, DIGITS[:6])
    keys.key(183, 1, 0.1)  # KEY_F13: not in the keymap
    typed(keys, DIGITS[6:], start=0.1)
    text = keys.key(KEY_ENTER, 1, 0.2)
    assert text is not None and len(text) == 14 and text_to_code(text) is None


def test_text_to_code_checks_the_check_digit_and_logs_no_digits(caplog):
    assert text_to_code(DIGITS).text == DIGITS
    assert text_to_code(VERIFY_URL).text == VERIFY_URL
    caplog.set_level(logging.WARNING)
    wrong = DIGITS[:12] + "7"
    assert text_to_code(wrong) is None
    assert "13 characters" in caplog.text
    assert wrong not in caplog.text and "355921" not in caplog.text


def test_key_codes_match_the_kernel_as_evdev_knows_them():
    ecodes = pytest.importorskip("evdev.ecodes", reason="evdev not installed (extra 'scanners')")
    assert (ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_LEFTSHIFT, ecodes.KEY_A) == (
        KEY_ENTER, KEY_KPENTER, KEY_LEFTSHIFT, KEY_A)
    assert KEY_OF_DIGIT["1"] == ecodes.KEY_1 and KEYPAD_OF_DIGIT["0"] == ecodes.KEY_KP0
    assert ecodes.KEY_SLASH == 53 and ecodes.KEY_SEMICOLON == 39


# --- HidScanner through the fake bus ------------------------------------------------------


def scanner(bus: FakeInputBus, **kwargs) -> HidScanner:
    kwargs.setdefault("inter_key_timeout_s", 0.05)
    kwargs.setdefault("rescan_s", 0.01)
    return HidScanner(open_device=bus.open, list_devices=bus.list_devices, **kwargs)


def test_scanned_codes_come_out_and_the_device_is_grabbed():
    bus = FakeInputBus()
    device = bus.plug("/dev/input/by-id/usb-Scanner-event-kbd", "Barcode Scanner")
    device.type_text(DIGITS)
    device.type_text(VERIFY_URL)
    source = scanner(bus, path="/dev/input/by-id/usb-Scanner-event-kbd")
    codes = source.codes()
    assert next(codes).text == DIGITS
    assert device.grabbed_by is not None  # keystrokes reach nobody else
    assert next(codes).text == VERIFY_URL
    source.close()
    assert device.grabbed_by is None


def test_a_bad_scan_is_never_sent_and_the_next_good_one_is():
    bus = FakeInputBus()
    device = bus.plug("/dev/input/event5", "Scanner")
    device.type_text(DIGITS[:12] + "0")  # bad check digit
    device.type_text(DIGITS[:5])  # a dropped tail, then Enter
    device.type_text(DIGITS)
    source = scanner(bus, path="/dev/input/event5")
    assert next(source.codes()).text == DIGITS


def test_a_scanner_that_sends_no_enter_still_gives_its_code():
    bus = FakeInputBus()
    device = bus.plug("/dev/input/event5", "Scanner")
    device.type_text(DIGITS, enter=False)
    assert next(scanner(bus, path="/dev/input/event5").codes()).text == DIGITS


def test_the_device_is_found_by_name_among_keyboards():
    bus = FakeInputBus()
    bus.plug("/dev/input/event0", "AT Translated Set 2 keyboard")
    bus.plug("/dev/input/event3", "Honeywell Scanner Consumer Control", keys=[113, 114])
    device = bus.plug("/dev/input/event4", "Honeywell Scanner")
    device.type_text(DIGITS)
    source = scanner(bus, name="scanner")
    assert next(source.codes()).text == DIGITS
    assert device.grabbed_by is not None
    assert bus.devices["/dev/input/event0"].grabbed_by is None  # the real keyboard is left be


def test_unplug_closes_rescans_without_spinning_and_reopens():
    bus = FakeInputBus()
    path = "/dev/input/by-id/usb-Scanner-event-kbd"
    device = bus.plug(path, "Scanner")
    device.type_text(DIGITS)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:  # plugged back in while the source waits
            bus.plug(path, "Scanner").type_text("4006381333931")

    source = scanner(bus, path=path, sleep=sleep)
    codes = source.codes()
    assert next(codes).text == DIGITS
    device.unplug()
    assert next(codes).text == "4006381333931"
    assert sleeps == [0.01, 0.01, 0.01]  # waited between tries: no busy loop
    assert bus.devices[path] is not device and bus.devices[path].grabbed_by is not None
    assert bus.closes >= 1


def test_a_device_another_program_grabbed_is_retried(caplog):
    bus = FakeInputBus()
    device = bus.plug("/dev/input/event5", "Scanner")
    device.grabbed_by = "someone else"
    device.type_text(DIGITS)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        device.grabbed_by = None

    caplog.set_level(logging.WARNING)
    assert next(scanner(bus, path="/dev/input/event5", sleep=sleep).codes()).text == DIGITS
    assert len(sleeps) == 1 and "cannot be grabbed" in caplog.text


def test_needs_a_path_or_a_name():
    with pytest.raises(ValueError):
        HidScanner(open_device=lambda p: None, list_devices=list)


def test_without_evdev_the_error_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(ScannerUnavailable, match="python3-evdev"):
        HidScanner("/dev/input/event5")


def test_the_config_needs_a_device_for_a_keyboard_scanner_and_evdev(monkeypatch):
    import sys

    from kiosk.bootstrap import build_readings
    from kiosk.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="never a guess"):
        parse_config({"source": {"kind": "keyboard"}})
    config = parse_config({"source": {"kind": "keyboard"}, "scanner": {"name": "Honeywell"}})
    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(ConfigError, match="python3-evdev"):
        build_readings(config)
