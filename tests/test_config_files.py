"""Config files that used to end in a traceback: each is exit 2 naming the file or the key,
from `kiosk run` and from `kiosk config validate` alike."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from kiosk.cli import main
from kiosk.config import ConfigError
from kiosk.config_files import MAX_CONFIG_BYTES, check_paths, load_config, read_toml

GOOD = '[kiosk]\nmode = "validate"\n[signals]\ngpio = "off"\nscreen = "off"\n'


def exit_and_message(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


def both_commands(capsys, path: Path) -> list[tuple[int, str]]:
    """`kiosk run` stops before anything opens; `validate` must find the same."""
    return [exit_and_message(capsys, "run", "--config", str(path)),
            exit_and_message(capsys, "config", "validate", str(path))]


BAD_FILES = {
    "utf-16": codecs.BOM_UTF16_LE + GOOD.encode("utf-16-le"),
    "utf-16-no-bom": GOOD.encode("utf-16-le"),
    "invalid byte": GOOD.encode().replace(b"validate", b"valid\xe9te"),
    "nested 2000 deep": b"x = " + b"[" * 2000 + b"]" * 2000 + b"\n",
    "inline tables 2000 deep": b"x = " + b"{a = " * 2000 + b"1" + b"}" * 2000 + b"\n",
    "too large": b"# " + b"x" * MAX_CONFIG_BYTES + b"\n",
    "not toml": b"[kiosk\n",
}


@pytest.mark.parametrize("content", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_file_that_cannot_be_a_config_is_named(tmp_path: Path, capsys, content: bytes) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(content)
    for code, err in both_commands(capsys, path):
        assert code == 2, err
        assert str(path) in err and "Traceback" not in err
        assert "Error:" not in err  # no raw exception class


def test_a_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(codecs.BOM_UTF8 + GOOD.encode())
    assert load_config(path).kiosk.mode == "validate"


def test_the_error_says_where_the_bad_byte_is(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(BAD_FILES["invalid byte"])
    with pytest.raises(ConfigError, match=r"0xe9 on line 2"):
        read_toml(path)


def paths_config(tmp_path: Path, **keys: str) -> Path:
    sections: dict[str, list[str]] = {"kiosk": ['mode = "validate"'],
                                      "signals": ['gpio = "off"', 'screen = "off"']}
    for dotted, value in keys.items():
        section, key = dotted.split("__")
        sections.setdefault(section, []).append(f'{key} = "{value}"')
    path = tmp_path / "kiosk.toml"
    path.write_text("".join(f"[{name}]\n" + "\n".join(lines) + "\n"
                            for name, lines in sections.items()))
    return path


def test_paths_that_cannot_work_here_name_their_key(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
    cases = {
        "signals.events": {"signals__events": str(tmp_path / "no-such-folder" / "ev.jsonl")},
        "kiosk.state_dir": {"kiosk__state_dir": str(a_file)},
        "diia.ca_file": {"diia__ca_file": str(not_pem)},
    }
    for key, settings in cases.items():
        path = paths_config(tmp_path, **settings)
        for code, err in both_commands(capsys, path):
            assert code == 2, err
            assert key in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("key", "setting"),
    [("signals.events", "folder"), ("kiosk.state_dir", "under a file"),
     ("diia.ca_file", "a folder"), ("diia.ca_file", "missing"),
     ("audit.path", "under a file"), ("audit.path", "folder"), ("source.path", "missing")],
)
def test_more_paths_that_cannot_work(tmp_path: Path, key: str, setting: str) -> None:
    a_file = tmp_path / "plain-file"
    a_file.write_text("x")
    value = {"folder": str(tmp_path), "under a file": str(a_file / "state"),
             "a folder": str(tmp_path), "missing": str(tmp_path / "nope.pem")}[setting]
    section, name = key.split(".")
    settings = {f"{section}__{name}": value}
    if section == "source":
        settings["source__kind"] = "images"
    path = paths_config(tmp_path, **settings)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key


def test_usable_paths_pass(tmp_path: Path) -> None:
    import certifi

    path = paths_config(tmp_path, signals__events=str(tmp_path / "ev.jsonl"),
                        kiosk__state_dir=str(tmp_path / "state" / "deeper"),
                        diia__ca_file=certifi.where())
    check_paths(load_config(path))


@pytest.mark.parametrize(
    ("size", "key"),
    [("１２８０x720", "camera.size"), ("٨٠٠x480", "signals.screen_size"),
     ("99999x480", "signals.screen_size"), ("0x0", "camera.size"),
     ("9" * 5000 + "x1", "camera.size")],
)
def test_sizes_are_ascii_and_bounded(tmp_path: Path, size: str, key: str) -> None:
    section, name = key.split(".")
    path = paths_config(tmp_path, **{f"{section}__{name}": size})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key


def test_a_huge_wrong_value_is_not_echoed_whole(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[kiosk]\nmode = "{"x" * 100_000}"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "kiosk.mode" and len(str(caught.value)) < 300


def test_a_secret_file_that_is_not_utf8_is_named_without_its_bytes(tmp_path: Path) -> None:
    from kiosk.config import DiiaSection, load_credentials

    secret = tmp_path / "acquirer.token"
    secret.write_bytes(b"abc\xffdef")
    secret.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        load_credentials(DiiaSection(acquirer_token_file=str(secret)), {})
    assert caught.value.key == "diia.acquirer_token_file"
    assert str(secret) in str(caught.value) and "0xff" not in str(caught.value)
