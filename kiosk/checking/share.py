"""Sharing as a check: the holder shares a document with the partner through Diia.

- `ShareChecker` (mode "share", offline): a document request for the code read, then status
  polls until the holder answers in Diia or `wait_s` passes.
- `OnlineShare` (mode "share_online"): a deeplink shown as a QR, renewed, polled.
- `TillChecker` (a `Checker`): checks on the terms the loop hands over; mode "share" is a
  `ShareChecker`, every other mode the Diia checker.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from kiosk.checking.checker import Checker, DiiaChecker, reason_for
from kiosk.checking.names import NameSource
from kiosk.diia.errors import DiiaError
from kiosk.model import CheckTerms, Code, CodeKind, Reason, Verdict

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
    polls until the holder confirms or refuses in Diia, or `wait_s` passes, or `stop` is set
    (the kiosk stops: the wait ends at once, amber). The kiosk never receives the document:
    Diia delivers it to the partner's server, tagged with the requestId this check reports.
    `sleep` (a test's fake clock) replaces the wait between polls."""

    def __init__(
        self,
        diia: SharePort,
        code_id: Callable[[Code], str],
        *,
        wait_s: float = 120.0,
        poll_s: float = 2.0,
        on_request: Callable[[str], None] = lambda request_id: None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
    ) -> None:
        self._diia = diia
        self._code_id = code_id
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._on_request = on_request
        self._stop = stop or threading.Event()
        self._sleep = sleep or self._stop.wait
        self._clock = clock

    def check(self, code: Code, terms: CheckTerms | None = None) -> Verdict:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        self._on_request(request_id)
        reason = self._share(code, request_id)
        ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("share request for code %s: %s (%s)", self._code_id(code), reason.outcome,
                 reason)
        return Verdict(reason, "share", code.kind, self._code_id(code), ms={"diia": ms},
                       request_id=request_id)

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
        while self._clock() < until and not self._stop.is_set():
            self._sleep(self._poll_s)
            if self._stop.is_set():
                log.info("share no longer waited for: the kiosk stops")
                break
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


OFFER_RENEW_S = 150.0  # a deeplink lives 3 minutes (as a code does): renewed well before


class OfferPort(Protocol):
    def offer_request(self, offer_id: str, request_id: str, return_link: str = "") -> str: ...

    def offer_request_status(self, otp: str, request_id: str) -> str: ...


def offer_otp(deeplink: str) -> str:
    """The deeplink's one-time id, which the status call asks by: its path's segment before
    the requestId (DIIA-API.md gives the call, not the link's form: assumed, as the sandbox)."""
    parts = [p for p in urlsplit(deeplink).path.split("/") if p]
    return parts[-2] if len(parts) >= 2 else ""


