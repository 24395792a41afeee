"""`DiiaClient`: the Diia partner API over one kept-alive HTTPS connection.

It logs in with the two acquirer secrets, keeps the session token until shortly before its
`exp`, logs in again once on a 401, and turns every answer and every transport failure into
`True`, `False` or one of the errors in `kiosk.diia.errors`. The I/O seam is httpx's
`transport=`; the sandbox in `kiosk.diia.sandbox` is a real server to point it at.

Secrets stay out of logs and error texts: the acquirer token travels in the login URL's path,
and httpx logs every request URL at INFO, so this module installs a filter on httpx's loggers
that masks that path segment before any handler sees the record.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import certifi
import httpx

import kiosk
from kiosk.config import Credentials
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
)
from kiosk.model import Code, CodeKind

_log = logging.getLogger(__name__)

LOGIN_PATH = "/api/v1/auth/acquirer/{}"
VALIDATE_PATH = "/api/v1/acquirers/document-identification"
AGE_PATH = VALIDATE_PATH + "/age"

RENEW_MARGIN_S = 300.0  # log in again this long before the token's exp
DEFAULT_TOKEN_LIFETIME_S = 7200.0  # Diia's documented lifetime, used when exp is unreadable

# Diia error → our error. Status first, then a pattern searched in the body's `message`
# ("" matches anything); first matching row wins, no match is a BadResponse. "5xx" is any 5xx.
ERROR_TABLE: dict[int | str, tuple[tuple[str, type[DiiaError]], ...]] = {
    400: ((r"\bexpired\b", CodeExpired), (r"\bused\b", CodeUsed)),
    401: (("", AuthFailed),),
    404: ((r"\brecord\b|\bcode\b", CodeNotFound),),  # a route or branch 404 is not red
    422: (("", BadRequest),),
    "5xx": (("", DiiaUnavailable),),
}

_ERROR_TEXTS: dict[type[DiiaError], str] = {
    CodeExpired: "the code has expired",
    CodeUsed: "the code has been used already",
    CodeNotFound: "Diia has no record of the code",
    BadRequest: "Diia rejected the request body (our bug)",
    AuthFailed: "Diia refused the session token even after a fresh login",
    DiiaUnavailable: "Diia is unavailable",
    BadResponse: "unexpected answer from Diia",
}

_CONNECT_EVENTS = {"connection.connect_tcp.complete", "connection.connect_unix_socket.complete"}


# --- redaction ---------------------------------------------------------------------------

_ACQUIRER_SEGMENT = re.compile(r"(/auth/acquirer/)[^/?#\s\"'<>]+")
_ANY_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_REDACTED_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
_install_lock = threading.Lock()


def redact(text: str) -> str:
    """`text` with any acquirer token in a login path replaced by `***`."""
    return _ACQUIRER_SEGMENT.sub(r"\1***", text)


def _scrub(text: str) -> str:
    """Text from a lower layer, fit for an error message: no URL, no token, short."""
    return _ANY_URL.sub("<url>", redact(text))[:120]


class _RedactAcquirerToken(logging.Filter):
    """Masks the login path's token in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's problem, not ours
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    """Put the redacting filter on httpx's and httpcore's loggers (idempotent)."""
    with _install_lock:
        for name in _REDACTED_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _RedactAcquirerToken) for f in logger.filters):
                logger.addFilter(_RedactAcquirerToken())


install_log_redaction()


# --- pure helpers ------------------------------------------------------------------------


def error_class(status: int, message: str) -> type[DiiaError]:
    """The error for a non-200 answer, looked up in `ERROR_TABLE`."""
    rows = ERROR_TABLE.get(status) or (ERROR_TABLE["5xx"] if 500 <= status < 600 else ())
    for pattern, error in rows:
        if re.search(pattern, message, re.IGNORECASE):
            return error
    return BadResponse


