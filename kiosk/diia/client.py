"""`DiiaClient`: the Diia partner API over one kept-alive HTTPS connection.

It logs in with the two acquirer secrets (the session token's lifecycle is
`kiosk.diia.tokens.SessionToken`), asks the validation, age and name questions, and turns
every answer and every transport failure into `True`, `False` or one of the errors in
`kiosk.diia.errors`. The I/O seam is httpx's `transport=`; `kiosk.diia.sandbox` is a real
server to point it at.

One deadline (`timeout_s`) covers a whole check: waiting for another thread's login, the
login, the call, a re-login and the retry. httpx has no total timeout, so the transport is
`kiosk.diia.transport.WallTransport`: each request carries the deadline, and its name lookup,
every socket call and the whole answer fit inside it; answers are capped in size, and a
kept-alive connection carrying bytes nobody asked for is dropped.

Retries are few and safe: one fresh login and one retry after a 401 (Diia refused us before
looking at the code), and one retry on a new connection when a kept-alive one turns out
dead. After such a drop Diia may have used the code already, so a "used"
answer to the retry becomes `UsedAfterFailedAttempt`, an unknown outcome.

Secrets stay out of logs and error texts (`kiosk.diia.redaction`): the acquirer token travels
in the login URL's path, which httpx logs at INFO and its exceptions carry.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import quote

import certifi
import httpx

from kiosk.diia.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    CodeUsed,
    DiiaError,
    DiiaTimeout,
    DiiaUnavailable,
    NetworkError,
    UsedAfterFailedAttempt,
    error_from_response,
    response_json,
)
from kiosk.diia.redaction import install_log_redaction, redact
from kiosk.diia.tokens import SessionToken
from kiosk.diia.transport import (
    AnswerTooLarge,
    Resolver,
    WallTransport,
    environment_proxy,
    system_resolver,
)
from kiosk.diia.types import BARCODE, Credentials, DiiaCode, PersonName
from kiosk.diia.url_rule import url_problem

_log = logging.getLogger(__name__)


def _user_agent() -> str:
    """"diia-kiosk/<version>", the version read from the installed distribution."""
    try:
        return f"diia-kiosk/{package_version('diia-kiosk')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "diia-kiosk"


LOGIN_PATH = "/api/v1/auth/acquirer/{}"
VALIDATE_PATH = "/api/v1/acquirers/document-identification"
AGE_PATH = VALIDATE_PATH + "/age"
DOCUMENT_REQUEST_PATH = "/api/v1/acquirers/document-request"
DOCUMENT_STATUS_PATH = DOCUMENT_REQUEST_PATH + "/status"
OFFER_REQUEST_PATH = "/api/v2/acquirers/branch/{}/offer-request/dynamic"
OFFER_STATUS_PATH = "/api/v1/acquirers/offer-request/status"
USER_AGENT = _user_agent()
# Keep an idle connection this long (httpx's default is 5 s). Customers come minutes apart
# and a new TLS connection costs a round trip or three; typical front ends close idle
# connections after 60-75 s, and a connection closed under us is retried once anyway.
KEEPALIVE_S = 50.0

_CONNECT_EVENTS = {"connection.connect_tcp.complete", "connection.connect_unix_socket.complete"}
_SEND_EVENTS = {"http11.send_request_headers.started", "http2.send_request_headers.started"}


# --- small parts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request as the client saw it, for timings (`on_exchange=`)."""

    call: str  # "login", "validate", "age" or "name"
    status: int  # the HTTP status; 0 when no answer came
    ms: float  # from sending to the last byte of the answer (or the failure)
    new_connection: bool  # a TCP connection was opened for it


@dataclass(frozen=True, slots=True)
class _Failure:
    error: DiiaError
    stale: bool  # a kept-alive connection died after the request went out: worth one retry


class _Progress:
    """httpcore's trace hook for one request: spreads the deadline over the request's phases,
    notes whether a connection was opened and whether the request went out."""

    def __init__(
        self, deadline: float, on_connect: Callable[[], None], *, carries_code: bool = True
    ) -> None:
        self._deadline = deadline
        self._on_connect = on_connect
        self._carries_code = carries_code
        left = self._left()
        # httpcore reads this dict afresh at the start of each phase.
        self.timeouts = {"connect": left, "read": left, "write": left, "pool": left}
        self.connected = False
        self.sent = False

    def _left(self) -> float:
        return max(self._deadline - time.monotonic(), 0.001)

    @property
    def code_sent(self) -> bool:
        """The request went out with the code in it: Diia may have used the code."""
        return self._carries_code and self.sent

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(".started"):
            left = self._left()
            for phase in self.timeouts:
                self.timeouts[phase] = left
        if event in _CONNECT_EVENTS:
            self.connected = True
            self._on_connect()
        elif event in _SEND_EVENTS:
            self.sent = True


