"""The loop's side of the till's API: armed checks become the checker's terms, verdicts
become the till's events, and with `require_arming` nothing is checked unless armed.

Three adapters around the loop's seams, so the loop itself does not know the till exists:
- `TillChecker` (a `Checker`): a code read while a check is armed is checked on that check's
  terms (mode, minimum age, the recipient's name, sharing); otherwise as configured, or, with
  `require_arming`, not at all.
- `armed_readings()`: with `require_arming`, codes read while nothing is armed are dropped
  before the loop sees them: a product's EAN-13 that looks like a Diia barcode never reaches
  Diia and never shows red.
- `TillEvents` (a `Signals`): each verdict shown is published to the event stream with the
  check's id and reference, and ends the check.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, Protocol

from kiosk.api.checks import Check, CheckRegistry, CheckTerms
from kiosk.api.events import EventLog
from kiosk.checker import Checker, DiiaChecker, SeenCodes, reason_for
from kiosk.diia.errors import DiiaError
from kiosk.model import RESULT_PHASES, Code, Reason, State, Verdict
from kiosk.names import FixedName
from kiosk.signals.events import verdict_event

log = logging.getLogger(__name__)

# Share status word (DIIA-API.md: values unknown, assumed) → the verdict it ends with.
SHARE_REASONS = {
    "confirmed": Reason.SHARED,
    "refused": Reason.SHARE_REFUSED,
    "expired": Reason.SHARE_EXPIRED,
}


class SharePort(Protocol):
    def request_document(self, code: Code, request_id: str) -> bool: ...

    def document_request_status(self, code: Code, request_id: str) -> str: ...


class ShareChecker:
    """Offline sharing: a document-request for the code with a fresh requestId, then status
    polls until the holder confirms or refuses in Diia, or `wait_s` passes. The kiosk never
    receives the document: Diia delivers it to the partner's server, tagged with the
    requestId this check reports."""

    def __init__(
        self,
        diia: SharePort,
        code_id: Callable[[Code], str],
        *,
        wait_s: float = 120.0,
        poll_s: float = 2.0,
        on_request: Callable[[str], None] = lambda request_id: None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._diia = diia
        self._code_id = code_id
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._on_request = on_request
        self._sleep = sleep
        self._clock = clock

    def check(self, code: Code) -> Verdict:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        self._on_request(request_id)
        reason = self._share(code, request_id)
        ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("share request for code %s: %s (%s)", self._code_id(code), reason.outcome,
                 reason)
        return Verdict(reason, "share", code.kind, self._code_id(code), ms={"diia": ms})

    def _share(self, code: Code, request_id: str) -> Reason:
        try:
            if not self._diia.request_document(code, request_id):
                return Reason.NOT_VALID
        except DiiaError as exc:
            return reason_for(exc)
        except Exception:  # a bug below is amber, never a crash
            log.exception("unexpected error while asking Diia to share")
            return Reason.BAD_RESPONSE
        until = self._clock() + self._wait_s
        while self._clock() < until:
            self._sleep(self._poll_s)
            try:
                status = self._diia.document_request_status(code, request_id)
            except DiiaError as exc:
                log.info("share status poll failed: %s", reason_for(exc))
                continue  # one failed poll is not the answer: ask again until the wait ends
            except Exception:
                log.exception("unexpected error while polling a share")
                continue
            if status in SHARE_REASONS:
                return SHARE_REASONS[status]
        return Reason.SHARE_TIMEOUT


class TillChecker:
    """Checks a code on the armed check's terms; see the module docstring."""

    def __init__(
        self,
        registry: CheckRegistry,
        default: DiiaChecker,
        make: Callable[[CheckTerms, Check], Checker],
        *,
        require_arming: bool = False,
    ) -> None:
        self._registry = registry
        self._default = default
        self._make = make
        self._require_arming = require_arming

    @property
    def mode(self) -> str:
        return self._default.mode

    def code_id(self, code: Code) -> str:
        return self._default.code_id(code)

    def check(self, code: Code) -> Verdict:
        check = self._registry.start()
        if check is None:
            if self._require_arming:  # armed when read, expired since: not sent
                log.info("the armed check expired before its code was checked: not sent")
                return Verdict(Reason.NOT_ARMED, self._default.mode, code.kind,
                               self.code_id(code))
            return self._default.check(code)
        return self._make(check.terms, check).check(code)


def till_checker(
    registry: CheckRegistry,
    diia: Any,
    *,
    mode: str,
    min_age: int,
    send_qr: bool,
    names: Any,
    clock_trusted: Callable[[], bool] | None,
    require_arming: bool,
    share_wait_s: float,
    share_poll_s: float,
) -> TillChecker:
    """The checker of a kiosk with the till's API: one key for code ids and one seen-code
    memory per question (an age check for 21 must not answer from one for 18)."""
    import secrets

    hash_key = secrets.token_bytes(32)
    default = DiiaChecker(diia, mode=mode, min_age=min_age, send_qr=send_qr, names=names,
                          hash_key=hash_key, clock_trusted=clock_trusted)
    memories: dict[tuple[str, int], SeenCodes] = {}

    def make(terms: CheckTerms, check: Check) -> Checker:
        if terms.mode == "share":
            return ShareChecker(
                diia, default.code_id, wait_s=share_wait_s, poll_s=share_poll_s,
                on_request=lambda request_id: registry.note_request(check.id, request_id),
            )
        question = (terms.mode, terms.min_age if terms.mode == "age" else 0)
        seen = memories.setdefault(question, SeenCodes())
        return DiiaChecker(
            diia, mode=terms.mode, min_age=terms.min_age, send_qr=send_qr, seen=seen,
            names=FixedName(terms.name) if terms.name is not None else None,
            hash_key=hash_key, clock_trusted=clock_trusted,
        )

    return TillChecker(registry, default, make, require_arming=require_arming)


def armed_readings(readings: Iterable[Any], registry: CheckRegistry) -> Iterator[Any]:
    """With `require_arming`: readings pass as they are while a check is armed; otherwise
    with their codes taken out, so the loop keeps turning but sees nothing to check."""
    for reading in readings:
        if (reading.seen or reading.confirmed) and registry.armed() is None:
            if reading.confirmed:
                log.info("a code was read while no check was armed: not sent")
            reading = replace(reading, seen=[], confirmed=[])
        yield reading


class TillEvents:
    """A `Signals` that tells the till: each verdict shown goes to the event stream, with the
    id and reference of the check it ends (if one was armed)."""

    EXPIRE_EVERY_S = 0.25

    def __init__(self, registry: CheckRegistry, events: EventLog) -> None:
        self._registry = registry
        self._events = events
        self._last: Verdict | None = None
        self._next_expiry = 0.0
        self.state: State | None = None
        self.diia = "unknown"  # reachable | unreachable | unknown, from the latest verdict

    def show(self, state: State) -> None:
        self.state = state
        verdict = state.verdict
        if verdict is None or state.phase not in RESULT_PHASES.values() or verdict is self._last:
            return
        self._last = verdict
        if not verdict.cached and verdict.reason is not Reason.NOT_ARMED:
            self.diia = "unreachable" if verdict.reason.diia_failed else "reachable"
        event = verdict_event(verdict)
        check = self._registry.finish(event)
        self._events.publish(check.verdict if check and check.verdict else event)

    def tick(self, now: float) -> None:
        if now >= self._next_expiry:  # armed checks whose time is up say so promptly
            self._next_expiry = now + self.EXPIRE_EVERY_S
            self._registry.expire()

    def close(self) -> None:
        pass
