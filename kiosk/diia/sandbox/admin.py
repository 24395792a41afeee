"""The sandbox's admin API: what a POS developer uses to drive `kiosk sandbox` over HTTP.

It lives on the sandbox's own port under `/sandbox`, speaks JSON, and is the HTTP face of
`DiiaSandbox`'s Python methods:

    GET  /sandbox                  this summary, the branch id and the sandbox's credentials
    POST /sandbox/codes            mint a code: {"state", "age", "kind", "fault",
                                   "name": {"last_name", "first_name", "middle_name"}},
                                   every key optional → 201 {"code", "state", "kind", …}
    POST /sandbox/faults           {"fault": "unavailable" | … | null, "latency_s": 0,
                                   "on": "checks" | "logins"}
    POST /sandbox/tokens/revoke    every session token issued so far gets a 401
    POST /sandbox/clock            {"offset_s": 120}: the sandbox's clock runs ahead (or behind)
    GET  /sandbox/requests         the latest Diia API requests answered (?limit=N, default 50)

Bad input is a 400 {"error": "…"} naming the problem. The admin API is for a sandbox on a
developer's machine: it listens where the sandbox listens (loopback unless told otherwise),
and a web page open in that developer's browser must not be able to drive it:

- `Host` must be `localhost` or an IP address (with any port): a DNS-rebinding page reaches
  the sandbox under its own domain name, and is refused (403);
- a browser's cross-site request (`Origin` not a loopback address, `Sec-Fetch-Site:
  cross-site`) is refused (403);
- a POST must say `Content-Type: application/json` (415 otherwise): a page can send a
  "simple" cross-site POST (text/plain, a form) without asking, but not a JSON one;
- the clock offset and the latency are bounded, so no setting leaves the sandbox mute.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import parse_qs

from kiosk.diia.sandbox.http_server import Reply, Request
from kiosk.diia.sandbox.rules import CODE_LIFETIME_S, DEFAULT_HOLDER, Holder
from kiosk.diia.types import Credentials, PersonName
from kiosk.diia.web_guard import browser_refusal


class DiiaSandbox(Protocol):
    """What the admin API drives: the emulator's Python face (its `respond` hands itself)."""

    clock_offset_s: float

    @property
    def base_url(self) -> str: ...

    @property
    def branch_id(self) -> str: ...

    @property
    def credentials(self) -> Credentials: ...

    @property
    def requests(self) -> Sequence[Any]: ...

    def mint(self, state: str = "valid", *, age: int = 30, kind: str = "barcode",
             fault: str | None = None, name: PersonName = DEFAULT_HOLDER) -> str: ...

    def fail(self, fault: str | None, latency_s: float = 0.0, *, on: str = "checks",
             times: int | None = None) -> None: ...

    def revoke_tokens(self) -> int: ...

ROUTES = {
    ("GET", "/sandbox"): "this summary",
    ("POST", "/sandbox/codes"): 'mint a code: {"state", "age", "kind", "fault", "name"}',
    ("POST", "/sandbox/faults"): '{"fault": "unavailable"|…|null, "latency_s", "on"}',
    ("POST", "/sandbox/tokens/revoke"): "every session token so far gets a 401",
    ("POST", "/sandbox/clock"): '{"offset_s": seconds}: set the sandbox clock off',
    ("GET", "/sandbox/requests"): "the latest Diia API requests (?limit=N)",
}


MAX_CLOCK_OFFSET_S = 7 * 86400.0  # a week either way tests every clock check there is
MAX_LATENCY_S = 300.0


class _BadInput(ValueError):
    pass


def refusal(request: Request) -> Reply | None:
    """The 403/415 for a request a web page could have sent (kiosk.diia.web_guard), else None."""
    refused = browser_refusal(request.method, request.headers)
    if refused is None:
        return None
    return Reply(refused.status, {"error": f"{refused.header}: {refused.message} by the "
                                           "admin API"})


def respond(sandbox: DiiaSandbox, request: Request) -> Reply:
    """The admin API's answer to `request` (its path starts with /sandbox)."""
    refused = refusal(request)
    if refused is not None:
        return refused
    route = (request.method, request.path.rstrip("/") or "/")
    if route not in ROUTES:
        known = [f"{m} {p}" for m, p in ROUTES]
        return Reply(404, {"error": "no such admin route", "routes": known})
    try:
        body = _json_object(request.body) if request.method == "POST" else {}
        return _HANDLERS[route[1]](sandbox, body, request.query)
    except (_BadInput, ValueError) as exc:
        return Reply(400, {"error": str(exc)})


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise _BadInput("the body must be JSON") from None
    if not isinstance(body, dict):
        raise _BadInput("the body must be a JSON object")
    return body


