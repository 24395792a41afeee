"""The Pi's under-voltage and throttling flags, read from sysfs (no vcgencmd, no /dev/vcio).

Two places (read in raspberrypi/linux, drivers/hwmon/raspberrypi-hwmon.c and
drivers/firmware/raspberrypi.c):
- the firmware device's `get_throttled`: the full bitmask (hex text). Bits 0-3 are the
  conditions *now*; bits 16-19 that they *occurred* (the firmware keeps them since boot, but
  the hwmon driver asks it to clear them at each of its 2 s polls, so they may cover only
  the last poll). Only bits 0-3 are "now".
- hwmon `rpi_volt`'s `in0_lcrit_alarm`: bit 16 of that poll, i.e. under-voltage *occurred*
  within the last ~2 s: sticky, not "now", so it counts as seen (and as `recent`).
Everything that occurred is latched for as long as the kiosk runs.

hwmon is read where it exists, and then `get_throttled` never is: the first read of that
attribute logs a one-time kernel WARNING ("deprecated, use hwmon sysfs instead") and taints
the kernel. So a Pi with hwmon reports under-voltage only (as seen), not "now" nor the
frequency and temperature flags; `get_throttled` is read only where hwmon is missing.

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
OCCURRED_SHIFT = 16  # bit N+16: condition N occurred (since boot, or since the last poll)


@dataclass(frozen=True, slots=True)
class PowerFlags:
    """Each flag now (get_throttled bits 0-3; all False when only hwmon is readable), whether
    it has been seen since the kiosk started, and under-voltage in the last ~2 s (hwmon)."""

    now: dict[str, bool]
    seen: dict[str, bool]
    raw: int | None  # the get_throttled mask, when readable
    recent_under_voltage: bool = False


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
        if self._alarm is not None:
            return  # never touch get_throttled where hwmon answers
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
        raw = None
        if self._throttled is not None:
            try:
                raw = int(self._throttled.read_text().strip() or "0", 16)
            except (OSError, ValueError) as exc:
                log.debug("cannot read %s: %s", self._throttled, exc)
        recent = False
        if self._alarm is not None:
            try:
                recent = self._alarm.read_text().strip() == "1"
            except OSError as exc:
                log.debug("cannot read %s: %s", self._alarm, exc)
        mask = raw or 0
        now_bits = mask & 0xF
        occurred = now_bits | (mask >> OCCURRED_SHIFT) & 0xF | (1 if recent else 0)
        if occurred & ~self._latched & 1:
            log.warning("under-voltage: the power supply is too weak for this Pi")
        self._latched |= occurred
        return PowerFlags(
            now={name: bool(now_bits >> bit & 1) for name, bit in FLAGS.items()},
            seen={name: bool(self._latched >> bit & 1) for name, bit in FLAGS.items()},
            raw=raw,
            recent_under_voltage=recent,
        )
