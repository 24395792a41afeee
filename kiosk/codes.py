"""What a Diia code is, and nothing else gets through.

A Diia barcode is 13 digits, the first never 0, the last an EAN-13 check digit; it is drawn
as EAN-13 on Android and as Code 128 on iOS. A Diia QR holds the verify URL
`https://diia.app/documents/{type}/{id}/verify/{uuid4}`. Anything else (a product barcode,
a web link, noise) is not a Diia code and is never sent to Diia.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from kiosk.model import Code, CodeKind

BARCODE_SYMBOLOGIES = {"EAN-13", "Code128", "typed"}
QR_SYMBOLOGIES = {"QRCode"}

_DIGITS_13 = re.compile(r"[1-9]\d{12}")
_VERIFY_URL = re.compile(
    r"https://diia\.app/documents/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,128}/verify/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def ean13_check_digit(first12: str) -> int:
    """The EAN-13 check digit for twelve digits (weights 1,3 from the left)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def is_diia_barcode(text: str) -> bool:
    return bool(_DIGITS_13.fullmatch(text)) and ean13_check_digit(text[:12]) == int(text[12])


def is_diia_qr(text: str) -> bool:
    return bool(_VERIFY_URL.fullmatch(text))


def to_code(text: str, symbology: str, decode_ms: float = 0.0) -> Code | None:
    """A `Code` for a Diia code read as `symbology`, else None (not a Diia code)."""
    text = text.strip()
    if symbology in BARCODE_SYMBOLOGIES:
        digits = text.replace(" ", "")
        if is_diia_barcode(digits):
            return Code(digits, CodeKind.BARCODE, symbology, decode_ms)
    elif symbology in QR_SYMBOLOGIES and is_diia_qr(text):
        return Code(text, CodeKind.QR, symbology, decode_ms)
    return None


def keyed_digest(text: str, key: bytes) -> str:
    """HMAC-SHA256 of `text` in hex: stands for a code without revealing it."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def code_id(code_text: str, key: bytes) -> str:
    """A short keyed hash that lets events be correlated without revealing the code."""
    return keyed_digest(code_text, key)[:8]
