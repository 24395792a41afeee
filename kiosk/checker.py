"""Code → Verdict: the mode policy, the seen-code cache, and the one rule that matters most:
every failure becomes a verdict, and doubt is never green.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from kiosk.codes import code_id
from kiosk.diia.errors import DiiaError
from kiosk.model import Code, CodeKind, Outcome, Verdict

log = logging.getLogger(__name__)

CODE_LIFETIME_S = 180.0  # a Diia code is valid for 3 minutes

# What a plain "no" from Diia means in each mode.
REFUSAL_REASONS = {"validate": "not_valid", "age": "underage", "name": "name_mismatch"}


class Checker(Protocol):
    def check(self, code: Code) -> Verdict: ...


class DiiaPort(Protocol):
    """The calls the checker needs from the Diia client."""

    def validate(self, code: Code) -> bool: ...

    def check_age(self, code: Code, min_age: int) -> bool: ...


class SeenCodes:
    """Verdicts of codes seen in the last 3 minutes, keyed by a keyed hash, in memory only."""

    def __init__(self, ttl_s: float = CODE_LIFETIME_S, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, Verdict]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Verdict | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry[0] >= self._ttl_s:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: str, verdict: Verdict) -> None:
        now = self._clock()
        with self._lock:
            # Drop expired entries as we go so memory stays flat over months.
            for stale in [k for k, (t, _) in self._entries.items() if now - t >= self._ttl_s]:
                del self._entries[stale]
            self._entries[key] = (now, verdict)

    def __len__(self) -> int:
        return len(self._entries)


class DiiaChecker:
    """Asks Diia about a code under the configured mode and never raises."""

    def __init__(
        self,
        diia: DiiaPort,
        *,
        mode: str,
        min_age: int = 18,
        send_qr: bool = True,
        seen: SeenCodes | None = None,
        hash_key: bytes | None = None,
    ) -> None:
        self._diia = diia
        self._mode = mode
        self._min_age = min_age
        self._send_qr = send_qr
        self._seen = seen or SeenCodes()
        # A fresh key per process: code ids correlate events within a run, never across.
        self._hash_key = hash_key or secrets.token_bytes(32)

    @property
    def mode(self) -> str:
        return self._mode

    def code_id(self, code: Code) -> str:
        return code_id(code.text, self._hash_key)

    def check(self, code: Code) -> Verdict:
        started = time.perf_counter()
        cid = self.code_id(code)
        cached = self._seen.get(cid)
        if cached is not None:
            log.info("code %s seen again: answered from memory (%s)", cid, cached.reason)
            return replace(cached, cached=True, ms={"diia": 0.0})
        outcome, reason = self._ask(code)
        verdict = Verdict(
            outcome=outcome,
            reason=reason,
            mode=self._mode,
            code_kind=code.kind,
            code_id=cid,
            ms={"diia": round((time.perf_counter() - started) * 1000, 1)},
        )
        if outcome is not Outcome.UNKNOWN:  # doubt is worth asking again next time
            self._seen.put(cid, verdict)
        log.info("code %s: %s (%s) in %.0f ms", cid, outcome, reason, verdict.ms["diia"])
        return verdict

    def _ask(self, code: Code) -> tuple[Outcome, str]:
        if code.kind is CodeKind.QR and not self._send_qr:
            return Outcome.UNKNOWN, "qr_not_supported"
        try:
            if self._mode == "validate":
                confirmed = self._diia.validate(code)
            elif self._mode == "age":
                confirmed = self._diia.check_age(code, self._min_age)
            else:
                return Outcome.UNKNOWN, "mode_unavailable"
        except DiiaError as exc:
            return (Outcome.FAIL if exc.outcome_is_fail else Outcome.UNKNOWN), exc.reason
        except Exception:  # a bug below must still end as amber, never as a crash or green
            log.exception("unexpected error while checking a code")
            return Outcome.UNKNOWN, "bad_response"
        if confirmed is True:
            return Outcome.PASS, "valid"
        return Outcome.FAIL, REFUSAL_REASONS[self._mode]
