"""The till's request bodies, read strictly: every problem names its field.

Pure functions from parsed JSON to plain values; the HTTP layer turns `BadField` into a 400
(422 for a well-formed body with a wrong value would be finer, but one status is simpler for
a till to handle). Unknown fields are refused: a typo in `min_age` must not silently check
with the default. A name's value never appears in an error, only its field.
"""

from __future__ import annotations

import difflib
import json
import math
from typing import Any

from kiosk.model import MAX_AGE, MIN_AGE, TILL_MODES, CheckTerms, HolderName, InvalidName

CHECK_FIELDS = ("mode", "min_age", "last_name", "first_name", "middle_name", "reference",
                "expires_s")
NAME_FIELDS = ("last_name", "first_name", "middle_name")
MAX_REFERENCE_CHARS = 64
MAX_EXPIRES_S = 3600.0
MAX_BODY_BYTES = 16 * 1024


class BadField(ValueError):
    """A request field is wrong; `field` names it ("body" for the body as a whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object."""
    if len(raw) > MAX_BODY_BYTES:
        raise BadField("body", f"larger than {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadField("body", "not JSON in UTF-8, or nested too deep") from None
    if not isinstance(body, dict):
        raise BadField("body", "must be a JSON object")
    return body


def refuse_unknown(body: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in body:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            listed = f"; known: {', '.join(known)}" if known else "; this call takes none"
            raise BadField(str(key)[:40], f"unknown field{hint}{listed}")


def parse_check(
    body: dict[str, Any], *, default_min_age: int, default_expires_s: float
) -> CheckTerms:
    """`POST /v1/checks` body → `CheckTerms`; raises `BadField`."""
    refuse_unknown(body, CHECK_FIELDS)
    mode = body.get("mode")
    if mode is None:
        raise BadField("mode", f"required: one of {', '.join(TILL_MODES)}")
    if mode not in TILL_MODES:
        raise BadField("mode", f"must be one of {', '.join(TILL_MODES)}")
    if "min_age" in body and mode != "age":
        raise BadField("min_age", 'only for mode "age"')
    min_age = body.get("min_age", default_min_age) if mode == "age" else None
    if min_age is not None and (not _whole(min_age) or not MIN_AGE <= min_age <= MAX_AGE):
        raise BadField("min_age", f"must be a whole number {MIN_AGE}..{MAX_AGE}")
    given_names = [key for key in NAME_FIELDS if key in body]
    name = None
    if mode == "name":
        try:
            name = HolderName.parse({key: body[key] for key in given_names})
        except InvalidName as exc:  # says which field, never the value
            raise BadField(_name_field(str(exc)), str(exc).split(" ", 1)[-1]) from None
    elif given_names:
        raise BadField(given_names[0], 'only for mode "name"')
    reference = body.get("reference")
    if reference is not None and (
        not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE_CHARS
        or not reference.isprintable()
    ):
        raise BadField("reference", f"must be printable text of 1..{MAX_REFERENCE_CHARS} "
                       "characters")
    expires_s = body.get("expires_s", default_expires_s)
    if (isinstance(expires_s, bool) or not isinstance(expires_s, int | float)
            or not math.isfinite(expires_s) or not 1 <= expires_s <= MAX_EXPIRES_S):
        raise BadField("expires_s", f"must be a number of seconds 1..{MAX_EXPIRES_S:g}")
    return CheckTerms("", mode=mode, min_age=min_age, names=name, reference=reference or "",
                      expires_in_s=float(expires_s))


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name_field(message: str) -> str:
    field = message.split(" ", 1)[0]
    return field if field in NAME_FIELDS else "last_name"