def _take(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = set(body) - allowed
    if unknown:
        raise _BadInput(f"unknown key(s): {', '.join(sorted(unknown))}; "
                        f"known: {', '.join(sorted(allowed))}")
    return body


def _summary(sandbox: DiiaSandbox, body: dict[str, Any], query: str) -> Reply:
    creds = sandbox.credentials
    return Reply(200, {
        "base_url": sandbox.base_url,
        "branch_id": sandbox.branch_id,
        "KIOSK_DIIA_ACQUIRER_TOKEN": creds.acquirer_token,
        "KIOSK_DIIA_AUTH_TOKEN": creds.auth_token,
        "routes": {f"{m} {p}": what for (m, p), what in ROUTES.items()},
    })


def _mint(sandbox: DiiaSandbox, body: dict[str, Any], query: str) -> Reply:
    args = _take(body, {"state", "age", "kind", "fault", "name"})
    name = DEFAULT_HOLDER
    if args.get("name") is not None:
        name = Holder.parse(args["name"])
    state = args.get("state", "valid")
    kind = args.get("kind", "barcode")
    code = sandbox.mint(state, age=args.get("age", 30), kind=kind, fault=args.get("fault"),
                        name=name)
    return Reply(201, {
        "code": code,
        "state": state,
        "kind": kind,
        "age": args.get("age", 30),
        "name": dataclasses.asdict(name),
        "fault": args.get("fault"),
        "valid_for_s": 0 if state == "expired" else CODE_LIFETIME_S,
    })


def _faults(sandbox: DiiaSandbox, body: dict[str, Any], query: str) -> Reply:
    args = _take(body, {"fault", "latency_s", "on"})
    latency = args.get("latency_s", 0.0)
    if isinstance(latency, bool) or not isinstance(latency, int | float) or not (
            0 <= latency <= MAX_LATENCY_S):
        raise _BadInput(f'"latency_s" must be a number of seconds from 0 to {MAX_LATENCY_S:g}')
    sandbox.fail(args.get("fault"), float(latency), on=args.get("on", "checks"))
    return Reply(200, {"fault": args.get("fault"), "latency_s": latency,
                       "on": args.get("on", "checks")})


def _revoke(sandbox: DiiaSandbox, body: dict[str, Any], query: str) -> Reply:
    _take(body, set())
    return Reply(200, {"revoked": sandbox.revoke_tokens()})


def _clock(sandbox: DiiaSandbox, body: dict[str, Any], query: str) -> Reply:
    offset = _take(body, {"offset_s"}).get("offset_s")
    if isinstance(offset, bool) or not isinstance(offset, int | float) or not (
            math.isfinite(offset) and abs(offset) <= MAX_CLOCK_OFFSET_S):
        raise _BadInput(f'"offset_s" must be a number of seconds within '
                        f'±{MAX_CLOCK_OFFSET_S:g}')
    sandbox.clock_offset_s = float(offset)
    return Reply(200, {"offset_s": float(offset)})


def _requests(sandbox: DiiaSandbox, body: dict[str, Any], query: str) -> Reply:
    limit_text = parse_qs(query).get("limit", ["50"])[0]
    if not (limit_text.isascii() and limit_text.isdigit()):
        raise _BadInput("limit must be a whole number")
    limit = int(limit_text)
    latest = sandbox.requests[-limit:] if limit else []
    return Reply(200, {"requests": [dataclasses.asdict(r) for r in latest]})


_HANDLERS = {
    "/sandbox": _summary,
    "/sandbox/codes": _mint,
    "/sandbox/faults": _faults,
    "/sandbox/tokens/revoke": _revoke,
    "/sandbox/clock": _clock,
    "/sandbox/requests": _requests,
}


def banner(sandbox: DiiaSandbox) -> str:
    """What `kiosk sandbox` prints at start: how to point a kiosk at it and how to drive it."""
    url, creds = sandbox.base_url, sandbox.credentials
    samples = "\n".join(
        f"    {state:<10} {sandbox.mint(state)}" for state in ("valid", "not_valid", "expired",
                                                              "used")
    )
    post = f"curl -s -H 'Content-Type: application/json' {url}/sandbox"
    return f"""Diia sandbox listening on {url} (Ctrl-C to stop)

Point a kiosk at it:
  export KIOSK_DIIA_ACQUIRER_TOKEN={creds.acquirer_token}
  export KIOSK_DIIA_AUTH_TOKEN={creds.auth_token}
  [diia] base_url = "{url}", branch_id = "{sandbox.branch_id}"
  sample codes (3 minutes each, one check each: mint more below):
{samples}

Admin API (JSON in and out):
  mint a code       {post}/codes -d '{{"state": "valid", "age": 17, "kind": "barcode"}}'
                    (state: valid | not_valid | expired | used; kind: barcode | qr;
                     "name": {{"last_name": …, "first_name": …, "middle_name": …}})
  make Diia fail    {post}/faults -d '{{"fault": "unavailable", "latency_s": 0}}'
                    (fault: unavailable | status:502 | refuse | drop | reset | lose |
                     malformed | slow:5 | null to heal; "on": "logins" to fail the login
                     instead; lose: the code is used up and the answer lost)
  revoke tokens     {post}/tokens/revoke -d '{{}}'
  set its clock off {post}/clock -d '{{"offset_s": 120}}'
  share answers     {post}/share -d '{{"answer": "confirm", "after_s": 2}}'
                    (answer: confirm | refuse | ignore; "deliver_to": a URL a confirmed
                     document request is delivered to)
  latest shares     curl -s {url}/sandbox/shares
  latest requests   curl -s {url}/sandbox/requests?limit=20
  everything        curl -s {url}/sandbox"""