def jwt_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified (only `exp`/`iat` are read); {} if unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_lifetime(token: str, now: float) -> float:
    """Seconds the token lives from `now`.

    `exp - iat` comes first: both are Diia's clock, so a kiosk whose own clock is off (a Pi
    has no RTC) still renews on time. Then `exp - now`, then Diia's documented default.
    """
    claims = jwt_claims(token)
    exp, iat = claims.get("exp"), claims.get("iat")
    if _is_number(exp) and _is_number(iat) and exp > iat:
        return float(exp - iat)
    if _is_number(exp) and exp > now:
        return float(exp - now)
    return DEFAULT_TOKEN_LIFETIME_S


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        return None


def _safe_word(value: Any) -> str:
    """A short identifier from Diia's body (an error name, a field name), or ""."""
    return re.sub(r"[^A-Za-z0-9_.\[\]-]", "", value)[:40] if isinstance(value, str) else ""


def error_from_response(response: httpx.Response) -> DiiaError:
    """The `DiiaError` for a check call's non-200 answer."""
    status = response.status_code
    body = _json(response)
    fields = body if isinstance(body, dict) else {}
    message = fields.get("message")
    error = error_class(status, message if isinstance(message, str) else "")
    text = f"{_ERROR_TEXTS[error]} ({status}"
    name = _safe_word(fields.get("name"))
    text += f" {name})" if name else ")"
    if error is BadRequest:
        text += _field_names(fields.get("data"))
    return error(text)


def _field_names(data: Any) -> str:
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    names = sorted({_safe_word(e.get("field")) for e in errors if isinstance(e, dict)} - {""})
    return f": fields {', '.join(names)}" if names else ""


def _tls_verify(ca_file: str) -> ssl.SSLContext | bool:
    """Verification is always on; `ca_file` adds a CA to httpx's usual bundle."""
    if not ca_file:
        return True
    context = ssl.create_default_context(cafile=certifi.where())
    context.load_verify_locations(cafile=ca_file)
    return context


# --- the client --------------------------------------------------------------------------


