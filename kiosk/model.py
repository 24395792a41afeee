"""Plain data that moves through the loop: frames, codes, verdicts and what is shown.

Nothing here does I/O. A `Code`'s text is a one-time credential of the customer's: it is kept
out of `repr()` so that it cannot reach a log line by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One grayscale camera frame: `pixels` is a 2-D `uint8` array, `timestamp` monotonic s."""

    pixels: np.ndarray
    timestamp: float


class CodeKind(StrEnum):
    BARCODE = "barcode"  # the 13 digits, drawn as EAN-13 (Android) or Code 128 (iOS)
    QR = "qr"  # the Diia verify URL


@dataclass(frozen=True, slots=True)
class Code:
    """A Diia code as read: `text` is normalised (digits only, or the verify URL)."""

    text: str = field(repr=False)
    kind: CodeKind
    symbology: str  # "EAN-13", "Code128", "QRCode" or "typed"
    decode_ms: float = 0.0


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"  # amber: cannot verify, check by other means


@dataclass(frozen=True, slots=True)
class Verdict:
    """The closed set of answers a check can give; `reason` is a short stable identifier."""

    outcome: Outcome
    reason: str
    mode: str
    code_kind: CodeKind
    code_id: str  # keyed hash prefix, never the code
    cached: bool = False
    ms: dict[str, float] = field(default_factory=dict)


class Phase(StrEnum):
    IDLE = "idle"
    READING = "reading"
    CHECKING = "checking"
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    ATTENDED_WAIT = "attended_wait"  # attended age checks: nobody has armed the kiosk


RESULT_PHASES = {
    Outcome.PASS: Phase.PASS,
    Outcome.FAIL: Phase.FAIL,
    Outcome.UNKNOWN: Phase.UNKNOWN,
}


class Fault(StrEnum):
    """Conditions shown as a banner on top of any phase."""

    CAMERA = "camera"
    NETWORK = "network"
    CLOCK = "clock"
    CONFIG = "config"


@dataclass(frozen=True, slots=True)
class State:
    """What every signal shows: the phase, its verdict if any, and the faults in force."""

    phase: Phase
    verdict: Verdict | None = None
    faults: frozenset[Fault] = frozenset()
    since: float = 0.0  # monotonic time the phase began
    awaiting_staff: bool = False  # attended mode: the verdict stays until staff acknowledge it
