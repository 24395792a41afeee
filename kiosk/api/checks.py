"""The till's checks: what it asked for, and where each one stands.

A check is armed by the till (`POST /v1/checks`) with its terms: the mode, the minimum age,
the recipient's name, a reference of the till's own. The next Diia code read is checked on
those terms. Its life:

    armed ──code read──▶ checking ──verdict──▶ done
      │ till cancels ──▶ cancelled
      └ expires_s pass ▶ expired

Everything here is plain values and a clock passed in: the loop, the HTTP handlers and the
tests drive it alike. A name lives on an armed or checking check only; it is dropped the
moment the check ends, whatever way it ends, and never appears in a repr.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from kiosk.names import HolderName

MODES = ("validate", "age", "name", "share")
KEEP_ENDED = 200  # ended checks kept for GET /v1/checks/{id}; the oldest go first
MAX_ARMED = 16  # a till that arms without end is a bug on its side: refuse, do not grow


class TooManyArmed(RuntimeError):
    """`MAX_ARMED` checks are already waiting for a code."""


class CheckState(StrEnum):
    ARMED = "armed"
    CHECKING = "checking"
    DONE = "done"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ENDED = (CheckState.DONE, CheckState.CANCELLED, CheckState.EXPIRED)


@dataclass(frozen=True, slots=True)
class CheckTerms:
    """What the till asked for. `name` is set for mode "name" only."""

    mode: str
    min_age: int = 18
    name: HolderName | None = field(default=None, repr=False)
    reference: str | None = None
    expires_s: float = 120.0


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    terms: CheckTerms
    state: CheckState
    armed_at: float  # monotonic
    expires_at: float  # monotonic; meaningful while armed
    verdict: dict[str, Any] | None = None  # the verdict event, once done
    request_id: str | None = None  # mode "share": the requestId sent to Diia

    def public(self) -> dict[str, Any]:
        """The check as `GET /v1/checks/{id}` shows it: never the name."""
        shown: dict[str, Any] = {"id": self.id, "state": str(self.state),
                                 "mode": self.terms.mode}
        if self.terms.reference is not None:
            shown["reference"] = self.terms.reference
        if self.request_id is not None:
            shown["request_id"] = self.request_id
        if self.verdict is not None:
            shown["verdict"] = self.verdict
        return shown


class CheckRegistry:
    """The till's checks, oldest armed first. Safe to share between threads.

    Only one check is in `checking` at a time (the loop checks one code at a time): `start()`
    takes the oldest armed one, `finish()` ends it with its verdict.
    """

    def __init__(self, clock: Callable[[], float], new_id: Callable[[], str] | None = None):
        self._clock = clock
        self._new_id = new_id or (lambda: secrets.token_hex(8))
        self._lock = threading.Lock()
        self._checks: OrderedDict[str, Check] = OrderedDict()
        self._on_change: list[Callable[[Check], None]] = []

    def subscribe(self, listener: Callable[[Check], None]) -> None:
        """`listener(check)` hears every change of state (called outside the lock)."""
        self._on_change.append(listener)

    def arm(self, terms: CheckTerms) -> Check:
        now = self._clock()
        check = Check(self._new_id(), terms, CheckState.ARMED, now, now + terms.expires_s)
        with self._lock:
            changed = self._expire(now)
            if sum(c.state is CheckState.ARMED for c in self._checks.values()) >= MAX_ARMED:
                raise TooManyArmed(f"{MAX_ARMED} checks are already armed")
            self._checks[check.id] = check
            self._trim()
        self._tell([*changed, check])
        return check

    def get(self, check_id: str) -> Check | None:
        with self._lock:
            self._expire(self._clock())
            return self._checks.get(check_id)

    def armed(self) -> Check | None:
        """The check the next code read will be checked on, if any."""
        with self._lock:
            changed = self._expire(self._clock())
            found = next((c for c in self._checks.values() if c.state is CheckState.ARMED),
                         None)
        self._tell(changed)
        return found

    def cancel(self, check_id: str) -> tuple[Check | None, bool]:
        """Cancel an armed check: (the check, whether this call cancelled it); (None, False)
        if there is no such check. A check no longer armed is returned as it is."""
        cancelled = False
        with self._lock:
            changed = self._expire(self._clock())
            check = self._checks.get(check_id)
            if check is not None and check.state is CheckState.ARMED:
                check = self._put(check, CheckState.CANCELLED)
                changed.append(check)
                cancelled = True
        self._tell(changed)
        return check, cancelled

    def start(self) -> Check | None:
        """The oldest armed check goes to `checking`; None when none is armed."""
        with self._lock:
            changed = self._expire(self._clock())
            check = next((c for c in self._checks.values() if c.state is CheckState.ARMED),
                         None)
            if check is not None:
                check = self._put(check, CheckState.CHECKING)
                changed.append(check)
        self._tell(changed)
        return check

    def note_request(self, check_id: str, request_id: str) -> None:
        """Mode "share": the requestId sent to Diia for this check."""
        with self._lock:
            check = self._checks.get(check_id)
            if check is not None:
                self._checks[check_id] = replace(check, request_id=request_id)

    def finish(self, verdict: dict[str, Any]) -> Check | None:
        """The check being checked is done with `verdict` (an event dict), to which its id,
        reference and share requestId are added; None if no check was being checked (the
        code was read with no check armed)."""
        with self._lock:
            check = next((c for c in self._checks.values() if c.state is CheckState.CHECKING),
                         None)
            if check is not None:
                told = {**verdict, "id": check.id}
                if check.terms.reference is not None:
                    told["reference"] = check.terms.reference
                if check.request_id is not None:
                    told["request_id"] = check.request_id
                check = self._put(check, CheckState.DONE, verdict=told)
        self._tell([check] if check else [])
        return check

    def expire(self) -> list[Check]:
        """End armed checks whose time is up; the ones that just expired."""
        with self._lock:
            changed = self._expire(self._clock())
        self._tell(changed)
        return changed

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._expire(self._clock())
            found = {str(state): 0 for state in CheckState}
            for check in self._checks.values():
                found[str(check.state)] += 1
        return found

    # -- inside the lock --------------------------------------------------------------------

    def _put(self, check: Check, state: CheckState, **changes: Any) -> Check:
        terms = check.terms
        if state in ENDED and terms.name is not None:
            terms = replace(terms, name=None)  # the name is needed no longer: forget it
        check = replace(check, state=state, terms=terms, **changes)
        self._checks[check.id] = check
        return check

    def _expire(self, now: float) -> list[Check]:
        expired = [
            self._put(c, CheckState.EXPIRED)
            for c in list(self._checks.values())
            if c.state is CheckState.ARMED and now >= c.expires_at
        ]
        return expired

    def _trim(self) -> None:
        ended = [k for k, c in self._checks.items() if c.state in ENDED]
        for key in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self._checks[key]

    def _tell(self, changed: list[Check]) -> None:
        for check in changed:
            for listener in self._on_change:
                listener(check)
