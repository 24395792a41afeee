"""The OpenAPI 3.1 description of the till's API, served at /v1/openapi.json.

Kept as data beside the handlers it describes; the tests validate it against the OpenAPI 3.1
schema and check that every route the server answers is in it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from kiosk import __version__
from kiosk.api.requests import MAX_EXPIRES_S, MAX_REFERENCE_CHARS
from kiosk.loop import CheckStatus
from kiosk.model import MAX_AGE, MIN_AGE, TILL_MODES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_NAME = {"type": "string", "minLength": 1, "maxLength": 100,
         "description": "Personal data: kept in memory only until the verdict."}

SCHEMAS: dict[str, Any] = {
    "CheckRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["mode"],
        "properties": {
            "mode": {"enum": list(TILL_MODES), "description": "validate: the document is valid; "
                     "age: its holder is at least min_age; name: the holder's name is the "
                     "one given; share: ask the holder to share the document with the "
                     "partner's back office (document-request); share_online: no code is read, the "
                     "screen shows a Diia deeplink (dynamic offer-request) as a QR for the "
                     "customer's phone, renewed before it expires (needs [share] offer_id, "
                     "else 400)"},
            "min_age": {"type": "integer", "minimum": MIN_AGE, "maximum": MAX_AGE,
                        "description": 'mode "age" only; default from the kiosk\'s config'},
            "last_name": _NAME, "first_name": _NAME,
            "middle_name": {**_NAME, "minLength": 0},
            "reference": {"type": "string", "minLength": 1, "maxLength": MAX_REFERENCE_CHARS,
                          "description": "the till's own reference (order, receipt), echoed "
                                         "in the check and its events"},
            "expires_s": {"type": "number", "minimum": 1, "maximum": MAX_EXPIRES_S,
                          "description": "an armed check with no code read by then expires"},
        },
    },
    "Check": {
        "type": "object",
        "required": ["id", "state", "mode"],
        "properties": {
            "id": {"type": "string"},
            "state": {"enum": [str(s) for s in CheckStatus]},
            "mode": {"enum": list(TILL_MODES)},
            "reference": {"type": "string"},
            "request_id": {"type": "string", "description": 'modes "share" and '
                           '"share_online": the requestId sent to Diia (the latest deeplink\'s),'
                           " which Diia's delivery to the partner carries"},
            "verdict": _ref("VerdictEvent"),
        },
    },
    "VerdictEvent": {
        "type": "object",
        "required": ["ts", "event", "outcome", "reason", "mode", "code_kind", "code_id",
                     "cached", "ms"],
        "properties": {
            "ts": {"type": "string"},
            "event": {"const": "verdict"},
            "outcome": {"enum": ["pass", "fail", "unknown"]},
            "reason": {"type": "string"},
            "mode": {"type": "string"},
            "code_kind": {"enum": ["barcode", "qr"]},
            "code_id": {"type": "string", "description": "keyed hash prefix, never the code"},
            "cached": {"type": "boolean"},
            "ms": {"type": "object", "additionalProperties": {"type": "number"},
                   "description": "milliseconds per stage: decode, queue (a code read while "
                   "the kiosk was busy waits), diia, total (from the read to the verdict)"},
            "id": {"type": "string", "description": "the armed check this verdict ends"},
            "reference": {"type": "string"},
            "request_id": {"type": "string"},
        },
    },
    "CheckEvent": {
        "type": "object",
        "required": ["ts", "event", "id", "state", "mode"],
        "properties": {
            "ts": {"type": "string"}, "event": {"const": "check"}, "id": {"type": "string"},
            "state": {"enum": [str(s) for s in CheckStatus]}, "mode": {"enum": list(TILL_MODES)},
            "reference": {"type": "string"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["state", "config_version", "clock_trusted", "diia", "faults"],
        "properties": {
            "state": {"type": "string", "description": "the kiosk's phase (idle, reading, "
                      "checking, pass, fail, unknown, attended_wait), or armed: resting, "
                      "armed for the next code"},
            "config_version": {"type": "integer", "description": "0: the local config"},
            "clock_trusted": {"type": "boolean"},
            "diia": {"enum": ["reachable", "unreachable", "unknown"]},
            "faults": {"type": "array", "items": {"type": "string"}},
            "checks": {"type": "object", "additionalProperties": {"type": "integer"}},
            "version": {"type": "string"},
        },
    },
    "Accepted": {"type": "object", "required": ["accepted"],
                 "properties": {"accepted": {"type": "string"}}},
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "a short stable identifier"},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "the request field that was wrong"},
        },
    },
}

_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_UNAUTHORIZED = {"401": _error("no valid bearer token (when the kiosk has one)")}
_STAFF_ANSWERS = {"202": _json(_ref("Accepted"), "queued for the loop"),
                  "400": _error("a body with fields"),
                  "409": _error("this kiosk has no staff step (no_staff_step), or the command "
                                "would change nothing now: nothing_to_acknowledge, "
                                "verdict_waiting (acknowledge first), busy (a check is in "
                                "progress)"), **_UNAUTHORIZED}


@cache
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Diia kiosk: the till's API",
            "version": __version__,
            "description": "Arm a check for the next Diia code read, hear its verdict. "
                           "Off unless [api] listen is set; a LAN address needs a bearer "
                           "token.",
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}, {}],
        "paths": {
            "/v1/checks": {"post": {
                "summary": "Arm a check: the next Diia code read is checked on these terms",
                "operationId": "armCheck",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("CheckRequest")}}},
                "responses": {
                    "201": _json(_ref("Check"), "armed"),
                    "400": _error("a field is wrong or unknown; `field` names it"),
                    "429": _error("too many checks open at once"), **_UNAUTHORIZED,
                },
            }},
            "/v1/checks/{id}": {
                "parameters": [_ID],
                "get": {"summary": "Where a check stands", "operationId": "getCheck",
                        "responses": {"200": _json(_ref("Check"), "the check"),
                                      "404": _error("no such check"), **_UNAUTHORIZED}},
                "delete": {"summary": "Cancel an armed check (or one being checked: the "
                                      "till hears no more of it)",
                           "operationId": "cancelCheck",
                           "responses": {"200": _json(_ref("Check"), "cancelled"),
                                         "404": _error("no such check"),
                                         "409": _error("the check has ended already"),
                                         **_UNAUTHORIZED}},
            },
            "/v1/events": {"get": {
                "summary": "Server-Sent Events: verdict and check events, keep-alive comments",
                "description": "Each event has an `id:`; reconnect with `Last-Event-ID` to "
                               "get what was missed in the last five minutes. `event:` is "
                               "`verdict` or `check`; `data:` the JSON object.",
                "operationId": "events",
                "parameters": [{"name": "Last-Event-ID", "in": "header", "required": False,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}],
                "responses": {
                    "200": {"description": "the stream", "content": {"text/event-stream": {
                        "schema": {"type": "string"},
                        "x-event-data": {"oneOf": [_ref("VerdictEvent"), _ref("CheckEvent")]},
                    }}},
                    "400": _error("Last-Event-ID is not a number"),
                    "503": _error("too many streams open"), **_UNAUTHORIZED,
                },
            }},
            "/v1/staff/ack": {"post": {"summary": "Staff acknowledge the verdict shown",
                                       "operationId": "staffAck",
                                       "responses": _STAFF_ANSWERS}},
            "/v1/staff/arm": {"post": {"summary": "Staff arm the kiosk for one age check",
                                       "operationId": "staffArm",
                                       "responses": _STAFF_ANSWERS}},
            "/v1/health": {"get": {"summary": "State, config version, clock, Diia, faults",
                                   "operationId": "health",
                                   "responses": {"200": _json(_ref("Health"), "health"),
                                                 **_UNAUTHORIZED}}},
            "/v1/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                         "security": [{}],
                                         "responses": {"200": {"description": "OpenAPI 3.1",
                                                               "content": {
                                                                   "application/json": {}}}}}},
        },
    }
