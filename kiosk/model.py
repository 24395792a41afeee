"""Plain data that moves through the loop: frames, codes, verdicts and what is shown.

Nothing here does I/O. A `Code`'s text is a one-time credential of the customer's: it is kept
out of `repr()` so that it cannot reach a log line by accident.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

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


class Reason(Enum):
    """Why a verdict is what it is: the closed set, each with the one outcome it gives.

    `str(reason)` is the stable identifier events, metrics and logs carry. Two members share
    "used": Diia's plain "used" (fail), and a "used" for a code an earlier attempt of ours may
    have used up mid-way (unknown: the customer is not turned away for our failure).
    """

    VALID = ("valid", Outcome.PASS)
    NOT_VALID = ("not_valid", Outcome.FAIL)
    UNDERAGE = ("underage", Outcome.FAIL)
    NAME_MISMATCH = ("name_mismatch", Outcome.FAIL)
    EXPIRED = ("expired", Outcome.FAIL)
    USED = ("used", Outcome.FAIL)
    NOT_FOUND = ("not_found", Outcome.FAIL)
    USED_AFTER_FAILED_ATTEMPT = ("used", Outcome.UNKNOWN)
    TIMEOUT = ("timeout", Outcome.UNKNOWN)
    DIIA_UNAVAILABLE = ("diia_unavailable", Outcome.UNKNOWN)
    NETWORK = ("network", Outcome.UNKNOWN)
    AUTH_FAILED = ("auth_failed", Outcome.UNKNOWN)
    BAD_RESPONSE = ("bad_response", Outcome.UNKNOWN)
    BAD_REQUEST = ("bad_request", Outcome.UNKNOWN)
    CLOCK_UNTRUSTED = ("clock_untrusted", Outcome.UNKNOWN)
    QR_NOT_SUPPORTED = ("qr_not_supported", Outcome.UNKNOWN)
    NAME_MISSING = ("name_missing", Outcome.UNKNOWN)
    # Sharing (the till's mode "share"): the holder's answer in Diia to a document request.
    SHARED = ("shared", Outcome.PASS)
    SHARE_REFUSED = ("share_refused", Outcome.FAIL)
    SHARE_EXPIRED = ("share_expired", Outcome.FAIL)
    SHARE_TIMEOUT = ("share_timeout", Outcome.UNKNOWN)

    def __init__(self, identifier: str, outcome: Outcome) -> None:
        self.identifier = identifier
        self.outcome = outcome

    def __str__(self) -> str:
        return self.identifier

    @property
    def diia_failed(self) -> bool:
        """Diia (or the way to it) could not answer, as opposed to answering "no"."""
        return self in DIIA_FAILURES


DIIA_FAILURES = frozenset({Reason.TIMEOUT, Reason.DIIA_UNAVAILABLE, Reason.NETWORK,
                           Reason.AUTH_FAILED, Reason.BAD_RESPONSE, Reason.BAD_REQUEST})


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer a check gives; its outcome follows from its reason."""

    reason: Reason
    mode: str
    code_kind: CodeKind
    code_id: str  # keyed hash prefix, never the code
    cached: bool = False
    ms: dict[str, float] = field(default_factory=dict)
    request_id: str | None = None  # sharing: the requestId Diia tags its delivery with

    @property
    def outcome(self) -> Outcome:
        return self.reason.outcome


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
    CONFIG_STALE = "config_stale"  # the fleet's repository is past its expiry: a freeze?
    STORAGE = "storage"  # the state directory is full: a new config waits for room
    OUTPUT = "output"  # an output (events, screen, LEDs, ...) failed; the others carry on


@dataclass(frozen=True, slots=True)
class State:
    """What every signal shows: the phase, its verdict if any, and the faults in force."""

    phase: Phase
    verdict: Verdict | None = None
    faults: frozenset[Fault] = frozenset()
    since: float = 0.0  # monotonic time the phase began
    awaiting_staff: bool = False  # attended mode: the verdict stays until staff acknowledge it
    sharing: bool = False  # checking a share: the customer is to confirm it in Diia
    offer_link: str = ""  # online share: the Diia deeplink the screen shows as a QR


class StaffCommand(StrEnum):
    PRESS = "press"  # the one button: whatever the kiosk waits for
    ARM = "arm"  # allow one age check
    ACKNOWLEDGE = "acknowledge"  # the verdict on the screen was seen: clear it


MAX_NAME_CHARS = 100


class InvalidName(ValueError):
    """Names that cannot be used: missing, empty, too long, or not text."""


@dataclass(frozen=True, slots=True)
class HolderName:
    """A full name as the partner's system holds it; `middle_name` (по батькові) may be ""."""

    last_name: str = field(repr=False)
    first_name: str = field(repr=False)
    middle_name: str = field(default="", repr=False)

    @classmethod
    def parse(cls, fields: Mapping[str, Any]) -> HolderName:
        """From `last_name`, `first_name` and optional `middle_name`; raises `InvalidName`."""
        unknown = set(fields) - {"last_name", "first_name", "middle_name"}
        if unknown:
            raise InvalidName(f"unknown field(s): {', '.join(sorted(unknown))}")
        return cls(
            last_name=_clean("last_name", fields.get("last_name"), required=True),
            first_name=_clean("first_name", fields.get("first_name"), required=True),
            middle_name=_clean("middle_name", fields.get("middle_name", ""), required=False),
        )

    def key(self) -> str:
        """One string for hashing: the seen-code cache keys a name check by code and name."""
        return "\x1f".join((self.last_name, self.first_name, self.middle_name))


def _clean(key: str, value: Any, *, required: bool) -> str:
    if value is None:
        if required:
            raise InvalidName(f"{key} is missing")
        return ""
    if not isinstance(value, str):
        raise InvalidName(f"{key} must be text")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if required and not text:
        raise InvalidName(f"{key} is empty")
    if len(text) > MAX_NAME_CHARS:
        raise InvalidName(f"{key} is longer than {MAX_NAME_CHARS} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise InvalidName(f"{key} holds control characters")
    return text


MODES = ("validate", "age", "name")  # what Diia is asked
# The ages a minimum age may be (config, till API, loop, OpenAPI and README agree): 0 asks
# only that the document is valid.
MIN_AGE, MAX_AGE = 0, 150
# Sharing is asked for by the till only, one check at a time. "share" asks the holder of the
# code read; "share_online" needs no code: the screen shows a Diia deeplink as a QR.
TILL_MODES = (*MODES, "share", "share_online")


@dataclass(frozen=True, slots=True)
class CheckTerms:
    """What the till asks of one check; None/"" fields take the configured value. `id` is
    given when the till's record takes the check ("" before)."""

    id: str
    mode: str | None = None  # "validate" | "age" | "name", or "share" (the till's API)
    min_age: int | None = None
    names: HolderName | None = None  # mode "name": the name from the order
    reference: str = ""  # the till's own reference, echoed back
    expires_in_s: float | None = None  # how long the arming waits; None: arm_seconds

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in TILL_MODES:
            raise ValueError(f"unknown mode {self.mode!r}; known: {', '.join(TILL_MODES)}")
        if self.min_age is not None and not MIN_AGE <= self.min_age <= MAX_AGE:
            raise ValueError(f"min_age {self.min_age} is not within {MIN_AGE}..{MAX_AGE}")
        if self.expires_in_s is not None and not 0 < self.expires_in_s <= 3600:
            raise ValueError(f"expires_in_s {self.expires_in_s} is not within 1 hour")
