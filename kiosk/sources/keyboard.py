"""A keyboard-wedge barcode scanner (or a USB keypad) read through evdev, as a `CodeSource`.

The device is *grabbed* (EVIOCGRAB): its keystrokes reach this process only, never the
console's login prompt, SDL or another program. evdev is imported when a `HidScanner` is
made, so `import kiosk` works without it (`pip install .[scanners]` or apt `python3-evdev`).

`Keystrokes` is the pure part: Linux key events in, texts out, with a US keymap and Shift.
A text ends at Enter (or keypad Enter) or, for scanners that send none, after
`inter_key_timeout_s` of silence once it holds a whole code; autorepeats are ignored.
Every text then has to be a Diia code with a valid check digit (`parse_typed`): a scan
that lost a character is refused with a warning and never sent.

Unplugging the scanner makes reads fail with ENODEV: the device is closed and the source
waits for it to come back (polling every `rescan_s`), without spinning.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kiosk.sources.scanner import ReconnectingScanner

log = logging.getLogger(__name__)

EV_KEY = 1  # linux/input-event-codes.h; the codes below are the kernel's, stable ABI
KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_A = 30
KEY_DOWN, KEY_UP, KEY_REPEAT = 1, 0, 2  # event values

# key code → (plain, with Shift), US layout
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|",
    51: ",<", 52: ".>", 53: "/?", 57: "  ",
}
_LETTERS = dict(zip(
    [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 30, 31, 32, 33, 34, 35, 36, 37, 38,
     44, 45, 46, 47, 48, 49, 50],
    "qwertyuiopasdfghjklzxcvbnm",
    strict=True,
))
# The keypad types the same whatever Shift says (NumLock on, as keypads ship).
_KEYPAD = {82: "0", 79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8",
           73: "9", 83: ".", 98: "/", 55: "*", 74: "-", 78: "+"}
US_KEYMAP: dict[int, tuple[str, str]] = {
    **{code: (pair[0], pair[1]) for code, pair in _ROWS.items()},
    **{code: (ch, ch.upper()) for code, ch in _LETTERS.items()},
    **{code: (ch, ch) for code, ch in _KEYPAD.items()},
}
DIIA_CODE_LENGTH = 13


class Keystrokes:
    """Key events in, finished texts out. Feed every EV_KEY event to `key()`, and call
    `idle(now)` when none came for a while. At most `max_length` characters are kept (a
    stuck key cannot grow the text without bound)."""

    BURST_GAP_S = 0.05  # scanners type a key every few ms; people take 80 ms or more

    def __init__(
        self,
        inter_key_timeout_s: float = 0.3,
        abandon_s: float = 15.0,
        max_length: int = 512,
        keymap: dict[int, tuple[str, str]] = US_KEYMAP,
    ) -> None:
        self.inter_key_timeout_s = inter_key_timeout_s
        self.abandon_s = abandon_s
        self.max_length = max_length
        self._keymap = keymap
        self._chars: list[str] = []
        self._shift: set[int] = set()
        self._first_key = self._last_key = 0.0

    def key(self, code: int, value: int, at: float) -> str | None:
        """One key event; the finished text when this key ends one."""
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            if value == KEY_DOWN:
                self._shift.add(code)
            elif value == KEY_UP:
                self._shift.discard(code)
            return None
        if value != KEY_DOWN:  # releases, and the autorepeat of a held key
            return None
        if code in (KEY_ENTER, KEY_KPENTER):
            return self._finish()
        finished = self.idle(at)  # a pause before this key may have ended a text
        if not self._chars:
            self._first_key = at
        self._last_key = at
        if len(self._chars) < self.max_length:
            plain, shifted = self._keymap.get(code, ("\ufffd", "\ufffd"))  # unknown: spoils it
            self._chars.append(shifted if self._shift else plain)
        return finished

    def idle(self, now: float) -> str | None:
        """What a pause of `inter_key_timeout_s` since the last key ends.

        A scanner that sends no Enter: a text of a whole code's length or more is finished
        (a valid code goes on; a damaged one is refused, not grown further), and so is a
        shorter one typed in a burst (a scan that lost characters). A shorter text typed at
        a person's pace waits for more keys, up to `abandon_s`.
        """
        if not self._chars or now - self._last_key <= self.inter_key_timeout_s:
            return None
        count = len(self._chars)
        burst = count > 1 and (self._last_key - self._first_key) / (count - 1) < self.BURST_GAP_S
        if count >= DIIA_CODE_LENGTH or burst or now - self._last_key > self.abandon_s:
            return self._finish()
        return None

    @property
    def pending(self) -> bool:
        return bool(self._chars)

    def _finish(self) -> str | None:
        text = "".join(self._chars)
        self._chars.clear()
        return text or None


def load_evdev() -> Any:
    try:
        import evdev
    except ImportError as exc:
        raise ScannerUnavailable(
            f"evdev cannot be imported ({exc}): apt install python3-evdev, or pip install "
            "'diia-kiosk[scanners]'"
        ) from exc
    return evdev


class ScannerError(Exception):
    """Base of the scanners' errors."""


