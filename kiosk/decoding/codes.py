"""What a Diia code is, and nothing else gets through.

A Diia barcode is 13 digits, the first never 0, the last an EAN-13 check digit; it is drawn
as EAN-13 on Android and as Code 128 on iOS. A Diia QR holds the verify URL
`https://diia.app/documents/{type}/{id}/verify/{uuid4}` (the format rules themselves are
Diia's: `kiosk.diia.codes`). Anything else (a product barcode, a web link, noise) is not a
Diia code and is never sent to Diia.
"""

from __future__ import annotations

import hashlib
import hmac

from kiosk.diia.codes import is_diia_barcode, is_diia_qr
from kiosk.model import Code, CodeKind

BARCODE_SYMBOLOGIES = {"EAN-13", "Code128", "typed"}
QR_SYMBOLOGIES = {"QRCode"}


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