class DiiaClient:
    """Checks Diia one-time codes for one partner branch.

    `validate(code)` asks whether the document is valid, `check_age(code, min_age)` whether
    its holder is at least `min_age`; each answers True or False, or raises a `DiiaError`.
    `timeout_s` is one deadline for a whole check: login, the call, a re-login and the retry.

    `transport` is the I/O seam (httpx's); `clock` gives wall-clock seconds, against which the
    session token's lifetime is measured. `connections_opened` counts TCP connections the
    client opened (from httpcore's trace events; a transport without sockets counts none).
    Safe to share between threads.
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
        ca_file: str = "",
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        install_log_redaction()
        self._credentials = credentials
        self._branch_id = branch_id
        self._timeout_s = timeout_s
        self._qr_field = qr_field
        self._age_field = age_field
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._login_lock = threading.Lock()  # one login at a time
        self._count_lock = threading.Lock()
        self.connections_opened = 0
        # Created once: the TLS context and the kept-alive connection are the expensive part.
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "User-Agent": f"diia-kiosk/{kiosk.__version__}",
                "Accept": "application/json",
            },
            timeout=timeout_s,
            verify=_tls_verify(ca_file),
            trust_env=True,
            transport=transport,
        )

    # -- public ---------------------------------------------------------------------------

    def validate(self, code: Code) -> bool:
        """Whether Diia confirms the document behind `code` is valid."""
        return self._check(VALIDATE_PATH, self._body(code))

    def check_age(self, code: Code, min_age: int) -> bool:
        """Whether Diia confirms the holder of `code` is at least `min_age` years old."""
        body = self._body(code)
        body[self._age_field] = min_age
        return self._check(AGE_PATH, body)

    def login(self) -> None:
        """Log in now, replacing any session token (for `kiosk doctor` and warm-up)."""
        deadline = time.monotonic() + self._timeout_s
        self._acquire_login_lock(deadline)
        try:
            self._login(deadline)
        finally:
            self._login_lock.release()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DiiaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------

    def _body(self, code: Code) -> dict[str, Any]:
        field = "barcode" if code.kind is CodeKind.BARCODE else self._qr_field
        return {"branchId": self._branch_id, field: code.text}

    def _check(self, path: str, body: dict[str, Any]) -> bool:
        deadline = time.monotonic() + self._timeout_s
        token = self._bearer(deadline)
        response = self._post(path, body, token, deadline)
        if response.status_code == 401:
            # Revoked, expired early, or our clock is off: one fresh login, one retry.
            _log.info("Diia refused the session token; logging in again")
            self._forget(token)
            token = self._bearer(deadline)
            response = self._post(path, body, token, deadline)
        if response.status_code != 200:
            raise error_from_response(response)
        answer = _json(response)
        success = answer.get("success") if isinstance(answer, dict) else None
        if not isinstance(success, bool):
            raise BadResponse("unexpected answer from Diia (200 without a boolean success)")
        return success

    def _post(self, path: str, body: dict[str, Any], token: str, deadline: float) -> httpx.Response:
        return self._send(
            "POST", path, deadline, json=body, headers={"Authorization": f"Bearer {token}"}
        )

    def _send(self, method: str, path: str, deadline: float, **kwargs: Any) -> httpx.Response:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DiiaTimeout(f"no answer from Diia within {self._timeout_s:g} s")
        started = time.monotonic()
        try:
            response = self._http.request(
                method, path, timeout=remaining, extensions={"trace": self._trace}, **kwargs
            )
        except httpx.TimeoutException:
            error: DiiaError = DiiaTimeout(f"no answer from Diia within {self._timeout_s:g} s")
        except httpx.TransportError as exc:
            error = NetworkError(f"cannot reach Diia: {type(exc).__name__}: {_scrub(str(exc))}")
        except httpx.HTTPError as exc:  # e.g. a body that fails to decompress
            error = BadResponse(f"unreadable answer from Diia: {type(exc).__name__}")
        else:
            _log.debug(
                "Diia %s %s: %d in %.1f ms",
                method,
                redact(path),
                response.status_code,
                (time.monotonic() - started) * 1000,
            )
            return response
        # Raised outside the except block so no httpx exception stays chained: those hold the
        # request, whose URL may carry the acquirer token and whose body carries the code.
        raise error

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event in _CONNECT_EVENTS:
            with self._count_lock:
                self.connections_opened += 1

    # -- session token --------------------------------------------------------------------

    def _bearer(self, deadline: float) -> str:
        """A session token good for now, logging in first when there is none or it is old."""
        self._acquire_login_lock(deadline)
        try:
            if self._token is None or self._clock() >= self._renew_at:
                self._login(deadline)
            assert self._token is not None
            return self._token
        finally:
            self._login_lock.release()

    def _acquire_login_lock(self, deadline: float) -> None:
        # Another thread's login may be slow; wait no longer than our own deadline.
        if not self._login_lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise DiiaTimeout(f"no answer from Diia within {self._timeout_s:g} s")

    def _forget(self, token: str) -> None:
        # Only if no other thread has replaced it meanwhile, so one 401 costs one login.
        with self._login_lock:
            if self._token == token:
                self._token = None

    def _login(self, deadline: float) -> None:
        """Log in (the caller holds the login lock) and keep the session token."""
        path = LOGIN_PATH.format(quote(self._credentials.acquirer_token, safe=""))
        response = self._send(
            "GET",
            path,
            deadline,
            headers={"Authorization": f"Basic {self._credentials.auth_token}"},
        )
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(f"Diia refused the login ({status}): check the acquirer secrets")
        if 500 <= status < 600:
            raise DiiaUnavailable(f"Diia is unavailable ({status} at login)")
        if status != 200:
            raise BadResponse(f"unexpected answer from Diia ({status} at login)")
        answer = _json(response)
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise BadResponse("unexpected answer from Diia (login without a token)")
        now = self._clock()
        lifetime = token_lifetime(token, now)
        # Short-lived tokens (the sandbox's) renew at half life rather than never being fresh.
        self._renew_at = now + lifetime - min(RENEW_MARGIN_S, lifetime / 2)
        self._token = token
        _log.info("logged in to Diia; session token renews in %.0f s", self._renew_at - now)