class ScannerUnavailable(ScannerError):
    """The library for this kind of scanner is not installed."""


class HidScanner(ReconnectingScanner):
    """A `CodeSource` over an evdev keyboard device, grabbed for this process alone.

    `path` names the device (best: a /dev/input/by-id/…-event-kbd link, stable across
    replugs); else `name` picks the first device whose name contains it and which has
    letter keys. `open_device(path)` and `list_devices()` are the seams (evdev's
    `InputDevice` and `list_devices` by default); a device needs `fd`, `name`, `grab()`,
    `ungrab()`, `read()`, `capabilities()` and `close()`.
    """

    def __init__(
        self,
        path: str = "",
        *,
        name: str = "",
        inter_key_timeout_s: float = 0.3,
        rescan_s: float = 1.0,
        open_device: Callable[[str], Any] | None = None,
        list_devices: Callable[[], Sequence[str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not path and not name:
            raise ValueError("a HID scanner needs a device path or a name to look for")
        if open_device is None or list_devices is None:
            evdev = load_evdev()
            open_device = open_device or evdev.InputDevice
            list_devices = list_devices or evdev.list_devices
        self.path = path
        self.name = name
        self.rescan_s = rescan_s
        self._open_device = open_device
        self._list_devices = list_devices
        self._keys = Keystrokes(inter_key_timeout_s)
        self._clock = clock
        self._sleep = sleep
        self._device: Any = None
        self._closed = False
        self._missing_logged = False

    def _is_connected(self) -> bool:
        return self._device is not None

    def _connect(self) -> bool:
        path = self.path or self._find()
        if not path:
            self._log_missing("no input device named like %r", self.name)
            return False
        try:
            device = self._open_device(path)
        except OSError as exc:
            self._log_missing("scanner %s cannot be opened: %s", path, exc.strerror or exc)
            return False
        try:
            device.grab()  # keystrokes reach nobody else: no console, no SDL, no other app
        except OSError as exc:
            device.close()
            self._log_missing("scanner %s cannot be grabbed (another program has it?): %s",
                              path, exc.strerror or exc)
            return False
        self._device = device
        self._missing_logged = False
        log.info("scanner open and grabbed: %s (%s)", path, getattr(device, "name", "?"))
        return True

    def _find(self) -> str:
        for path in self._list_devices():
            try:
                device = self._open_device(path)
            except OSError:
                continue
            try:
                keys = device.capabilities().get(EV_KEY, [])
                if self.name.lower() in device.name.lower() and KEY_A in keys:
                    return path
            finally:
                device.close()
        return ""

    def _read_texts(self) -> Iterator[str]:
        """Texts from the open device until it goes away."""
        device = self._device
        wait_s = self._keys.inter_key_timeout_s / 2
        while not self._closed:
            # select() with a timeout: no busy loop, and idle() gets its turn between keys.
            ready, _, _ = select.select([device.fd], [], [], wait_s)
            if ready:
                try:
                    events = list(device.read())
                except BlockingIOError:
                    events = []
                except OSError as exc:
                    if exc.errno not in (errno.ENODEV, errno.EIO, errno.EBADF):
                        log.error("scanner read failed: %s", exc)
                    log.warning("scanner unplugged; waiting for it to come back")
                    self._disconnect()
                    return
                for event in events:
                    if event.type == EV_KEY:
                        # Timed on our monotonic clock: an event's own stamp is wall time.
                        text = self._keys.key(event.code, event.value, self._clock())
                        if text is not None:
                            yield text
            text = self._keys.idle(self._clock())
            if text is not None:
                yield text

    def _disconnect(self) -> None:
        device, self._device = self._device, None
        if device is None:
            return
        # An unplugged device cannot be ungrabbed; closing its fd is what matters.
        for action in (device.ungrab, device.close):
            with contextlib.suppress(OSError):
                action()

    def _log_missing(self, message: str, *args: object) -> None:
        if not self._missing_logged:
            self._missing_logged = True
            log.warning(message + "; retrying", *args)
