"""The sandbox's sharing desk: document-request, offer-request and their status calls.

What the emulated Diia does when a partner asks for a copy of a document (DIIA-API.md,
"Sharing"): it takes a `document-request` for a scanned code, or makes a deeplink for an
offer (`offer-request/dynamic`), then waits for the holder. Here the holder is a policy a POS
developer sets through the admin API:

    POST /sandbox/share   {"answer": "confirm" | "refuse" | "ignore", "after_s": 1.0,
                           "deliver_to": "http://127.0.0.1:9000/diia" | null}
    GET  /sandbox/shares  the latest requests and offers, and the deliveries made

After `after_s` the request is confirmed (or refused; "ignore" leaves it pending), and a
confirmed document request is delivered to `deliver_to` as Diia does: a multipart POST with
`encryptedFile`, `encryptedFileName` and `encodeData` and the header
`X-Document-Request-Trace-Id: <requestId>`. The parts are stand-ins, not real CMS envelopes.

Status answers are `{"status": "pending" | "confirmed" | "refused" | "expired"}`: Diia does
not publish these values, so they are this project's assumption (README, "Assumptions").
"""

from __future__ import annotations

import base64
import heapq
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kiosk.diia.sandbox.faults import error_body
from kiosk.diia.sandbox.http_server import Reply, Request

log = logging.getLogger("kiosk.diia.sandbox")

ANSWERS = ("confirm", "refuse", "ignore")
OFFER_LIFETIME_S = 180.0  # a deeplink lives as long as a code: the kiosk renews it before
MAX_KEPT = 500
DELIVERY_TIMEOUT_S = 5.0
DOCUMENT_REQUEST = "/api/v1/acquirers/document-request"
DOCUMENT_STATUS = DOCUMENT_REQUEST + "/status"
OFFER_STATUS = "/api/v1/acquirers/offer-request/status"
_OFFER = re.compile(r"/api/v2/acquirers/branch/([^/]+)/offer-request/dynamic")
_REQUEST_ID = re.compile(r"[0-9A-Za-z-]{8,64}")


@dataclass
class Share:
    """One document request or offer, and how the emulated holder answers it."""

    kind: str  # "document" or "offer"
    request_id: str
    key: str  # the code (document) or the deeplink's one-time id (offer)
    created: float  # monotonic
    answer: str
    after_s: float
    expires: float | None = None  # monotonic; offers only
    deliver_to: str | None = None
    delivered: int | None = field(default=None)  # the delivery's HTTP status, 0: failed

    def status(self, now: float) -> str:
        if self.answer != "ignore" and now >= self.created + self.after_s:
            return "confirmed" if self.answer == "confirm" else "refused"
        if self.expires is not None and now >= self.expires:
            return "expired"
        return "pending"


@dataclass
class SharePolicy:
    answer: str = "confirm"
    after_s: float = 1.0
    deliver_to: str | None = None


