"""What counts as a Diia code: kiosk.decoding.codes."""

from __future__ import annotations

import pytest

from kiosk.decoding.codes import code_id, to_code
from kiosk.diia.codes import ean13_check_digit, is_diia_barcode, is_diia_qr
from kiosk.model import Code, CodeKind

DIIA_DIGITS = "3559217693026"  # the real 2022 screenshot's code
VERIFY_URL = (
    "https://diia.app/documents/internal-passport/1234567890/verify/"
    "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
)


@pytest.mark.parametrize(
    ("first12", "check"),
    [("355921769302", 6), ("400638133393", 1), ("012345678905", 0), ("000000000000", 0)],
)
def test_check_digit_matches_known_codes(first12: str, check: int) -> None:
    assert ean13_check_digit(first12) == check


def test_thirteen_digits_with_valid_check_digit_is_a_diia_barcode() -> None:
    code = to_code(DIIA_DIGITS, "EAN-13", 4.5)
    assert code == Code(DIIA_DIGITS, CodeKind.BARCODE, "EAN-13", 4.5)


def test_wrong_check_digit_is_rejected() -> None:
    assert to_code("3559217693027", "EAN-13") is None
    assert not is_diia_barcode("3559217693027")


def test_first_digit_zero_is_rejected_even_with_valid_check_digit() -> None:
    # 0123456789050 is a valid EAN-13 (a UPC-A product), never a Diia code.
    assert ean13_check_digit("012345678905") == 0
    assert to_code("0123456789050", "EAN-13") is None


@pytest.mark.parametrize("text", ["355921769302", "35592176930260", "", "355921769302a"])
def test_other_lengths_and_non_digits_are_rejected(text: str) -> None:
    assert to_code(text, "EAN-13") is None
    assert to_code(text, "Code128") is None


def test_code128_with_the_same_digits_is_accepted() -> None:
    code = to_code(DIIA_DIGITS, "Code128")
    assert code is not None
    assert (code.text, code.kind, code.symbology) == (DIIA_DIGITS, CodeKind.BARCODE, "Code128")


def test_typed_digits_with_spaces_and_newline_are_normalised() -> None:
    code = to_code(" 3559 2176 93026\n", "typed")
    assert code is not None and code.text == DIIA_DIGITS


def test_verify_url_in_a_qr_is_accepted() -> None:
    code = to_code(VERIFY_URL, "QRCode", 2.0)
    assert code == Code(VERIFY_URL, CodeKind.QR, "QRCode", 2.0)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/documents/a/b/verify/3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "http://diia.app/documents/a/b/verify/3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "https://diia.app/documents/a/b/share/3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        # version 1 UUID, not uuid4
        "https://diia.app/documents/a/b/verify/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        VERIFY_URL + "?next=https://evil.example",
        "https://diia.app.evil.example/documents/a/b/verify/3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "https://diia.app/",
    ],
)
def test_other_urls_are_rejected(url: str) -> None:
    assert not is_diia_qr(url)
    assert to_code(url, "QRCode") is None


def test_kind_follows_symbology_not_text() -> None:
    # Digits in a QR and a URL in a barcode are not Diia codes.
    assert to_code(DIIA_DIGITS, "QRCode") is None
    assert to_code(VERIFY_URL, "EAN-13") is None
    assert to_code(DIIA_DIGITS, "DataMatrix") is None


def test_code_id_is_stable_for_one_key_and_differs_between_keys() -> None:
    first = code_id(DIIA_DIGITS, b"key-one")
    assert first == code_id(DIIA_DIGITS, b"key-one")
    assert first != code_id(DIIA_DIGITS, b"key-two")
    assert first != code_id("4006381333931", b"key-one")
    assert len(first) == 8 and int(first, 16) >= 0
    assert DIIA_DIGITS not in first


def test_code_repr_hides_the_text() -> None:
    code = Code(DIIA_DIGITS, CodeKind.BARCODE, "EAN-13")
    assert DIIA_DIGITS not in repr(code)
    assert DIIA_DIGITS not in str(code)
    assert "EAN-13" in repr(code)


def _in_digits(ascii_digits: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in ascii_digits)


@pytest.mark.parametrize(
    "zero", ["\u0966", "\u0660", "\u06f0", "\uff10", "\U0001d7ce"],
    ids=["devanagari", "arabic-indic", "extended-arabic-indic", "fullwidth", "math-bold"],
)
def test_digits_of_other_scripts_are_never_a_code_even_with_a_valid_check_digit(
    zero: str,
) -> None:
    foreign = _in_digits(DIIA_DIGITS, zero)
    assert foreign.isdigit() and int(foreign) == int(DIIA_DIGITS)  # what fooled `\d`
    for symbology in ("EAN-13", "Code128", "typed"):
        assert to_code(foreign, symbology) is None
    mixed = DIIA_DIGITS[:12] + _in_digits(DIIA_DIGITS[12], zero)
    assert to_code(mixed, "typed") is None
    assert not is_diia_barcode(foreign)


def test_the_check_digit_is_computed_over_ascii_digits_only() -> None:
    with pytest.raises(ValueError):
        ean13_check_digit(_in_digits("355921769302", "\u0660"))


def test_no_pattern_or_digit_test_in_the_kiosk_takes_digits_of_other_scripts() -> None:
    """`\\d` in a regex and a bare `isdigit()` accept "١٢٣"; `int()` then reads them."""
    import io
    import tokenize
    from pathlib import Path

    import kiosk

    offenders = []
    for path in Path(kiosk.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.STRING and "\\d" in token.string:
                offenders.append(f"{path.name}:{token.start[0]} \\d")
        for number, line in enumerate(source.splitlines(), 1):
            code = line.split("#", 1)[0]
            if ".isdigit()" in code and ".isascii()" not in code:
                offenders.append(f"{path.name}:{number} isdigit")
    assert offenders == []
