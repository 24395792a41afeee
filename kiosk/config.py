"""Settings: TOML into frozen dataclasses, validated whole before any device opens.

Every error names the dotted key path and, for an unknown key, suggests the closest valid
one. Secrets are never in the file: they come from the environment or from files the file
names, and their values never appear in an error.
"""

from __future__ import annotations

import difflib
import os
import stat
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
ACQUIRER_TOKEN_ENV = "KIOSK_DIIA_ACQUIRER_TOKEN"
AUTH_TOKEN_ENV = "KIOSK_DIIA_AUTH_TOKEN"


class ConfigError(ValueError):
    """A setting is wrong; `key` is its dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def _choice(*values: str) -> dict[str, Any]:
    return {"choices": values}


@dataclass(frozen=True)
class KioskSection:
    mode: str = field(default="age", metadata=_choice("validate", "age", "name"))
    """What Diia is asked: the document is valid, its holder is old enough, or the name matches."""
    min_age: int = field(default=18, metadata={"min": 0, "max": 150})
    """Minimum age in years for mode "age"."""
    attended: bool = True
    """Age checks need staff to arm and acknowledge them; false = unattended."""
    language: str = field(default="uk", metadata=_choice("uk", "en"))
    """Language of the screen."""
    result_seconds: float = field(default=3.0, metadata={"min": 0.0, "max": 600.0})
    """How long a verdict stays shown; 0 = no pause (batch runs over images)."""


@dataclass(frozen=True)
class DiiaSection:
    base_url: str = "https://api2s.diia.gov.ua"
    """Diia partner API host (production: https://api2.diia.gov.ua)."""
    branch_id: str = ""
    """The partner branch whose scopes list the accepted documents."""
    timeout_s: float = field(default=3.0, metadata={"min": 0.1, "max": 60.0})
    """One deadline for a whole verdict: login, retries and the call."""
    acquirer_token_file: str = ""
    """File (mode 0600) holding the acquirer token; else $KIOSK_DIIA_ACQUIRER_TOKEN."""
    auth_token_file: str = ""
    """File (mode 0600) holding the Basic auth credential; else $KIOSK_DIIA_AUTH_TOKEN."""
    send_qr: bool = True
    """Send a scanned QR's text to Diia (assumed field); false = ask for the barcode view."""
    qr_field: str = "qrcode"
    """Body field carrying QR text (assumption to confirm with Diia)."""
    age_field: str = "age"
    """Body field carrying the minimum age (assumption to confirm with Diia)."""
    ca_file: str = ""
    """Extra CA bundle for TLS verification; verification itself is always on."""


@dataclass(frozen=True)
class SourceSection:
    kind: str = field(
        default="camera", metadata=_choice("camera", "images", "keyboard", "serial", "stdin")
    )
    """Where codes come from."""
    path: str = ""
    """Folder for "images", device for "keyboard" and "serial"."""
    hold_frames: int = field(default=3, metadata={"min": 1, "max": 1000})
    """"images": each image is shown as this many frames, like a held code."""
    fps: float = field(default=0.0, metadata={"min": 0.0, "max": 240.0})
    """"images": frames per second; 0 = as fast as the loop goes."""


@dataclass(frozen=True)
class DecodeSection:
    backend: str = field(default="zxing", metadata=_choice("zxing", "pyzbar"))
    """Decoder library."""


@dataclass(frozen=True)
class SignalsSection:
    gpio: str = field(default="auto", metadata=_choice("auto", "mock", "off"))
    """LEDs and buzzer: real pins on a Pi ("auto"), gpiozero's mock pins, or none."""
    screen: str = field(default="pygame", metadata=_choice("pygame", "off"))
    """The screen."""
    events: str = "stdout"
    """Verdict events as JSON lines: "stdout", a file path, or "off"."""
    screen_size: str = "800x480"
    """Window size WIDTHxHEIGHT; the console's own size is used when fullscreen."""
    fullscreen: bool = False
    """Fill the display (the appliance); false = a window."""
    green_pin: int = field(default=17, metadata={"min": 0, "max": 27})
    """BCM pin of the green LED."""
    red_pin: int = field(default=27, metadata={"min": 0, "max": 27})
    """BCM pin of the red LED."""
    amber_pin: int = field(default=22, metadata={"min": 0, "max": 27})
    """BCM pin of the amber LED."""
    buzzer_pin: int = field(default=18, metadata={"min": 0, "max": 27})
    """BCM pin of the buzzer."""


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    diia: DiiaSection = field(default_factory=DiiaSection)
    source: SourceSection = field(default_factory=SourceSection)
    decode: DecodeSection = field(default_factory=DecodeSection)
    signals: SignalsSection = field(default_factory=SignalsSection)


def _unknown_key(path: str, key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else f" (known: {', '.join(known)})"
    return ConfigError(f"{path}{key}", f"unknown key{hint}")


def _coerce(key: str, value: Any, kind: type, meta: dict[str, Any]) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(key, f"expected {kind.__name__}, got {type(value).__name__} {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(key, f"{value!r} is not one of {', '.join(meta['choices'])}")
    if "min" in meta and not meta["min"] <= value <= meta["max"]:
        raise ConfigError(key, f"{value!r} is outside {meta['min']}..{meta['max']}")
    return value


def _build_section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(name, "expected a table")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in known:
            raise _unknown_key(f"{name}.", key, list(known))
        values[key] = _coerce(f"{name}.{key}", value, hints[key], dict(known[key].metadata))
    return cls(**values)


def parse_config(data: dict[str, Any]) -> Config:
    """A validated `Config` from a TOML document's dict; raises `ConfigError`."""
    sections = {f.name: get_type_hints(Config)[f.name] for f in fields(Config)}
    built = {}
    for name, table in data.items():
        if name not in sections:
            raise _unknown_key("", name, list(sections))
        built[name] = _build_section(name, sections[name], table)
    config = Config(**built)
    _check_cross_keys(config)
    return config


def _check_cross_keys(config: Config) -> None:
    if config.source.kind == "images" and not config.source.path:
        raise ConfigError("source.path", 'source.kind = "images" needs the folder of images')
    width, _, height = config.signals.screen_size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise ConfigError("signals.screen_size", "expected WIDTHxHEIGHT, for example 800x480")


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML file; a syntax error names the file and line."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML: {exc}") from exc
    return parse_config(data)


def config_path(cli_path: str | None, environ: dict[str, str] | os._Environ[str]) -> Path:
    """`--config`, else $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml."""
    return Path(cli_path or environ.get("KIOSK_CONFIG") or DEFAULT_PATH)


@dataclass(frozen=True)
class Credentials:
    """The two Diia secrets; kept out of repr so they cannot be logged by accident."""

    acquirer_token: str = field(repr=False)
    auth_token: str = field(repr=False)


def _read_secret(key: str, file_name: str, env_name: str, environ: Any) -> str:
    if file_name:
        path = Path(file_name)
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(key, f"{path} must not be readable by others (chmod 600)")
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    else:
        value = environ.get(env_name, "").strip()
    if not value:
        raise ConfigError(key, f"no secret: set ${env_name} or {key}")
    return value


def load_credentials(diia: DiiaSection, environ: Any = os.environ) -> Credentials:
    return Credentials(
        acquirer_token=_read_secret(
            "diia.acquirer_token_file", diia.acquirer_token_file, ACQUIRER_TOKEN_ENV, environ
        ),
        auth_token=_read_secret(
            "diia.auth_token_file", diia.auth_token_file, AUTH_TOKEN_ENV, environ
        ),
    )