class ShareDesk:
    """The sharing calls of one `DiiaSandbox`. `take_code(text, kind)` is the sandbox's: it
    uses a code up for a share, or gives the error reply a check would get."""

    def __init__(
        self,
        branch_id: str,
        take_code: Callable[[str, str], Reply | None],
        qr_field: str = "qrcode",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._branch_id = branch_id
        self._take_code = take_code
        self._qr_field = qr_field
        self._clock = clock
        self._lock = threading.Lock()
        self._shares: OrderedDict[str, Share] = OrderedDict()  # by requestId
        self.policy = SharePolicy()
        self.deliveries: list[dict[str, Any]] = []
        self._courier = _Courier(self._deliver, clock)

    # -- the Diia API -----------------------------------------------------------------------

    def handles(self, request: Request) -> bool:
        path = request.path
        return path in (DOCUMENT_REQUEST, DOCUMENT_STATUS, OFFER_STATUS) or bool(
            _OFFER.fullmatch(path))

    def respond(self, request: Request) -> Reply:
        """A sharing call whose bearer token the sandbox has already accepted."""
        path, method = request.path, request.method
        if path == DOCUMENT_REQUEST and method == "POST":
            return self._document_request(_json(request.body))
        if path == DOCUMENT_STATUS and method == "GET":
            return self._status("document", request.query, "requestId")
        if path == OFFER_STATUS and method == "GET":
            return self._status("offer", request.query, "requestId")
        offer = _OFFER.fullmatch(path)
        if offer and method == "POST":
            return self._offer(offer.group(1), _json(request.body))
        return Reply(404, error_body("NotFoundError", "Route not found"))

    def _document_request(self, body: dict[str, Any] | None) -> Reply:
        if body is None:
            return _invalid("body", "The body must be a JSON object.")
        if body.get("branchId") != self._branch_id:
            return _invalid("branchId", "The 'branchId' field is not a known branch.")
        kind = "qr" if self._qr_field in body else "barcode"
        field_name = self._qr_field if kind == "qr" else "barcode"
        text = body.get(field_name)
        if not isinstance(text, str) or not text:
            return _invalid(field_name, f"The '{field_name}' field is required.")
        request_id = body.get("requestId")
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            return _invalid("requestId", "The 'requestId' field must be a uuid.")
        with self._lock:
            if request_id in self._shares:
                return _invalid("requestId", "The 'requestId' has been used already.")
        refused = self._take_code(text, kind)
        if refused is not None:
            return refused
        self._add(Share("document", request_id, text, self._clock(), self.policy.answer,
                        self.policy.after_s, deliver_to=self.policy.deliver_to))
        return Reply(200, {"success": True})

    def _offer(self, branch_id: str, body: dict[str, Any] | None) -> Reply:
        if branch_id != self._branch_id:
            return Reply(404, error_body("NotFoundError", "Branch not found", code=404))
        if body is None:
            return _invalid("body", "The body must be a JSON object.")
        unknown = set(body) - {"offerId", "requestId", "returnLink"}
        if unknown:
            return _invalid(sorted(unknown)[0], "The field is not allowed.")
        offer_id, request_id = body.get("offerId"), body.get("requestId")
        if not isinstance(offer_id, str) or not offer_id:
            return _invalid("offerId", "The 'offerId' field is required.")
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            return _invalid("requestId", "The 'requestId' field must be a uuid.")
        otp = secrets.token_hex(16)
        now = self._clock()
        self._add(Share("offer", request_id, otp, now, self.policy.answer, self.policy.after_s,
                        expires=now + OFFER_LIFETIME_S))
        deeplink = f"https://diia.app/acquirers/offer-request/dynamic/{otp}/{request_id}"
        return Reply(200, {"deeplink": deeplink})

    def _status(self, kind: str, query: str, id_key: str) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        key_name = "otp" if kind == "offer" else (
            self._qr_field if self._qr_field in params else "barcode")
        with self._lock:
            share = self._shares.get(params.get(id_key, ""))
        if share is None or share.kind != kind or share.key != params.get(key_name):
            return Reply(404, error_body("NotFoundError", "No record with presented request!",
                                         code=404))
        return Reply(200, {"status": share.status(self._clock())})

    # -- the admin API ----------------------------------------------------------------------

    def admin(self, request: Request) -> Reply | None:
        """`/sandbox/share` and `/sandbox/shares`; None for any other admin path."""
        route = (request.method, request.path.rstrip("/"))
        if route == ("POST", "/sandbox/share"):
            body = _json(request.body) if request.body.strip() else {}
            if body is None:
                return Reply(400, {"error": "the body must be a JSON object"})
            try:
                self.set_policy(**body)
            except (TypeError, ValueError) as exc:
                return Reply(400, {"error": str(exc)})
            return Reply(200, {"answer": self.policy.answer, "after_s": self.policy.after_s,
                               "deliver_to": self.policy.deliver_to})
        if route == ("GET", "/sandbox/shares"):
            now = self._clock()
            with self._lock:
                shares = [{"kind": s.kind, "request_id": s.request_id,
                           "status": s.status(now), "delivered": s.delivered}
                          for s in self._shares.values()]
                deliveries = list(self.deliveries)
            return Reply(200, {"shares": shares, "deliveries": deliveries})
        return None

    def set_policy(self, answer: str = "confirm", after_s: float = 1.0,
                   deliver_to: str | None = None) -> None:
        """How the emulated holder answers new requests (see the module docstring)."""
        if answer not in ANSWERS:
            raise ValueError(f"answer must be one of {', '.join(ANSWERS)}")
        if isinstance(after_s, bool) or not isinstance(after_s, int | float) or not (
                0 <= after_s <= 3600):
            raise ValueError("after_s must be seconds 0..3600")
        if deliver_to is not None:
            parts = urlsplit(deliver_to) if isinstance(deliver_to, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("deliver_to must be an http(s) URL or null")
        with self._lock:
            self.policy = SharePolicy(answer, float(after_s), deliver_to)

    # -- bookkeeping ------------------------------------------------------------------------

    def _add(self, share: Share) -> None:
        with self._lock:
            self._shares[share.request_id] = share
            while len(self._shares) > MAX_KEPT:
                self._shares.popitem(last=False)
        if share.kind == "document" and share.answer == "confirm" and share.deliver_to:
            self._courier.send(share.created + share.after_s, share)

    def _deliver(self, share: Share) -> None:
        """Diia's delivery of a confirmed share to the partner's endpoint (stand-in parts)."""
        import httpx  # only when a POS developer asked for deliveries

        assert share.deliver_to is not None
        stand_in = json.dumps({"requestId": share.request_id, "sandbox": True}).encode()
        files = {"encryptedFile": ("document.p7s", stand_in, "application/octet-stream")}
        data = {"encryptedFileName": "document.pdf.p7s",
                "encodeData": base64.b64encode(b"sandbox stand-in, not a CMS envelope").decode()}
        headers = {"X-Document-Request-Trace-Id": share.request_id}
        try:
            response = httpx.post(share.deliver_to, files=files, data=data, headers=headers,
                                  timeout=DELIVERY_TIMEOUT_S)
            status = response.status_code
        except httpx.HTTPError as exc:
            log.info("sandbox: delivery to the partner's endpoint failed: %s",
                     type(exc).__name__)
            status = 0
        with self._lock:
            share.delivered = status
            self.deliveries.append({"request_id": share.request_id, "status": status,
                                    "at": time.time()})
            del self.deliveries[:-MAX_KEPT]


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def _invalid(field_name: str, message: str) -> Reply:
    errors = [{"type": "invalid", "message": message, "field": field_name}]
    return Reply(422, error_body("ValidationError", "Parameters validation error!",
                                 data={"errors": errors}))


class _Courier:
    """Deliveries due at their times, made one after another by one thread (started with the
    first): pending deliveries cost a list entry each, never a thread. At most `MAX_KEPT`
    wait; beyond that the soonest-due ones are kept and the rest dropped, logged."""

    def __init__(self, deliver: Callable[[Share], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._deliver = deliver
        self._clock = clock
        self._due: list[tuple[float, int, Share]] = []  # a heap by due time
        self._count = 0
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def send(self, due: float, share: Share) -> None:
        with self._changed:
            self._count += 1
            heapq.heappush(self._due, (due, self._count, share))
            if len(self._due) > MAX_KEPT:
                self._due = heapq.nsmallest(MAX_KEPT, self._due)
                heapq.heapify(self._due)
                log.warning("sandbox: over %d deliveries pending: the latest dropped", MAX_KEPT)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sandbox-courier",
                                                daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due or self._due[0][0] > self._clock():
                    wait = self._due[0][0] - self._clock() if self._due else None
                    self._changed.wait(wait)
                _, _, share = heapq.heappop(self._due)
            self._deliver(share)
