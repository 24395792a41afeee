"""The sandbox's faults: what each one is called and what answer it gives.

    "unavailable"   503 ServiceNotAvailableError
    "status:<n>"    status <n> (500-599) with an HTML body, as a gateway in front gives it
    "refuse"        401 UnauthorizedError
    "drop"          the connection is closed without an answer (FIN)
    "reset"         the connection is reset without an answer (RST)
    "lose"          the request is done (a code is used up), then the connection dropped
    "malformed"     200 with a JSON body cut short
    "slow:<s>"      the answer comes <s> seconds late
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.diia.sandbox.http_server import Reply

FAULTS = ("unavailable", "status", "refuse", "drop", "reset", "lose", "malformed", "slow")
_FAULT_USAGE = "unavailable, status:<500-599>, refuse, drop, reset, lose, malformed, slow:<s>"


def parse_fault(fault: str | None) -> tuple[str, float] | None:
    """("slow", 1.5) for "slow:1.5", ("status", 502) for "status:502"; ValueError if unknown."""
    if fault is None:
        return None
    name, _, arg = fault.partition(":")
    takes_arg = name in ("slow", "status")
    if name not in FAULTS or bool(arg) != takes_arg:
        raise ValueError(f"unknown fault {fault!r}; known: {_FAULT_USAGE}")
    try:
        value = float(arg) if arg else 0.0
    except ValueError:
        raise ValueError(f"unknown fault {fault!r}; known: {_FAULT_USAGE}") from None
    if (name == "status" and not (500 <= value <= 599 and value.is_integer())) or (
            name == "slow" and not 0 <= value <= 300):  # also no nan or inf: a sleep must end
        raise ValueError(f"unknown fault {fault!r}; known: {_FAULT_USAGE}")
    return name, value


def error_body(name: str, message: str, **extra: Any) -> dict[str, Any]:
    """An error body as Diia's services shape it."""
    return {"name": name, "message": message, **extra}


def fault_reply(fault: str, *, login: bool, wait: Callable[[float], None]) -> Reply | None:
    """The answer a fault gives instead of the normal one, or None when the request is done
    as usual ("slow": after the wait; "lose": the caller then drops the answer)."""
    parsed = parse_fault(fault)
    assert parsed is not None
    name, value = parsed
    if name == "slow":
        wait(value)
        return None
    if name == "lose":
        return None
    if name == "unavailable":
        body = error_body("ServiceNotAvailableError", "Service is not available", code=503)
        return Reply(503, body)
    if name == "status":
        page = f"<html><body><h1>{int(value)}</h1>upstream trouble</body></html>"
        return Reply(int(value), page.encode(), "text/html; charset=utf-8")
    if name == "refuse":
        message = "Acquirer not found" if login else "Invalid token"
        return Reply(401, error_body("UnauthorizedError", message, code=401))
    if name in ("drop", "reset"):
        return Reply(0, close=name)
    return Reply(200, b'{"success": tr', "application/json; charset=utf-8")

