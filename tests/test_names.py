"""The expected name for mode "name": its shape, and the POS's name file."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import pytest

from kiosk.checking.names import FixedName, NameFile, NoName
from kiosk.model import HolderName, InvalidName

ORDER = {"last_name": "Шевченко", "first_name": "Тарас", "middle_name": "Григорович"}


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_names_are_tidied_but_kept_as_written():
    name = HolderName.parse({"last_name": "  Дем’яненко ", "first_name": "Марія  Анна"})
    assert name == HolderName("Дем’яненко", "Марія Анна", "")


@pytest.mark.parametrize(
    "fields",
    [
        {"first_name": "Тарас"},
        {"last_name": " ", "first_name": "Тарас"},
        {"last_name": "Шевченко", "first_name": 7},
        {"last_name": "Ш" * 101, "first_name": "Тарас"},
        {"last_name": "Шевченко\n", "first_name": "Та\x00рас"},
        {"last_name": "Шевченко", "first_name": "Тарас", "patronymic": "Г"},
    ],
)
def test_bad_names_are_refused(fields):
    with pytest.raises(InvalidName):
        HolderName.parse(fields)


def test_a_name_stays_out_of_repr():
    assert "Шевченко" not in repr(HolderName("Шевченко", "Тарас"))


def test_no_source_and_fixed_source():
    assert NoName().expected_name() is None
    name = HolderName("Шевченко", "Тарас")
    fixed = FixedName(name)
    fixed.used(name)
    assert fixed.expected_name() is name  # the command line's names serve every check


def test_name_file_is_read_and_deleted_after_use(tmp_path: Path):
    source = NameFile(write(tmp_path / "order.json", ORDER))
    name = source.expected_name()
    assert name == HolderName.parse(ORDER)
    assert source.expected_name() == name  # read again until it is used
    source.used(name)
    assert not (tmp_path / "order.json").exists()
    assert source.expected_name() is None


def test_a_name_file_written_anew_meanwhile_is_not_deleted(tmp_path: Path):
    path = write(tmp_path / "order.json", ORDER)
    source = NameFile(path)
    name = source.expected_name()
    assert name is not None
    replacement = write(tmp_path / "next.json", {**ORDER, "first_name": "Ганна"})
    os.replace(replacement, path)  # the POS's atomic write of the next order
    source.used(name)
    assert path.exists()
    assert source.expected_name() == HolderName("Шевченко", "Ганна", "Григорович")


def test_a_stale_name_file_is_ignored(tmp_path: Path):
    path = write(tmp_path / "order.json", ORDER)
    old = time.time() - 301
    os.utime(path, (old, old))
    assert NameFile(path, max_age_s=300).expected_name() is None
    assert NameFile(path, max_age_s=600).expected_name() is not None


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[1, 2]", b'{"last_name": "X"}', b"{}" + b" " * 5000, b"\xff\xfe"],
)
def test_a_bad_name_file_is_refused_without_logging_the_names(tmp_path, caplog, content):
    caplog.set_level(logging.INFO, logger="kiosk.checking.names")
    path = tmp_path / "order.json"
    path.write_bytes(content)
    assert NameFile(path).expected_name() is None
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert path.exists()  # never deleted: the POS may want to see what it wrote


def test_a_name_is_never_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    source = NameFile(write(tmp_path / "order.json", ORDER))
    name = source.expected_name()
    assert name is not None
    source.used(name)
    source.expected_name()
    text = " ".join(r.getMessage() for r in caplog.records)
    assert not any(part in text for part in ORDER.values())


def test_missing_name_file_is_no_name(tmp_path):
    assert NameFile(tmp_path / "absent.json").expected_name() is None