class OnlineShare:
    """Online sharing: a dynamic offer-request gives a deeplink the screen shows as a QR; its
    status is polled until the customer confirms or refuses in Diia, or `wait_s` passes; the
    deeplink is renewed (a fresh requestId) every `renew_s`, before it expires. The kiosk never
    receives the document: Diia delivers it to the partner's server with the requestId this
    check reports (the last one asked for)."""

    def __init__(
        self,
        diia: OfferPort,
        offer_id: str,
        *,
        return_link: str = "",
        wait_s: float = 120.0,
        poll_s: float = 2.0,
        renew_s: float = OFFER_RENEW_S,
        on_request: Callable[[str], None] = lambda request_id: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._diia = diia
        self._offer_id = offer_id
        self._return_link = return_link
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._renew_s = renew_s
        self._on_request = on_request
        self._clock = clock
        self._request_id: str | None = None  # the latest deeplink's

    def run(self, show: Callable[[str], None], stop: threading.Event) -> Verdict:
        started = time.perf_counter()
        self._request_id = None
        reason = self._share(show, stop)
        ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("online share: %s (%s)", reason.outcome, reason)
        return Verdict(reason, "share_online", CodeKind.QR, "", ms={"diia": ms},
                       request_id=self._request_id)

    def _share(self, show: Callable[[str], None], stop: threading.Event) -> Reason:
        until = self._clock() + self._wait_s
        renew_at = 0.0
        otp = request_id = ""
        while not stop.is_set():
            now = self._clock()
            if now >= until:
                return Reason.SHARE_TIMEOUT
            if now >= renew_at:
                request_id = str(uuid.uuid4())
                try:
                    deeplink = self._diia.offer_request(self._offer_id, request_id,
                                                        self._return_link)
                except DiiaError as exc:
                    return reason_for(exc)
                except Exception:  # a bug below is amber, never a crash
                    log.exception("unexpected error while asking Diia for a deeplink")
                    return Reason.BAD_RESPONSE
                otp, renew_at = offer_otp(deeplink), now + self._renew_s
                self._request_id = request_id  # the latest: the one Diia's delivery carries
                self._on_request(request_id)
                show(deeplink)
            if stop.wait(self._poll_s):
                break
            try:
                status = self._diia.offer_request_status(otp, request_id)
            except DiiaError as exc:
                log.info("online share status poll failed: %s", reason_for(exc))
                continue  # one failed poll is not the answer
            except Exception:
                log.exception("unexpected error while polling an online share")
                continue
            if status == "expired":
                renew_at = 0.0  # the customer has not scanned it yet: a fresh one at once
            elif status in SHARE_REASONS:
                return SHARE_REASONS[status]
        return Reason.SHARE_TIMEOUT  # cancelled by the till: the loop no longer waits


class TillChecker:
    """Checks a code on the terms the loop hands over; see the module docstring."""

    def __init__(self, default: DiiaChecker, share: Callable[[CheckTerms], Checker],
                 online: Callable[[CheckTerms], OnlineShare] | None = None) -> None:
        self._default = default
        self._share = share
        self._online = online

    @property
    def mode(self) -> str:
        return self._default.mode

    def code_id(self, code: Code) -> str:
        return self._default.code_id(code)

    def check(self, code: Code, terms: CheckTerms | None = None) -> Verdict:
        if terms is not None and terms.mode == "share":
            return self._share(terms).check(code)
        return self._default.check(code, terms)

    def offer(self, terms: CheckTerms, show: Callable[[str], None],
              stop: threading.Event) -> Verdict:
        """An online share (mode "share_online"); see `OnlineShare`."""
        if self._online is None:  # the till's API refuses the mode without [share] offer_id
            return Verdict(Reason.BAD_REQUEST, "share_online", CodeKind.QR, "")
        return self._online(terms).run(show, stop)


def till_checker(
    diia: Any,
    *,
    mode: str,
    min_age: int,
    send_qr: bool,
    names: NameSource | None,
    clock_trusted: Callable[[], bool] | None,
    share_wait_s: float,
    share_poll_s: float,
    offer_id: str = "",
    return_link: str = "",
    on_request: Callable[[str, str], None] = lambda check_id, request_id: None,
    stop: threading.Event | None = None,
) -> TillChecker:
    """The checker of a kiosk with the till's API; `on_request(check id, requestId)` hears
    each requestId a share sends Diia; `stop` ends a share waiting for its holder."""
    default = DiiaChecker(diia, mode=mode, min_age=min_age, send_qr=send_qr, names=names,
                          clock_trusted=clock_trusted)

    def share(terms: CheckTerms) -> Checker:
        return ShareChecker(
            diia, default.code_id, wait_s=share_wait_s, poll_s=share_poll_s,
            on_request=lambda request_id: on_request(terms.id, request_id), stop=stop,
        )

    def online(terms: CheckTerms) -> OnlineShare:
        return OnlineShare(
            diia, offer_id, return_link=return_link, wait_s=share_wait_s, poll_s=share_poll_s,
            on_request=lambda request_id: on_request(terms.id, request_id),
        )

    return TillChecker(default, share, online if offer_id else None)
