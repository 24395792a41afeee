"""The Diia client's exception tree, and the one table that maps Diia's answers onto it.

    DiiaError                     reason, outcome_is_fail, code_may_be_used
    ├── CodeRejected              Diia itself said the code is bad: outcome_is_fail = True
    │   ├── CodeExpired           "expired"       400, "Code has been expired!"
    │   ├── CodeUsed              "used"          400, "This code has been used already!"
    │   └── CodeNotFound          "not_found"     404, "No record with presented code!"
    ├── UsedAfterFailedAttempt    "used"          400 "used", but an earlier attempt of ours
    │                                             with the same code failed mid-way
    ├── DiiaUnavailable           "diia_unavailable"  5xx, 429
    ├── DiiaTimeout               "timeout"       no answer within the deadline
    ├── NetworkError              "network"       connect refused, reset, dropped
    ├── AuthFailed                "auth_failed"   login refused, or 401 after a fresh login
    ├── BadResponse               "bad_response"  non-JSON, unexpected shape or status
    └── BadRequest                "bad_request"   422: our own bug; `fields` names the fields

Everything but `CodeRejected` is an unknown outcome: the kiosk shows amber, never green and
never red. `code_may_be_used`, given when the error is built, is True when the code may have
reached Diia's processing without a clear answer coming back (a timeout after sending, a
drop, a 5xx, a garbled 200): Diia may have used the code up, so a later "used" for it proves
nothing against the customer. A caller that learns more builds a new error (`knowing`).

Messages are built here and in the client, and never carry a secret, a token, a code or a
URL (the acquirer token travels in the login URL's path).
"""

from __future__ import annotations

import re
from typing import Any

import httpx


class DiiaError(Exception):
    """Base of every error the Diia client raises; built with what is known of the code."""

    reason: str = "bad_response"
    outcome_is_fail: bool = False

    def __init__(self, message: str = "", *, code_may_be_used: bool = False) -> None:
        super().__init__(message)
        self.code_may_be_used = code_may_be_used

    def knowing(self, code_may_be_used: bool) -> DiiaError:
        """This error, or a new one like it when a caller knows the code may have reached
        Diia after all (a retry, an earlier attempt)."""
        if self.code_may_be_used or not code_may_be_used:
            return self
        return self._twin(code_may_be_used=True)

    def _twin(self, *, code_may_be_used: bool) -> DiiaError:
        return type(self)(str(self), code_may_be_used=code_may_be_used)


class CodeRejected(DiiaError):
    """Diia answered that the code itself is not acceptable."""

    outcome_is_fail = True


class CodeExpired(CodeRejected):
    reason = "expired"


class CodeUsed(CodeRejected):
    reason = "used"


class CodeNotFound(CodeRejected):
    reason = "not_found"


class UsedAfterFailedAttempt(DiiaError):
    """Diia says "used", but we may have used the code ourselves on an attempt that failed."""

    reason = "used"


class DiiaUnavailable(DiiaError):
    reason = "diia_unavailable"


class DiiaTimeout(DiiaError):
    reason = "timeout"


class NetworkError(DiiaError):
    reason = "network"


class AuthFailed(DiiaError):
    reason = "auth_failed"


class BadResponse(DiiaError):
    reason = "bad_response"


class BadRequest(DiiaError):
    """A 422: Diia found our request body invalid; `fields` are the fields it named."""

    reason = "bad_request"

    def __init__(
        self, message: str, fields: tuple[str, ...] = (), *, code_may_be_used: bool = False
    ) -> None:
        super().__init__(message, code_may_be_used=code_may_be_used)
        self.fields = fields

    def _twin(self, *, code_may_be_used: bool) -> DiiaError:
        return BadRequest(str(self), self.fields, code_may_be_used=code_may_be_used)


# Diia's answer to a check call → our error. Status first, then a pattern searched in the
# body's `message` and `description` ("" matches anything); the first matching row wins, and
# no match is a BadResponse. "5xx" is any 5xx. A 401 is handled by the client first (one
# fresh login and one retry); the row here is what a 401 means after that.
ERROR_TABLE: dict[int | str, tuple[tuple[str, type[DiiaError]], ...]] = {
    400: ((r"\bexpired\b", CodeExpired), (r"\bused\b", CodeUsed)),
    401: (("", AuthFailed),),
    404: ((r"\brecord\b|\bcode\b", CodeNotFound),),  # a route or branch 404 is not red
    422: (("", BadRequest),),
    429: (("", DiiaUnavailable),),  # no published rate limit, but a limit is an outage to us
    "5xx": (("", DiiaUnavailable),),
}

ERROR_TEXTS: dict[type[DiiaError], str] = {
    CodeExpired: "the code has expired",
    CodeUsed: "the code has been used already",
    CodeNotFound: "Diia has no record of the code",
    BadRequest: "Diia rejected the request body (our bug)",
    AuthFailed: "Diia refused the session token even after a fresh login",
    DiiaUnavailable: "Diia is unavailable",
    BadResponse: "unexpected answer from Diia",
}


def error_class(status: int, message: str) -> type[DiiaError]:
    """The error for a non-200 answer, looked up in `ERROR_TABLE`."""
    rows = ERROR_TABLE.get(status) or (ERROR_TABLE["5xx"] if 500 <= status < 600 else ())
    for pattern, error in rows:
        if re.search(pattern, message, re.IGNORECASE):
            return error
    return BadResponse


def response_json(response: httpx.Response) -> Any:
    """The body as JSON, or None when it is not JSON."""
    try:
        return response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested absurdly deep
        return None


def safe_word(value: Any) -> str:
    """A short identifier from Diia's body (an error name, a field name), or ""."""
    return re.sub(r"[^A-Za-z0-9_.\[\]-]", "", value)[:40] if isinstance(value, str) else ""


def error_from_response(response: httpx.Response, *, attempted: bool = False) -> DiiaError:
    """The `DiiaError` for a check call's non-200 answer. The code may have been used when an
    earlier attempt of ours failed mid-way (`attempted`), or when Diia failed (a 5xx, a 429,
    an answer we cannot read) after the code reached it."""
    status = response.status_code
    body = response_json(response)
    fields = body if isinstance(body, dict) else {}
    texts = [fields.get(key) for key in ("message", "description")]
    error = error_class(status, " ".join(t for t in texts if isinstance(t, str)))
    text = f"{ERROR_TEXTS[error]} ({status}"
    name = safe_word(fields.get("name"))
    text += f" {name})" if name else ")"
    maybe_used = attempted or error in (DiiaUnavailable, BadResponse)
    if error is BadRequest:
        named = field_names(fields.get("data"))
        return BadRequest(text + (f": fields {', '.join(named)}" if named else ""), named,
                          code_may_be_used=maybe_used)
    return error(text, code_may_be_used=maybe_used)


def field_names(data: Any) -> tuple[str, ...]:
    """The field names of a 422's `data.errors`, sorted, made safe to log."""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ()
    return tuple(sorted({safe_word(e.get("field")) for e in errors if isinstance(e, dict)} - {""}))
