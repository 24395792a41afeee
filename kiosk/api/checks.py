"""The till's record of its checks: what it asked for, and where each one stands.

The loop (kiosk/loop.py) decides what happens to a check; this registry is the till's side
of it, kept for `GET /v1/checks/{id}` and the event stream. A check is recorded `armed` when
the till asks, then follows what the loop reports:

    armed ──code read──▶ checking ──verdict──▶ done
      │ till cancels (or arms another) ──▶ cancelled
      └ not used within expires_s ──▶ expired

Plain values, and a clock passed in; the loop, the HTTP handlers and the tests drive it
alike. The recipient's name is never recorded here: the loop holds it for the one check.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from kiosk.loop import CheckStatus
from kiosk.model import CheckTerms

KEEP_ENDED = 200  # ended checks kept for GET /v1/checks/{id}; the oldest go first
MAX_OPEN = 16  # a till that arms without end is a bug on its side: refuse, do not grow


class TooManyOpen(RuntimeError):
    """`MAX_OPEN` checks are already armed or checking."""


OPEN = (CheckStatus.ARMED, CheckStatus.CHECKING)
ENDED = (CheckStatus.DONE, CheckStatus.CANCELLED, CheckStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    terms: CheckTerms  # without the names
    state: CheckStatus
    armed_at: float  # monotonic
    verdict: dict[str, Any] | None = None  # the verdict event, once done
    request_id: str | None = None  # mode "share": the requestId sent to Diia

    def public(self) -> dict[str, Any]:
        """The check as `GET /v1/checks/{id}` shows it."""
        shown: dict[str, Any] = {"id": self.id, "state": str(self.state),
                                 "mode": self.terms.mode}
        if self.terms.reference:
            shown["reference"] = self.terms.reference
        if self.request_id is not None:
            shown["request_id"] = self.request_id
        if self.verdict is not None:
            shown["verdict"] = self.verdict
        return shown


class CheckRegistry:
    """The till's checks. Safe to share between threads; listeners hear every change."""

    def __init__(self, clock: Callable[[], float], new_id: Callable[[], str] | None = None):
        self._clock = clock
        self._new_id = new_id or (lambda: secrets.token_hex(8))
        self._changed = threading.Condition()
        self._checks: OrderedDict[str, Check] = OrderedDict()
        self._listeners: list[Callable[[Check], None]] = []

    def subscribe(self, listener: Callable[[Check], None]) -> None:
        """`listener(check)` hears every change of state (called outside the lock)."""
        self._listeners.append(listener)

    def arm(self, terms: CheckTerms) -> Check:
        new_id = self._new_id()
        check = Check(new_id, replace(terms, id=new_id, names=None), CheckStatus.ARMED,
                      self._clock())
        with self._changed:
            if sum(c.state in OPEN for c in self._checks.values()) >= MAX_OPEN:
                raise TooManyOpen(f"{MAX_OPEN} checks are already open")
            self._checks[check.id] = check
            self._trim()
        return check  # told once the loop has taken it (`taken`)

    def taken(self, check_id: str) -> Check | None:
        """The loop has taken check `check_id`: now it is told as armed."""
        with self._changed:
            check = self._checks.get(check_id)
        if check is not None and check.state is CheckStatus.ARMED:
            self._tell(check)
        return check

    def get(self, check_id: str) -> Check | None:
        with self._changed:
            return self._checks.get(check_id)

    def move(self, check_id: str, state: CheckStatus) -> Check | None:
        """The loop says check `check_id` is now `state` (not DONE: see `finish`). A check
        already ended stays as it is; None for an unknown id."""
        with self._changed:
            check = self._checks.get(check_id)
            if check is None or check.state in ENDED or check.state is state:
                return check
            check = self._put(replace(check, state=state))
        self._tell(check)
        return check

    def finish(self, verdict: dict[str, Any], check_id: str) -> Check | None:
        """Check `check_id`, if still open, is done with `verdict` (an event dict), to which
        its id, reference and share requestId are added; None if there is no such check."""
        with self._changed:
            check = self._checks.get(check_id)
            if check is None or check.state in ENDED:
                return None
            told = {**verdict, "id": check.id}
            if check.terms.reference:
                told["reference"] = check.terms.reference
            if check.request_id is not None:
                told["request_id"] = check.request_id
            check = self._put(replace(check, state=CheckStatus.DONE, verdict=told))
        self._tell(check)
        return check

    def note_request(self, check_id: str, request_id: str) -> None:
        """Mode "share": the requestId sent to Diia for this check."""
        with self._changed:
            check = self._checks.get(check_id)
            if check is not None:
                self._put(replace(check, request_id=request_id))

    def wait_change(self, check_id: str, state: CheckStatus, timeout_s: float) -> Check | None:
        """Check `check_id` once it is no longer `state`, or as it is after `timeout_s`."""
        with self._changed:
            self._changed.wait_for(
                lambda: getattr(self._checks.get(check_id), "state", None) is not state,
                timeout=timeout_s)
            return self._checks.get(check_id)

    def counts(self) -> dict[str, int]:
        with self._changed:
            found = {str(state): 0 for state in CheckStatus}
            for check in self._checks.values():
                found[str(check.state)] += 1
        return found

    # -- inside the lock --------------------------------------------------------------------

    def _put(self, check: Check) -> Check:
        self._checks[check.id] = check
        self._changed.notify_all()
        return check

    def _trim(self) -> None:
        ended = [k for k, c in self._checks.items() if c.state in ENDED]
        for key in ended[: max(0, len(ended) - KEEP_ENDED)]:
            del self._checks[key]

    def _tell(self, check: Check) -> None:
        for listener in self._listeners:
            listener(check)
