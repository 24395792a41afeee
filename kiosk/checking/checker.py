"""Code → Verdict: the mode policy, the seen-code cache, and the one rule that matters most:
every failure becomes a verdict, and doubt is never green.

Modes: "validate" (the document is valid), "age" (its holder is at least `min_age`), "name"
(the holder's full name is the one the partner's system supplied for this check, through a
`NameSource`; with no name supplied the verdict is unknown and Diia is not asked).

Two memories, in memory only, keyed by a keyed hash of the code (and, in mode "name", of the
expected name too), each entry living as long as a code does (3 minutes):
- `seen`: pass and fail verdicts; a repeat scan is answered from here, marked `cached`,
  without asking Diia. Unknown verdicts are not kept: doubt is worth asking again.
- `doubtful`: codes whose check ended unknown after the code may have reached Diia (a
  timeout, a drop, a 5xx). Diia may have used the code up on that attempt, so a later
  "used" for it gives unknown, not fail: the customer is not turned away for our failure.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from kiosk.checking.names import NameSource, NoName
from kiosk.decoding.codes import code_id, keyed_digest
from kiosk.diia.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    CodeExpired,
    CodeNotFound,
    CodeUsed,
    DiiaError,
    DiiaTimeout,
    DiiaUnavailable,
    NetworkError,
    UsedAfterFailedAttempt,
)
from kiosk.model import MODES, CheckTerms, Code, CodeKind, HolderName, Outcome, Reason, Verdict

log = logging.getLogger(__name__)

CODE_LIFETIME_S = 180.0  # a Diia code is valid for 3 minutes

# What a plain "no" from Diia means in each mode. Diia's age and name answers do not say
# whether the document itself was not valid: a no is a no to the question asked.
REFUSAL_REASONS = {"validate": Reason.NOT_VALID, "age": Reason.UNDERAGE,
                   "name": Reason.NAME_MISMATCH}

# The Diia client's errors → our reasons: the adapter's one table (a subclass not listed
# takes its nearest listed base's reason).
DIIA_ERROR_REASONS: dict[type[DiiaError], Reason] = {
    CodeExpired: Reason.EXPIRED,
    CodeUsed: Reason.USED,
    CodeNotFound: Reason.NOT_FOUND,
    UsedAfterFailedAttempt: Reason.USED_AFTER_FAILED_ATTEMPT,
    DiiaUnavailable: Reason.DIIA_UNAVAILABLE,
    DiiaTimeout: Reason.TIMEOUT,
    NetworkError: Reason.NETWORK,
    AuthFailed: Reason.AUTH_FAILED,
    BadResponse: Reason.BAD_RESPONSE,
    BadRequest: Reason.BAD_REQUEST,
}


def reason_for(error: DiiaError) -> Reason:
    for kind in type(error).__mro__:
        if kind in DIIA_ERROR_REASONS:
            return DIIA_ERROR_REASONS[kind]
    return Reason.BAD_RESPONSE


class Checker(Protocol):
    def check(self, code: Code, terms: CheckTerms | None = None) -> Verdict:
        """The verdict on `code`; `terms` (from the till) override the configured mode, the
        minimum age and the expected name for this one check. Never raises."""
        ...


class DiiaPort(Protocol):
    """The calls the checker needs from the Diia client."""

    def validate(self, code: Code) -> bool: ...

    def check_age(self, code: Code, min_age: int) -> bool: ...

    def check_name(self, code: Code, name: HolderName) -> bool: ...


class SeenCodes:
    """Verdicts by key for 3 minutes, in memory only; expired entries are dropped as it goes."""

    def __init__(self, ttl_s: float = CODE_LIFETIME_S, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self.clock = clock
        self._entries: dict[str, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() - entry[0] >= self._ttl_s:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: str, verdict: Verdict) -> None:
        now = self.clock()
        with self._lock:
            # Drop expired entries as we go so memory stays flat over months.
            for stale in [k for k, (t, _) in self._entries.items() if now - t >= self._ttl_s]:
                del self._entries[stale]
            self._entries[key] = (now, verdict)

    def __len__(self) -> int:
        return len(self._entries)


class DiiaChecker:
    """Asks Diia about a code under the configured mode and never raises.

    `names` supplies the expected name in mode "name" (default: none, so every name check is
    unknown). `hash_key` keys the code ids and the memories; a fresh one per process, so ids
    correlate events within a run and never across runs.
    """

    def __init__(
        self,
        diia: DiiaPort,
        *,
        mode: str,
        min_age: int = 18,
        send_qr: bool = True,
        names: NameSource | None = None,
        seen: SeenCodes | None = None,
        hash_key: bytes | None = None,
        clock_trusted: Callable[[], bool] | None = None,
    ) -> None:
        # Asked after the call, so Diia's own Date header can vouch for the clock (ops/clock.py).
        self._clock_trusted = clock_trusted
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        self._diia = diia
        self._mode = mode
        self._min_age = min_age
        self._send_qr = send_qr
        self._names: NameSource = names or NoName()
        self._seen = seen if seen is not None else SeenCodes()  # empty is falsy
        self._doubtful = SeenCodes(clock=self._seen.clock)
        self._hash_key = hash_key or secrets.token_bytes(32)

    @property
    def mode(self) -> str:
        return self._mode

    def code_id(self, code: Code) -> str:
        """The short id events carry: a keyed-hash prefix, never the code."""
        return code_id(code.text, self._hash_key)

    def check(self, code: Code, terms: CheckTerms | None = None) -> Verdict:
        started = time.perf_counter()
        cid = self.code_id(code)
        mode = terms.mode if terms is not None and terms.mode else self._mode
        min_age = self._min_age
        if terms is not None and terms.min_age is not None:
            min_age = terms.min_age
        if code.kind is CodeKind.QR and not self._send_qr:
            return self._done(code, cid, mode, started, Reason.QR_NOT_SUPPORTED)
        name = None
        from_source = False  # the name came from the name source (not the till's terms)
        if mode == "name":
            name = terms.names if terms is not None else None
            if name is None:
                name, from_source = self._expected_name(), True
            if name is None:  # never ask Diia about a name nobody supplied
                return self._done(code, cid, mode, started, Reason.NAME_MISSING)
        key = self._memory_key(code, mode, min_age, name)
        cached = self._seen.get(key)
        if cached is not None:
            log.info("code %s seen again: answered from memory (%s)", cid, cached.reason)
            if name is not None and from_source:
                self._names.used(name)
            return replace(cached, cached=True, ms={"diia": 0.0})
        reason, may_be_used = self._ask(code, mode, min_age, name, key)
        decided = reason.outcome is not Outcome.UNKNOWN
        if decided and self._clock_trusted and not self._clock_trusted():
            # Time decides validity; Diia may have used the code, so a later "used" is doubt.
            reason, may_be_used = Reason.CLOCK_UNTRUSTED, True
        verdict = self._done(code, cid, mode, started, reason)
        if reason.outcome is not Outcome.UNKNOWN:
            self._seen.put(key, verdict)
            if name is not None and from_source:
                self._names.used(name)
        elif may_be_used:
            self._doubtful.put(key, verdict)
        return verdict

    def _done(self, code: Code, cid: str, mode: str, started: float, reason: Reason) -> Verdict:
        ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("code %s: %s (%s) in %.0f ms", cid, reason.outcome, reason, ms)
        return Verdict(reason, mode, code.kind, cid, ms={"diia": ms})

    def _memory_key(self, code: Code, mode: str, min_age: int, name: HolderName | None) -> str:
        # The whole digest, not the 8-character id: a collision here would hand one code
        # another code's verdict. The question is part of it: a pass at 18 is no pass at 21.
        question = f"{mode}\x1e{min_age}" if mode == "age" else mode
        text = f"{code.text}\x1e{question}"
        if name is not None:
            text += f"\x1e{name.key()}"
        return keyed_digest(text, self._hash_key)

    def _expected_name(self) -> HolderName | None:
        try:
            return self._names.expected_name()
        except Exception:  # a broken source is an unknown verdict, never a crash
            log.exception("the name source failed")
            return None

    def _ask(
        self, code: Code, mode: str, min_age: int, name: HolderName | None, key: str
    ) -> tuple[Reason, bool]:
        """(reason, whether Diia may have used the code without a clear answer)."""
        try:
            if mode == "validate":
                confirmed = self._diia.validate(code)
            elif mode == "age":
                confirmed = self._diia.check_age(code, min_age)
            else:
                assert name is not None
                confirmed = self._diia.check_name(code, name)
        except CodeUsed:
            if self._doubtful.get(key) is not None:
                log.info("Diia says used, but our earlier attempt with this code failed mid-way")
                return Reason.USED_AFTER_FAILED_ATTEMPT, True
            return Reason.USED, False
        except DiiaError as exc:
            return reason_for(exc), exc.code_may_be_used
        except Exception:  # a bug below must still end as amber, never as a crash or green
            log.exception("unexpected error while checking a code")
            return Reason.BAD_RESPONSE, True
        if confirmed is True:
            return Reason.VALID, False
        if confirmed is False:
            return REFUSAL_REASONS[mode], False
        log.error("the Diia client answered %s, not a bool", type(confirmed).__name__)
        return Reason.BAD_RESPONSE, True