def _status_word(answer: dict[str, Any]) -> str:
    status = answer.get("status")
    if not isinstance(status, str) or not status or len(status) > 40:
        raise BadResponse("unexpected answer from Diia (a status without a status word)")
    return status.lower()


def _tls_verify(ca_file: str) -> ssl.SSLContext:
    """Verification is always on; `ca_file` adds a CA to httpx's usual bundle."""
    if not ca_file:
        return httpx.create_ssl_context(trust_env=True)  # SSL_CERT_FILE as httpx reads it
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=ca_file)
    return context


# --- the client --------------------------------------------------------------------------


class DiiaClient:
    """Checks Diia one-time codes for one partner branch.

    `validate(code)` asks whether the document is valid, `check_age(code, min_age)` whether
    its holder is at least `min_age`, `check_name(code, name)` whether the holder's full name
    is `name`; each answers True or False, or raises a `DiiaError`. `timeout_s` is one
    deadline for a whole check. The `*_field` arguments are the request shapes Diia does not
    publish (see README, "Assumptions about the Diia API").

    `transport` is the I/O seam (httpx's; with one given, proxies from the environment are
    not applied). `clock` gives wall-clock seconds, against which the session token's life
    and the server's clock are measured. `on_exchange` receives an `Exchange` after every
    HTTP request. `connections_opened` counts TCP connections the client opened (from
    httpcore's trace events; a transport without sockets counts none). Safe to share between
    threads.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        branch_id: str,
        *,
        timeout_s: float = 3.0,
        qr_field: str = "qrcode",
        age_field: str = "age",
        last_name_field: str = "lastName",
        first_name_field: str = "firstName",
        middle_name_field: str = "middleName",
        ca_file: str = "",
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
        clock: Callable[[], float] = time.time,
        on_exchange: Callable[[Exchange], None] | None = None,
    ) -> None:
        install_log_redaction()
        problem = url_problem(base_url)
        if problem:
            raise ValueError(f"diia.base_url {problem}")
        self._credentials = credentials
        self._branch_id = branch_id
        self._timeout_s = timeout_s
        self._qr_field = qr_field
        self._age_field = age_field
        self._name_fields = (last_name_field, first_name_field, middle_name_field)
        # A 422 names a field; these say which setting sends it.
        self._field_keys = {
            qr_field: "diia.qr_field",
            age_field: "diia.age_field",
            last_name_field: "diia.last_name_field",
            first_name_field: "diia.first_name_field",
            middle_name_field: "diia.middle_name_field",
            "branchId": "diia.branch_id",
        }
        self._clock = clock
        self._on_exchange = on_exchange
        self._session = SessionToken(self._login, timeout_s=timeout_s, clock=clock)
        self._count_lock = threading.Lock()
        self._server_offset_s: float | None = None
        self._refused_after_login = False
        self.connections_opened = 0
        # Created once: the TLS context and the kept-alive connection are the expensive part.
        # The wall transport bounds each request by its deadline and each answer by size.
        self._own_transport = transport is None
        if transport is None:
            transport = WallTransport(
                ssl_context=_tls_verify(ca_file),
                proxy=environment_proxy(base_url),  # HTTPS_PROXY, NO_PROXY as the shop needs
                timeout_s=timeout_s,
                keepalive_expiry=KEEPALIVE_S,
                resolver=resolver,
            )
        self._http = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
        )

    # -- public ---------------------------------------------------------------------------

    def validate(self, code: DiiaCode) -> bool:
        """Whether Diia confirms the document behind `code` is valid."""
        return self._check("validate", VALIDATE_PATH, self._body(code))

    def check_age(self, code: DiiaCode, min_age: int) -> bool:
        """Whether Diia confirms the holder of `code` is at least `min_age` years old."""
        body = self._body(code)
        body[self._age_field] = min_age
        return self._check("age", AGE_PATH, body)

    def check_name(self, code: DiiaCode, name: PersonName) -> bool:
        """Whether Diia confirms the holder of `code` is called `name`.

        The validation call with the name fields added; an empty middle name is left out.
        """
        body = self._body(code)
        last, first, middle = self._name_fields
        body[last], body[first] = name.last_name, name.first_name
        if name.middle_name:
            body[middle] = name.middle_name
        return self._check("name", VALIDATE_PATH, body)

    # -- sharing (DIIA-API.md "Sharing"; the status values are assumptions) ----------------

    def request_document(self, code: DiiaCode, request_id: str) -> bool:
        """Offline sharing: ask the holder of `code` to share the document; Diia delivers it
        to the partner's registered endpoint with `request_id` once the holder confirms.
        True when Diia accepted the request."""
        body = self._body(code)
        body["requestId"] = request_id
        return self._check("share", DOCUMENT_REQUEST_PATH, body)

    def document_request_status(self, code: DiiaCode, request_id: str) -> str:
        """Where an offline share stands: Diia's status word ("pending", "confirmed", …)."""
        field = "barcode" if code.kind == BARCODE else self._qr_field
        answer = self._call_json("share_status", "GET", DOCUMENT_STATUS_PATH,
                                 params={field: code.text, "requestId": request_id})
        return _status_word(answer)

    def offer_request(self, offer_id: str, request_id: str, return_link: str = "") -> str:
        """Online sharing: a deeplink into Diia for the customer's phone (shown as a QR)."""
        body: dict[str, Any] = {"offerId": offer_id, "requestId": request_id}
        if return_link:
            body["returnLink"] = return_link
        answer = self._call_json("offer", "POST",
                                 OFFER_REQUEST_PATH.format(quote(self._branch_id, safe="")),
                                 json=body)
        deeplink = answer.get("deeplink")
        if not isinstance(deeplink, str) or not deeplink.startswith("https://"):
            raise BadResponse("unexpected answer from Diia (offer-request without a deeplink)")
        return deeplink

    def offer_request_status(self, otp: str, request_id: str) -> str:
        """Where an online share stands, by the deeplink's one-time id and `request_id`."""
        answer = self._call_json("offer_status", "GET", OFFER_STATUS_PATH,
                                 params={"otp": otp, "requestId": request_id})
        return _status_word(answer)

    def _call_json(self, call: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One authorised call whose 200 answer is a JSON object; errors as in `_check`."""
        deadline = time.monotonic() + self._timeout_s
        relogin = True
        while True:
            token = self._session.get(deadline)
            response, _ = self._exchange(call, method, path, deadline,
                                         headers={"Authorization": f"Bearer {token}"},
                                         **kwargs)
            if response.status_code == 401 and relogin:
                relogin = False
                self._session.forget(token)
                continue
            if response.status_code != 200:
                raise error_from_response(response)
            answer = response_json(response)
            if not isinstance(answer, dict):
                raise BadResponse(f"unexpected answer from Diia ({call}: not a JSON object)")
            return answer

    def login(self) -> None:
        """Log in now, replacing any session token (for `kiosk doctor` and warm-up)."""
        self._session.renew(time.monotonic() + self._timeout_s)

    @property
    def login_failing(self) -> bool:
        """Whether the latest login attempt failed (for a fault banner or `kiosk doctor`)."""
        return self._session.failing

    @property
    def server_clock_offset_s(self) -> float | None:
        """Diia's clock minus ours, from the `Date` header of the latest answer; None until
        an answer with a readable `Date` came. Positive: Diia's clock is ahead. The header
        has whole seconds, so this is good to about ±0.5 s plus the one-way transit time."""
        return self._server_offset_s

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DiiaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- checks ---------------------------------------------------------------------------

    def _body(self, code: DiiaCode) -> dict[str, Any]:
        field = "barcode" if code.kind == BARCODE else self._qr_field
        return {"branchId": self._branch_id, field: code.text}

    def _check(self, call: str, path: str, body: dict[str, Any]) -> bool:
        deadline = time.monotonic() + self._timeout_s
        attempted = False  # an attempt with this code failed after it went out
        relogin = True
        while True:
            try:
                token = self._session.get(deadline)
            except DiiaError as error:  # the login never carries the code
                raise error.knowing(attempted) from None
            try:
                response, dropped = self._exchange(
                    call, "POST", path, deadline,
                    json=body, headers={"Authorization": f"Bearer {token}"},
                )
            except DiiaError as error:
                raise error.knowing(attempted) from None
            attempted = attempted or dropped
            if response.status_code == 401 and relogin:
                # Revoked, expired early, or our clock is off: one fresh login, one retry.
                # Diia checks the token before the code, so the code is still unused.
                _log.info("Diia refused the session token; logging in again")
                relogin = False
                self._session.forget(token)
                continue
            return self._answer(response, attempted)

    def _answer(self, response: httpx.Response, attempted: bool) -> bool:
        if response.status_code == 200:
            answer = response_json(response)
            success = answer.get("success") if isinstance(answer, dict) else None
            if isinstance(success, bool):
                self._refused_after_login = False
                return success
            # Diia answered something: it may have used the code.
            raise BadResponse("unexpected answer from Diia (200 without a boolean success)",
                              code_may_be_used=True)
        error = error_from_response(response, attempted=attempted)
        if isinstance(error, CodeUsed) and attempted:
            error = UsedAfterFailedAttempt(
                "Diia says the code was used, but our own earlier attempt with it failed "
                "mid-way and may have used it", code_may_be_used=True
            )
        elif isinstance(error, BadRequest):
            self._log_bad_request(error)
        elif isinstance(error, AuthFailed) and not self._refused_after_login:
            self._refused_after_login = True
            _log.error("%s: check the branch and the API version in diia.base_url", error)
        raise error

    def _log_bad_request(self, error: BadRequest) -> None:
        keys = sorted({self._field_keys[f] for f in error.fields if f in self._field_keys})
        hint = f"; check {', '.join(keys)}" if keys else ""
        _log.error("%s: the request shape does not match Diia's%s", error, hint)

    # -- HTTP -----------------------------------------------------------------------------

    def _exchange(
        self, call: str, method: str, path: str, deadline: float, **kwargs: Any
    ) -> tuple[httpx.Response, bool]:
        """The answer, and whether a first attempt died on a kept-alive connection."""
        outcome = self._send(call, method, path, deadline, **kwargs)
        retried = False
        if isinstance(outcome, _Failure) and outcome.stale and time.monotonic() < deadline:
            _log.info("a kept-alive connection to Diia died under the request; asking again")
            retried = True
            outcome = self._send(call, method, path, deadline, **kwargs)
        if isinstance(outcome, _Failure):
            raise outcome.error.knowing(retried)
        return outcome, retried

    def _send(
        self, call: str, method: str, path: str, deadline: float, **kwargs: Any
    ) -> httpx.Response | _Failure:
        if deadline - time.monotonic() <= 0:
            return _Failure(self._timeout(), stale=False)
        progress = _Progress(deadline, self._count_connection, carries_code=call != "login")
        started = time.perf_counter()
        try:
            response = self._http.request(
                method,
                path,
                extensions={"trace": progress, "timeout": progress.timeouts,
                            "deadline": deadline},
                **kwargs,
            )
        except httpx.TimeoutException:
            error: DiiaError = self._timeout(code_may_be_used=progress.code_sent)
        except httpx.TransportError as exc:
            # Only our own transport's texts are fixed; another library's may quote a header.
            detail = f": {exc}" if self._own_transport else ""
            error = NetworkError(f"cannot reach Diia: {type(exc).__name__}{detail}",
                                 code_may_be_used=progress.code_sent)
        except AnswerTooLarge:
            error = BadResponse("answer from Diia larger than any real one: refused",
                                code_may_be_used=progress.code_sent)
        except httpx.HTTPError as exc:  # e.g. a body that fails to decompress
            error = BadResponse(f"unreadable answer from Diia: {type(exc).__name__}",
                                code_may_be_used=progress.code_sent)
        else:
            ms = (time.perf_counter() - started) * 1000
            self._note_server_date(response)
            self._report(Exchange(call, response.status_code, ms, progress.connected))
            _log.debug("Diia %s %s: %d in %.1f ms", method, redact(path), response.status_code, ms)
            return response
        # Returned, not raised, outside the except block, so no httpx exception stays chained:
        # those hold the request, whose URL may carry the acquirer token and whose body the code.
        ms = (time.perf_counter() - started) * 1000
        self._report(Exchange(call, 0, ms, progress.connected))
        stale = isinstance(error, NetworkError) and progress.sent and not progress.connected
        return _Failure(error, stale)

    def _timeout(self, *, code_may_be_used: bool = False) -> DiiaTimeout:
        return DiiaTimeout(f"no answer from Diia within {self._timeout_s:g} s",
                           code_may_be_used=code_may_be_used)

    def _count_connection(self) -> None:
        with self._count_lock:
            self.connections_opened += 1

    def _report(self, exchange: Exchange) -> None:
        if self._on_exchange is not None:
            self._on_exchange(exchange)

    def _note_server_date(self, response: httpx.Response) -> None:
        header = response.headers.get("Date")
        if not header:
            return
        try:
            server = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            return
        if server.tzinfo is None:  # "-0000": UTC by RFC 5322
            server = server.replace(tzinfo=UTC)
        # The header is truncated to whole seconds: +0.5 s centres the error.
        self._server_offset_s = server.timestamp() + 0.5 - self._clock()

    # -- login ----------------------------------------------------------------------------

    def _login(self, deadline: float) -> str:
        """One login (`SessionToken` calls it holding its lock): the new session token."""
        path = LOGIN_PATH.format(quote(self._credentials.acquirer_token, safe=""))
        response, _ = self._exchange(
            "login",
            "GET",
            path,
            deadline,
            headers={"Authorization": f"Basic {self._credentials.auth_token}"},
        )
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(f"Diia refused the login ({status}): check the acquirer secrets")
        if 500 <= status < 600 or status == 429:
            raise DiiaUnavailable(f"Diia is unavailable ({status} at login)")
        if status != 200:
            raise BadResponse(f"unexpected answer from Diia ({status} at login)")
        answer = response_json(response)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise BadResponse("unexpected answer from Diia (login without a token)")
        return token
