"""Inputs a scanner, a keypad or a pipe could deliver: Diia codes, near misses made to fool
a careless parser (digits of other scripts with a valid check digit, invisible characters,
look-alike URLs), and plain noise."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from kiosk.diia.codes import ean13_check_digit

# The zero of each decimal script `\d` and `int()` accept besides 0-9.
FOREIGN_ZEROS = ("\u0660", "\u06f0", "\u0966", "\u09e6", "\u0e50", "\uff10", "\U0001d7ce")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\ufeff", "\u00a0", "\u2060", "\u202e", "\x00")
DIIA_URL_PREFIX = "https://diia.app/documents/"

ASCII_BARCODE = re.compile(r"[1-9][0-9]{12}", re.ASCII)
ASCII_VERIFY_URL = re.compile(
    r"https://diia\.app/documents/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,128}/verify/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.ASCII)


def is_sendable(text: str, kind: str) -> bool:
    """What may reach Diia, written out independently of kiosk.decoding.codes."""
    if kind == "barcode":
        return bool(ASCII_BARCODE.fullmatch(text)) and ean13_check_digit(text[:12]) == int(
            text[12])
    return bool(ASCII_VERIFY_URL.fullmatch(text))


@st.composite
def barcodes(draw: st.DrawFn) -> str:
    first12 = str(draw(st.integers(10**11, 10**12 - 1)))
    return first12 + str(ean13_check_digit(first12))


@st.composite
def foreign_barcodes(draw: st.DrawFn) -> str:
    """A valid code with some or all digits in another script: int() still reads it."""
    code = draw(barcodes())
    where = draw(st.lists(st.integers(0, 12), min_size=1, max_size=13, unique=True))
    zero = draw(st.sampled_from(FOREIGN_ZEROS))
    return "".join(chr(ord(zero) + int(d)) if i in where else d for i, d in enumerate(code))


@st.composite
def diia_urls(draw: st.DrawFn) -> str:
    segment = st.text("abcdefghijklmnopqrstuvwxyzABC0123456789_-", min_size=1, max_size=20)
    return (f"{DIIA_URL_PREFIX}{draw(segment)}/{draw(segment)}/verify/"
            f"{draw(st.uuids(version=4))}")


@st.composite
def spoiled(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    """A good code with an invisible or foreign character slipped in, or a piece cut off."""
    text = draw(inner)
    at = draw(st.integers(0, len(text)))
    how = draw(st.sampled_from(["insert", "cut", "replace"]))
    if how == "cut":
        return text[:at] + text[at + 1:]
    extra = draw(st.sampled_from((*INVISIBLE, "١", "０", "O", "l", "I", "\u0430")))
    return text[:at] + extra + text[at + (how == "replace"):]


def pieces() -> st.SearchStrategy[str]:
    """One line's worth of what a person or a device could type."""
    return st.one_of(
        barcodes(),
        barcodes().map(lambda c: f" {c[:4]} {c[4:8]} {c[8:]} "),  # typed in groups
        diia_urls(),
        foreign_barcodes(),
        spoiled(barcodes()),
        spoiled(diia_urls()),
        diia_urls().map(lambda u: u.replace("https://diia.app", "https://diia.app.evil")),
        diia_urls().map(str.upper),
        st.text(max_size=40),
        st.text(alphabet=st.characters(categories=["Nd"]), min_size=12, max_size=14),
    )
