"""The Pi's under-voltage and throttling flags, read from sysfs (no vcgencmd, no /dev/vcio).

Two places, both fed by the firmware driver's poll every 2 s:
- hwmon `rpi_volt`'s `in0_lcrit_alarm`: under-voltage seen in the last poll;
- the firmware device's `get_throttled`: the full bitmask (hex text), where bits 0-3 are
  "now" and 16-19 "occurred". The driver's poll clears the sticky bits, so 16-19 only mean
  "since the previous poll": the reader latches everything it sees since the kiosk started.

On anything but a Pi neither exists, and `read()` says so (None) instead of guessing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# get_throttled bits (Raspberry Pi documentation, "get_throttled").
FLAGS = {
    "under_voltage": 0,
    "frequency_capped": 1,
    "throttled": 2,
    "soft_temperature_limit": 3,
}
OCCURRED_SHIFT = 16  # bit N+16: condition N occurred since the last poll


@dataclass(frozen=True, slots=True)
class PowerFlags:
    """Each flag now, and whether it has been seen since the kiosk started."""

    now: dict[str, bool]
    seen: dict[str, bool]
    raw: int | None  # the get_throttled mask, when readable


class PowerReader:
    """Reads the flags under `sysfs` (an injected root for tests; "/sys" on a Pi)."""

    def __init__(self, sysfs: str | Path = "/sys") -> None:
        self._sysfs = Path(sysfs)
        self._latched = 0
        self._alarm: Path | None = None
        self._throttled: Path | None = None
        self._found = False

    def _find(self) -> None:
        self._found = True
        for name in sorted(self._sysfs.glob("class/hwmon/hwmon*/name")):
            try:
                if name.read_text().strip() == "rpi_volt":
                    self._alarm = name.with_name("in0_lcrit_alarm")
                    break
            except OSError:
                continue
        found = sorted(
            self._sysfs.glob("bus/platform/drivers/raspberrypi-firmware/*/get_throttled")
        )
        self._throttled = found[0] if found else None

    @property
    def available(self) -> bool:
        if not self._found:
            self._find()
        return self._alarm is not None or self._throttled is not None

    def read(self) -> PowerFlags | None:
        """The flags now, or None off a Pi. Never raises."""
        if not self.available:
            return None
        mask = 0
        raw = None
        if self._throttled is not None:
            try:
                raw = int(self._throttled.read_text().strip() or "0", 16)
                mask |= raw
            except (OSError, ValueError) as exc:
                log.debug("cannot read %s: %s", self._throttled, exc)
        if self._alarm is not None:
            try:
                if self._alarm.read_text().strip() == "1":
                    mask |= 1 << FLAGS["under_voltage"]
            except OSError as exc:
                log.debug("cannot read %s: %s", self._alarm, exc)
        now_bits = mask & 0xF
        if now_bits & ~self._latched & 1:
            log.warning("under-voltage: the power supply is too weak for this Pi")
        self._latched |= now_bits | (mask >> OCCURRED_SHIFT) & 0xF
        return PowerFlags(
            now={name: bool(now_bits >> bit & 1) for name, bit in FLAGS.items()},
            seen={name: bool(self._latched >> bit & 1) for name, bit in FLAGS.items()},
            raw=raw,
        )
