"""The files around a config: the TOML document itself, and the paths it names.

Whatever is wrong with either is a `ConfigError` naming the file or the key, never a raw
exception: a file in UTF-16 or with a stray byte, one nested thousands deep (tomllib
recurses), one absurdly large; an events file in a folder that is not there, a state
directory that is a file, a CA file that is not PEM. `kiosk run` and `kiosk config
validate` both go through here, so validate finds what would stop the start.
"""

from __future__ import annotations

import codecs
import os
import ssl
import tomllib
from pathlib import Path
from typing import Any

from kiosk.config import Config, ConfigError, config_path, parse_config

MAX_CONFIG_BYTES = 1_000_000  # a real kiosk.toml is a few KiB
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def read_config_text(path: str | Path) -> str:
    """The file's text, checked to be UTF-8 of a sane size; raises `ConfigError(path)`."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(str(path), f"larger than {MAX_CONFIG_BYTES} bytes: not a config")
    return decode_config_bytes(raw, str(path))


def decode_config_bytes(raw: bytes, where: str) -> str:
    """UTF-8 (a BOM is tolerated, as editors on Windows write one); else a clear error."""
    if raw.startswith(_UTF32_BOMS) or raw.startswith(_UTF16_BOMS):
        raise ConfigError(where, "is UTF-16/UTF-32 text: save it as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            where, f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}): "
            "save it as UTF-8"
        ) from None


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """`tomllib.loads`, with every way it can fail as `ConfigError(where)`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ConfigError(where, "nested too deeply to be a config") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The TOML document in the file at `path`; raises `ConfigError(path)`."""
    return parse_toml(read_config_text(path), str(path))


# --- the paths a config names, as this machine has them ---------------------------------


def check_paths(config: Config) -> None:
    """Every file or folder the config names can be used here; raises `ConfigError(key)`."""
    events = config.signals.events
    if events not in ("stdout", "off"):
        _check_file_to_write("signals.events", Path(events))
    state_dir = config.kiosk.state_dir
    if state_dir:
        _check_folder_to_make("kiosk.state_dir", Path(state_dir))
    audit = Path(config.audit.path)
    if config.audit.path != "off" and (audit.is_absolute() or state_dir):
        audit = audit if audit.is_absolute() else Path(state_dir) / audit
        _check_folder_to_make("audit.path", audit.parent)
        if audit.is_dir():
            raise ConfigError("audit.path", f"{audit} is a folder, not a file")
    if config.diia.ca_file:
        check_ca_file("diia.ca_file", config.diia.ca_file)
    if config.source.kind == "images" and not Path(config.source.path).exists():
        raise ConfigError("source.path", f"{config.source.path} does not exist")
    if config.remote.url:
        from kiosk.ops.tuf_client import load_root  # python-tuf: only for a fleet's kiosk

        load_root(config.remote.root_file)


def _check_file_to_write(key: str, path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(key, f"the folder {folder} {what}")
    if path.is_dir():
        raise ConfigError(key, f"{path} is a folder, not a file")
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        raise ConfigError(key, f"{target} is not writable")


def _check_folder_to_make(key: str, path: Path) -> None:
    """A folder that exists, or can be made: its nearest existing ancestor is a folder."""
    if path.exists():
        if not path.is_dir():
            raise ConfigError(key, f"{path} is not a folder")
        return
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ConfigError(key, f"{path} cannot be made: {ancestor} is not a folder")
            return


def check_ca_file(key: str, ca_file: str) -> None:
    """A readable file holding at least one PEM certificate that OpenSSL accepts."""
    path = Path(ca_file)
    if not path.is_file():
        raise ConfigError(key, f"{path} is not a readable file")
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except OSError as exc:  # ssl.SSLError is an OSError too
        detail = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
        raise ConfigError(key, f"{path} is not a PEM certificate bundle ({detail})") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML file, and the paths it names on this machine; a bad file
    (not UTF-8, not TOML, nested absurdly) names the file, a bad value its key."""
    config = parse_config(read_toml(path))
    check_paths(config)
    return config


NO_CONFIG_ADVICE = (
    "no config file here: name one with --config PATH or $KIOSK_CONFIG "
    "(config/kiosk.example.toml in the source lists every key; config/demo.toml talks to "
    "`kiosk sandbox`)"
)


def require_config_file(path: Path) -> None:
    """A missing config says where a config comes from, not only that a read failed."""
    if not path.exists():
        raise ConfigError(str(path), NO_CONFIG_ADVICE)


def read_config(cli_path: str | None, environ: dict[str, str] | os._Environ[str]) -> Config:
    """The config a command runs with (`config_path`), checked whole."""
    path = config_path(cli_path, environ)
    require_config_file(path)
    return load_config(path)
