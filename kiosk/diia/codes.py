"""What a Diia code looks like: Diia's own format rules, pure, with nothing of the kiosk.

A Diia barcode is 13 ASCII digits, the first never 0, the last an EAN-13 check digit. A Diia
QR holds the verify URL `https://diia.app/documents/{type}/{id}/verify/{uuid4}`.
"""

from __future__ import annotations

import re

# ASCII classes spelled out, and re.ASCII besides: `\d` would also take other scripts' digits.
_DIGITS_13 = re.compile(r"[1-9][0-9]{12}", re.ASCII)
_VERIFY_URL = re.compile(
    r"https://diia\.app/documents/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,128}/verify/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    re.ASCII,
)


def ean13_check_digit(first12: str) -> int:
    """The EAN-13 check digit for twelve ASCII digits (weights 1,3 from the left)."""
    if not (first12.isascii() and first12.isdigit()):
        raise ValueError("expected ASCII digits")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def is_diia_barcode(text: str) -> bool:
    return bool(_DIGITS_13.fullmatch(text)) and ean13_check_digit(text[:12]) == int(text[12])


def is_diia_qr(text: str) -> bool:
    return bool(_VERIFY_URL.fullmatch(text))
