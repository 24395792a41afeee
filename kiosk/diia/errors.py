"""The Diia client's exception tree; the checker turns each into a `Verdict`.

    DiiaError                     reason, outcome_is_fail
    ├── CodeRejected              Diia itself said the code is bad: outcome_is_fail = True
    │   ├── CodeExpired           "expired"       400, "Code has been expired!"
    │   ├── CodeUsed              "used"          400, "This code has been used already!"
    │   └── CodeNotFound          "not_found"     404, "No record with presented code!"
    ├── DiiaUnavailable           "diia_unavailable"  5xx
    ├── DiiaTimeout               "timeout"       no answer within the deadline
    ├── NetworkError              "network"       connect refused, reset, dropped
    ├── AuthFailed                "auth_failed"   login refused, or 401 after a fresh login
    ├── BadResponse               "bad_response"  non-JSON, unexpected shape or status
    └── BadRequest                "bad_request"   422: our own bug (field names in the message)

Everything but `CodeRejected` is an unknown outcome: the kiosk shows amber, never green and
never red. Messages are built by the client and never carry a secret, a token, a code or a
URL (the acquirer token travels in the login URL's path).
"""

from __future__ import annotations


class DiiaError(Exception):
    """Base of every error the Diia client raises."""

    reason: str = "bad_response"
    outcome_is_fail: bool = False


class CodeRejected(DiiaError):
    """Diia answered that the code itself is not acceptable."""

    outcome_is_fail = True


class CodeExpired(CodeRejected):
    reason = "expired"


class CodeUsed(CodeRejected):
    reason = "used"


class CodeNotFound(CodeRejected):
    reason = "not_found"


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
    reason = "bad_request"
