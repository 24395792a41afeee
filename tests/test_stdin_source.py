"""Codes typed or piped in: whatever bytes arrive, only Diia codes come out, and no line
spoils another."""

from __future__ import annotations

import io

from kiosk.sources.stdin import MAX_LINE, StdinCodes

CODE = "3559217693026"
OTHER = "4006381333931"


def texts(raw: bytes) -> list[str]:
    return [code.text for code in StdinCodes(io.BytesIO(raw)).codes()]


def test_an_invalid_utf8_byte_spoils_only_its_own_line(caplog) -> None:
    raw = f"{CODE}\n\xff\xfe garbage \x80\n{OTHER}\n".encode("latin-1")
    assert texts(raw) == [CODE, OTHER]
    assert "not a Diia code" in caplog.text


def test_a_bad_byte_inside_a_code_line_makes_it_no_code() -> None:
    assert texts(CODE[:6].encode() + b"\xff" + CODE[6:].encode() + b"\n" + OTHER.encode()) == [
        OTHER]


def test_the_last_line_needs_no_newline_and_crlf_is_fine() -> None:
    assert texts(f"{CODE}\r\n{OTHER}".encode()) == [CODE, OTHER]


def test_a_line_without_end_is_dropped_whole_and_the_next_one_read(caplog) -> None:
    raw = b"7" * (MAX_LINE * 50) + CODE.encode() + b"\n" + OTHER.encode() + b"\n"
    assert texts(raw) == [OTHER]
    assert caplog.text.count("longer than") == 1


def test_a_line_of_exactly_the_limit_is_read() -> None:
    padded = CODE.center(MAX_LINE).encode() + b"\n"
    assert len(padded) == MAX_LINE + 1
    assert texts(padded) == [CODE]


def test_non_ascii_digits_typed_are_refused() -> None:
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in CODE)
    arabic = "".join(chr(0x0660 + int(d)) for d in CODE)
    assert texts(f"{fullwidth}\n{arabic}\n{CODE}\n".encode()) == [CODE]


def test_lines_read_straight_from_a_descriptor_match_the_buffered_reading() -> None:
    import os

    from kiosk.sources.stdin import DescriptorLines

    data = (b"4006381333931\r\n" + b"9" * (MAX_LINE + 40) + b"\n5901234123457\n\xff\n"
            + b"3559217693026")
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    try:
        from_fd = [c.text for c in StdinCodes(DescriptorLines(read_fd)).codes()]
    finally:
        os.close(read_fd)
    assert from_fd == [c.text for c in StdinCodes(io.BytesIO(data)).codes()]
    assert from_fd == ["4006381333931", "5901234123457", "3559217693026"]
