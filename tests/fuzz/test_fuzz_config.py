"""Config documents, fuzzed: every one is either a config or exit 2 naming the file or a key
of the document, from `load_config` and from `kiosk config validate`; never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kiosk.cli import main
from kiosk.config import Config, ConfigError
from kiosk.config_files import load_config
from tests.fuzz.budget import fuzz_settings, ran

SECTIONS = {f.name: [k.name for k in fields(f.default_factory())]  # type: ignore[misc]
            for f in fields(Config)}
WORK = Path(tempfile.mkdtemp(prefix="kiosk-fuzz-config-"))
(WORK / "a-file").write_text("x")
(WORK / "not-pem.crt").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
(WORK / "a-folder").mkdir()
PATHS = [str(WORK / name) for name in ("a-file", "not-pem.crt", "a-folder", "missing/x.jsonl",
                                       "a-file/under", "a-folder/events.jsonl")]
CHOICES = ["validate", "age", "name", "camera", "images", "stdin", "serial", "keyboard",
           "zxing", "pyzbar", "mock", "off", "stdout", "rgb", "tonal", "uk", "en",
           "1280x720", "800x480", "0x0", "https://fleet.example/k.toml", "http://10.0.0.1/",
           "http://127.0.0.1:1/k.toml"]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    return key if _BARE.fullmatch(key) else json.dumps(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(
            value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string, \\uXXXX escapes and all
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def render(doc: dict[str, Any]) -> str:
    lines = []
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_key(name)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.insert(0, f"{toml_key(name)} = {toml_value(table)}")
    return "\n".join(lines) + "\n"


scalars = st.one_of(
    st.integers(), st.integers(-2, 70000), st.floats(), st.booleans(),
    st.text(max_size=30), st.sampled_from(CHOICES), st.sampled_from(PATHS),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.one_of(st.sampled_from(sorted(SECTIONS)), st.text(max_size=10)))
        if draw(st.integers(0, 9)) == 0:
            doc[name] = draw(values)  # `kiosk = 5`
            continue
        known = SECTIONS.get(name, [])
        keys = st.one_of(st.sampled_from(known), st.text(max_size=10)) if known else st.text(
            max_size=10)
        doc[name] = draw(st.dictionaries(keys, values, max_size=5))
    return doc


@st.composite
def files(draw: st.DrawFn) -> tuple[bytes, dict[str, Any]]:
    """A document as bytes; sometimes damaged (cut, bytes slipped in, re-encoded)."""
    doc = draw(documents())
    raw = render(doc).encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["as is", "as is", "cut", "insert", "utf-16", "deep"]))
    if how == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == "insert":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif how == "utf-16":
        raw = raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    elif how == "deep":
        depth = draw(st.integers(100, 5000))
        raw = b"deep = " + b"[" * depth + b"]" * depth + b"\n" + raw
        doc = {"deep": [], **doc}
    return raw, doc


def named_key_is_in(key: str, path: Path, doc: dict[str, Any], raw: bytes) -> bool:
    """The error names the file, or a key whose section the document has (as drawn, or as
    the damaged bytes now spell it)."""
    section = key.split(".")[0]
    return key == str(path) or section in doc or section in raw.decode("utf-8", "replace")


@fuzz_settings(150)
@given(files())
def test_any_config_file_is_a_config_or_exit_2_naming_the_key(file) -> None:
    ran("config document → load_config + validate")
    raw, doc = file
    with tempfile.TemporaryDirectory(dir=WORK) as folder:
        path = Path(folder) / "kiosk.toml"
        path.write_bytes(raw)
        try:
            load_config(path)
            loaded = True
        except ConfigError as exc:
            loaded = False
            assert named_key_is_in(exc.key, path, doc, raw), (exc.key, str(exc))
            assert len(str(exc)) < 1000
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["config", "validate", str(path)])
    text = err.getvalue()
    assert "Traceback" not in text
    if loaded:
        # validate also refuses what run would refuse (an empty branch id, a LAN listen with
        # no token): a loadable file is then exit 2 with a named key, never a traceback.
        assert code == 0 or (code == 2 and text.startswith("kiosk: config error: ")), text
    else:
        assert code == 2, text
        key = text.removeprefix("kiosk: config error: ").split(": ", 1)[0]
        assert named_key_is_in(key, path, doc, raw), text
