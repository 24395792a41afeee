"""The error table, row by row: Diia's status first, its message second, ours at the end."""

from __future__ import annotations

import httpx
import pytest

from kiosk.diia.errors import (
    ERROR_TABLE,
    AuthFailed,
    BadRequest,
    BadResponse,
    CodeExpired,
    CodeNotFound,
    CodeRejected,
    CodeUsed,
    DiiaError,
    DiiaTimeout,
    DiiaUnavailable,
    NetworkError,
    UsedAfterFailedAttempt,
    error_class,
    error_from_response,
    field_names,
)

# Every row of DIIA-API.md's error table with a body as Diia's services send it.
DIIA_ROWS = [
    (401, {"name": "UnauthorizedError", "message": "Empty token"}, AuthFailed),
    (401, {"name": "UnauthorizedError", "message": "Unexpected action token"}, AuthFailed),
    (401, {"name": "UnauthorizedError", "message": "Acquirer not found"}, AuthFailed),
    (422, {"name": "ValidationError", "message": "Parameters validation error!",
           "data": {"errors": [{"type": "required", "message": "m", "field": "age"}]}},
     BadRequest),
    (400, {"name": "BadRequestError", "message": "Code has been expired!",
           "data": {"now": "2026-01-01T00:00:00Z", "expirationDate": "2025-12-31T23:59:00Z"}},
     CodeExpired),
    (400, {"name": "BadRequestError", "message": "This code has been used already!"}, CodeUsed),
    (404, {"name": "NotFoundError", "message": "No record with presented code!"}, CodeNotFound),
    (503, {"name": "ServiceNotAvailableError", "message": "Service is not available"},
     DiiaUnavailable),
]


@pytest.mark.parametrize(("status", "body", "error"), DIIA_ROWS)
def test_every_row_of_diias_table_maps_to_its_error(status, body, error):
    got = error_from_response(httpx.Response(status, json=body))
    assert type(got) is error
    assert str(status) in str(got)


@pytest.mark.parametrize(
    ("error", "reason", "is_fail"),
    [
        (CodeExpired, "expired", True),
        (CodeUsed, "used", True),
        (CodeNotFound, "not_found", True),
        (UsedAfterFailedAttempt, "used", False),
        (DiiaUnavailable, "diia_unavailable", False),
        (DiiaTimeout, "timeout", False),
        (NetworkError, "network", False),
        (AuthFailed, "auth_failed", False),
        (BadResponse, "bad_response", False),
        (BadRequest, "bad_request", False),
    ],
)
def test_each_error_has_its_reason_and_only_code_rejections_are_fail(error, reason, is_fail):
    assert error.reason == reason
    assert error.outcome_is_fail is is_fail
    assert issubclass(error, CodeRejected) is is_fail
    assert error("x").code_may_be_used is False  # only the client says so, per instance


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (400, "Code has been expired!", CodeExpired),
        (400, "This code has been used already!", CodeUsed),
        (400, "Something caused a problem", BadResponse),  # not a code answer: never red
        (401, "Empty token", AuthFailed),
        (401, "", AuthFailed),
        (403, "Forbidden", BadResponse),
        (404, "No record with presented code!", CodeNotFound),
        (404, "Route not found", BadResponse),  # a wrong URL is our fault, not the customer's
        (422, "Parameters validation error!", BadRequest),
        (429, "Too many requests", DiiaUnavailable),
        (500, "", DiiaUnavailable),
        (502, "<html>", DiiaUnavailable),
        (503, "", DiiaUnavailable),
        (599, "", DiiaUnavailable),
        (418, "", BadResponse),
        (302, "", BadResponse),
    ],
)
def test_status_first_message_second(status: int, message: str, error: type[DiiaError]):
    assert error_class(status, message) is error


def test_the_status_decides_before_the_message():
    # "expired" in a 401 is about our token, never about the customer's code.
    assert error_class(401, "Token has expired") is AuthFailed
    assert error_class(503, "Code has been expired!") is DiiaUnavailable


def test_a_rewrapped_message_is_matched_in_description():
    body = {"name": "HttpError", "message": "Bad Request",
            "description": "This code has been used already!"}
    assert type(error_from_response(httpx.Response(400, json=body))) is CodeUsed


def test_every_table_row_names_a_diia_error():
    for rows in ERROR_TABLE.values():
        for pattern, error in rows:
            assert issubclass(error, DiiaError) and isinstance(pattern, str)


def test_422_names_its_fields_safely():
    body = {"name": "ValidationError", "data": {"errors": [
        {"field": "age"}, {"field": "branchId"}, {"field": "<script>x"}, {"type": "no field"}]}}
    error = error_from_response(httpx.Response(422, json=body))
    assert isinstance(error, BadRequest)
    assert error.fields == ("age", "branchId", "scriptx")
    assert "fields age, branchId" in str(error)
    assert field_names("not a dict") == ()


def test_non_json_error_bodies_are_bad_response_or_unavailable():
    assert type(error_from_response(httpx.Response(404, text="<html>"))) is BadResponse
    assert type(error_from_response(httpx.Response(502, text="<html>"))) is DiiaUnavailable


def test_an_error_is_built_with_what_is_known_of_the_code() -> None:
    sent = NetworkError("dropped", code_may_be_used=True)
    assert sent.code_may_be_used
    unsent = DiiaTimeout("late")
    assert unsent.knowing(False) is unsent  # nothing new learnt: the same error
    retried = unsent.knowing(True)
    assert retried is not unsent and not unsent.code_may_be_used  # the first stays as built
    assert type(retried) is DiiaTimeout and retried.code_may_be_used and str(retried) == "late"
    bad = BadRequest("422", ("barcode",)).knowing(True)
    assert isinstance(bad, BadRequest) and bad.fields == ("barcode",) and bad.code_may_be_used
