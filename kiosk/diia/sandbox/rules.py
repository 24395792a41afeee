"""The rules of the emulated Diia for one code: the codes it mints and how it judges them.

Pure functions and plain data; `kiosk.diia.sandbox.emulator` holds the state and serves them.
"""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kiosk.diia.codes import ean13_check_digit, is_diia_qr
from kiosk.diia.sandbox.faults import error_body
from kiosk.diia.sandbox.http_server import Reply
from kiosk.diia.types import PersonName

CODE_LIFETIME_S = 180.0  # a Diia code pair lives 3 minutes
STATES = ("valid", "not_valid", "expired", "used")
KINDS = ("barcode", "qr")
MAX_NAME_CHARS = 100


@dataclass(frozen=True, slots=True)
class Holder:
    """The holder of a minted code as the emulated Diia knows them; `middle_name` may be ""."""

    last_name: str = field(repr=False)
    first_name: str = field(repr=False)
    middle_name: str = field(default="", repr=False)

    @classmethod
    def parse(cls, fields: Any) -> Holder:
        """From the admin API's {"last_name", "first_name", "middle_name"}; ValueError if bad."""
        if not isinstance(fields, dict):
            raise ValueError('"name" must be an object: {"last_name", "first_name", '
                             '"middle_name"}')
        unknown = set(fields) - {"last_name", "first_name", "middle_name"}
        if unknown:
            raise ValueError(f"unknown name field(s): {', '.join(sorted(unknown))}")
        values = []
        for key, required in (("last_name", True), ("first_name", True), ("middle_name", False)):
            value = fields.get(key, "")
            if not isinstance(value, str) or (required and not value.strip()):
                raise ValueError(f"name.{key} must be a non-empty string")
            if len(value) > MAX_NAME_CHARS or not value.isprintable():
                raise ValueError(f"name.{key}: at most {MAX_NAME_CHARS} printable characters")
            values.append(" ".join(value.split()))
        return cls(*values)


DEFAULT_HOLDER = Holder("Петренко", "Олена", "Іванівна")

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "‘": "'"})


@dataclass(frozen=True, slots=True)
class Minted:
    """A code the sandbox minted, and what it knows of its holder."""

    state: str
    age: int
    kind: str
    fault: str | None
    expires_at: float  # on the sandbox's clock
    name: PersonName
    consumed: bool = False  # a check got an answer: the code is used up


def unauthorized(message: str) -> Reply:
    return Reply(401, error_body("UnauthorizedError", message, code=401))


def validation(errors: list[tuple[str, str, str]]) -> Reply:
    found = [{"type": t, "message": m, "field": f} for t, m, f in errors]
    body = error_body("ValidationError", "Parameters validation error!", data={"errors": found})
    return Reply(422, body)


def _bad_request(message: str, **extra: Any) -> Reply:
    return Reply(400, error_body("BadRequestError", message, code=400, **extra))


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def same_name(a: str, b: str) -> bool:
    """Names compared as a person would: case, apostrophe style and spacing do not count."""

    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).translate(_APOSTROPHES).split())

    return norm(a).casefold() == norm(b).casefold()


def judge(
    minted: Minted, now: float, min_age: int | None, asked_name: tuple[str, str, str] | None
) -> Reply:
    """Diia's answer about a known code: used, expired, not valid, or the question's answer."""
    if minted.state == "used" or minted.consumed:
        return _bad_request("This code has been used already!")
    if minted.state == "expired" or now >= minted.expires_at:
        data = {"now": iso(now), "expirationDate": iso(minted.expires_at)}
        return _bad_request("Code has been expired!", data=data)
    if minted.state == "not_valid":
        return Reply(200, {"success": False})
    if min_age is not None:
        return Reply(200, {"success": minted.age >= min_age})
    if asked_name is not None:
        holder = (minted.name.last_name, minted.name.first_name, minted.name.middle_name)
        return Reply(200, {"success": all(map(same_name, asked_name, holder))})
    return Reply(200, {"success": True})


def asked_name(
    body: dict[str, Any], fields: tuple[str, str, str], errors: list[tuple[str, str, str]]
) -> tuple[str, str, str] | None:
    """The name fields of a name check, or None when the body carries none; a bad field is
    added to `errors` as Diia's validation would name it."""
    last, first, middle = fields
    if not any(f in body for f in fields):
        return None
    values = []
    for key, required in ((last, True), (first, True), (middle, False)):
        value = body.get(key, None if required else "")
        if not isinstance(value, str) or (required and not value.strip()):
            errors.append(("string", f"The '{key}' field must be a non-empty string.", key))
            value = ""
        values.append(value)
    return values[0], values[1], values[2]


def new_code(kind: str) -> str:
    """A random code of `kind`: 13 digits with an EAN-13 check digit, or a verify URL."""
    if kind == "qr":
        url = f"https://diia.app/documents/internal-passport/{secrets.token_hex(10)}/verify/"
        url += str(uuid.uuid4())
        assert is_diia_qr(url)
        return url
    first12 = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(11))
    return first12 + str(ean13_check_digit(first12))
