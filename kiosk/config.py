"""Settings: TOML into frozen dataclasses, validated whole before any device opens.

Every error names the dotted key path and, for an unknown key, suggests the closest valid
one. Secrets are never in the file: they come from the environment or from files the file
names, and their values never appear in an error.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from kiosk.diia.types import Credentials
from kiosk.diia.url_rule import url_problem
from kiosk.model import MAX_AGE, MIN_AGE, MODES

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")
ACQUIRER_TOKEN_ENV = "KIOSK_DIIA_ACQUIRER_TOKEN"
AUTH_TOKEN_ENV = "KIOSK_DIIA_AUTH_TOKEN"


class ConfigError(ValueError):
    """A setting is wrong; `key` is its dotted path."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


# The choices of the config, each written once; the code that acts on them imports them.
LANGUAGES = ("uk", "en")
SOURCE_KINDS = ("camera", "images", "keyboard", "serial", "stdin")
DECODER_BACKENDS = ("zxing", "pyzbar")


def _choice(*values: str) -> dict[str, Any]:
    return {"choices": values}


@dataclass(frozen=True)
class KioskSection:
    mode: str = field(default="age", metadata=_choice(*MODES))
    """What Diia is asked: the document is valid, its holder is old enough, or the name matches."""
    min_age: int = field(default=18, metadata={"min": MIN_AGE, "max": MAX_AGE})
    """Minimum age in years for mode "age"."""
    attended: bool = True
    """Age checks need staff to arm and acknowledge them; false = unattended."""
    arm_seconds: float = field(default=120.0, metadata={"min": 5.0, "max": 3600.0})
    """Attended age checks: how long one arming by staff waits for the customer's code."""
    language: str = field(default="uk", metadata=_choice(*LANGUAGES))
    """Language of the screen."""
    result_seconds: float = field(default=3.0, metadata={"min": 0.0, "max": 600.0})
    """How long a verdict stays shown; 0 = no pause (batch runs over images)."""
    state_dir: str = ""
    """Where the audit log and accepted remote config live; "" = $STATE_DIRECTORY (set by
    systemd's StateDirectory=), else none (both are then off)."""
    name_file: str = ""
    """Mode "name": JSON file the POS writes with the expected name for the next check
    ({"last_name", "first_name", "middle_name"}); used for one verdict, then deleted."""
    name_max_age_s: float = field(default=300.0, metadata={"min": 1.0, "max": 86400.0})
    """Mode "name": a name file older than this is ignored (a stale order)."""
    require_arming: bool = False
    """A code is checked only while the till has armed a check through the API ([api]): at
    a checkout, where a product's EAN-13 can look exactly like a Diia barcode."""
    id: str = ""
    """This kiosk's name in the fleet: its remote config is kiosks/<id>.toml; "" = the host
    name."""
    store: str = ""
    """The store it stands in: its remote config layer stores/<store>.toml; "" = none."""


@dataclass(frozen=True)
class DiiaSection:
    base_url: str = "https://api2s.diia.gov.ua"
    """Diia partner API host (production: https://api2.diia.gov.ua); https:// only, plain
    http:// only to a loopback address (the sandbox)."""
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
    last_name_field: str = "lastName"
    """Mode "name": body field carrying the last name (assumption to confirm with Diia)."""
    first_name_field: str = "firstName"
    """Mode "name": body field carrying the first name (assumption to confirm with Diia)."""
    middle_name_field: str = "middleName"
    """Mode "name": body field carrying the middle name, left out when there is none
    (assumption to confirm with Diia)."""
    ca_file: str = ""
    """Extra CA bundle for TLS verification; verification itself is always on."""


@dataclass(frozen=True)
class SourceSection:
    kind: str = field(
        default="camera", metadata=_choice(*SOURCE_KINDS)
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
    backend: str = field(default="zxing", metadata=_choice(*DECODER_BACKENDS))
    """Decoder library."""
    region_assist: bool = True
    """"zxing": a second look at frames it read nothing in (zbar on bars, enlarged QRs)."""


@dataclass(frozen=True)
class CameraSection:
    size: str = "1280x720"
    """Frame size WIDTHxHEIGHT (the Y plane of a YUV420 stream)."""
    fps: float = field(default=15.0, metadata={"min": 1.0, "max": 120.0})
    """Frames per second; also caps the exposure time."""
    index: int = field(default=0, metadata={"min": 0, "max": 16})
    """Which camera: 0 = the first; Pi cameras come before USB webcams."""
    autofocus: str = field(default="continuous", metadata=_choice("continuous", "manual", "off"))
    """Camera Module 3 focus: continuous (fast, near range), manual (lens_position), off."""
    lens_position: float = field(default=6.5, metadata={"min": 0.0, "max": 32.0})
    """Autofocus "manual": lens position in dioptres (1/distance in m; 6.5 ≈ 15 cm)."""
    exposure_value: float = field(default=-1.0, metadata={"min": -8.0, "max": 8.0})
    """Exposure compensation in stops while auto exposure runs; below 0 for bright screens."""
    exposure_time_us: int = field(default=0, metadata={"min": 0, "max": 1_000_000})
    """Fixed shutter time in µs; 0 = auto exposure."""


@dataclass(frozen=True)
class ScannerSection:
    name: str = ""
    """"keyboard": pick the input device whose name contains this when source.path is empty."""
    inter_key_timeout_s: float = field(default=0.3, metadata={"min": 0.02, "max": 10.0})
    """A pause this long after a whole code ends it when the scanner sends no Enter."""
    baudrate: int = field(default=9600, metadata={"min": 1200, "max": 921600})
    """"serial": line speed (USB-CDC scanners ignore it)."""


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
    leds: str = field(default="three", metadata=_choice("three", "rgb"))
    """"three": green, red and amber LEDs; "rgb": one RGB LED on red_pin, green_pin, blue_pin."""
    blue_pin: int = field(default=22, metadata={"min": 0, "max": 27})
    """BCM pin of the RGB LED's blue leg (leds = "rgb"; amber_pin is then unused)."""
    led_active_high: bool = True
    """False when a low pin lights the LED (a common-anode RGB LED)."""
    buzzer: str = field(default="active", metadata=_choice("active", "tonal"))
    """"active": sounds when powered; "tonal": a passive piezo played in tones (PWM)."""
    relay_pin: int = field(default=-1, metadata={"min": -1, "max": 27})
    """BCM pin of a relay pulsed on each pass (a gate, a locker); -1 = no relay."""
    relay_seconds: float = field(default=1.0, metadata={"min": 0.1, "max": 30.0})
    """How long the relay is switched on for a pass."""
    relay_active_high: bool = True
    """False for relay boards that switch on a low pin (most cheap ones)."""
    staff_pin: int = field(default=23, metadata={"min": -1, "max": 27})
    """BCM pin of the staff button (to ground) that arms and acknowledges attended checks;
    -1 = none."""


@dataclass(frozen=True)
class RemoteSection:
    url: str = ""
    """HTTPS base URL of the fleet's TUF repository (metadata/ and targets/ under it),
    asked at start and every interval_s; "" = off."""
    root_file: str = "/etc/kiosk/root.json"
    """The repository's trusted root metadata, installed with the kiosk (`kiosk fleet init`
    writes it); every other file must chain up to it."""
    interval_s: float = field(default=900.0, metadata={"min": 10.0, "max": 86400.0})
    """Seconds between fetches."""
    timeout_s: float = field(default=10.0, metadata={"min": 0.5, "max": 120.0})
    """Deadline for one whole fetch (every file it asks for)."""
    allow_http_loopback: bool = False
    """Accept plain http:// when the host is loopback (tests, a local relay); never otherwise."""


@dataclass(frozen=True)
class MetricsSection:
    port: int = field(default=9110, metadata={"min": 0, "max": 65535})
    """Prometheus endpoint on 127.0.0.1 (loopback only); 0 = off."""


@dataclass(frozen=True)
class AuditSection:
    path: str = "audit/verdicts.jsonl"
    """Verdict events also go here, relative to the state directory; "off" = no audit log."""
    max_bytes: int = field(default=1_000_000, metadata={"min": 10_000, "max": 1_000_000_000})
    """Size at which the audit log is rotated."""
    keep_days: int = field(default=90, metadata={"min": 1, "max": 3650})
    """Rotated audit logs older than this many days are deleted."""


@dataclass(frozen=True)
class ClockSection:
    require_sync: bool = True
    """Verdicts are "unknown" until the clock is trusted (NTP synchronised, or Diia agrees)."""
    sync_file: str = "/run/systemd/timesync/synchronized"
    """File systemd-timesyncd creates once the clock is synchronised."""
    max_offset_s: float = field(default=60.0, metadata={"min": 1.0, "max": 3600.0})
    """Diia's Date header vouches for our clock when the two differ by at most this."""


@dataclass(frozen=True)
class ApiSection:
    listen: str = ""
    """The till's local HTTP API as HOST:PORT, for example "127.0.0.1:8765"; "" = off. An
    address other than loopback needs a bearer token (token_file or the systemd credential)."""
    token_file: str = ""
    """File (mode 0600) holding the bearer token the till sends; else the systemd credential
    kiosk-api-token ($CREDENTIALS_DIRECTORY). Optional on loopback, required elsewhere."""
    expires_s: float = field(default=120.0, metadata={"min": 1.0, "max": 3600.0})
    """An armed check that no code was read for expires after this many seconds (a check's
    own expires_s overrides it)."""


@dataclass(frozen=True)
class ShareSection:
    offer_id: str = ""
    """Online sharing: the Diia offer whose deeplink the screen shows as a QR for the
    customer's phone; "" = off."""
    return_link: str = ""
    """Online sharing: where Diia sends the customer back after sharing; "" = none."""
    wait_s: float = field(default=120.0, metadata={"min": 5.0, "max": 900.0})
    """How long the kiosk waits for the holder to confirm a share in Diia."""
    poll_s: float = field(default=2.0, metadata={"min": 0.2, "max": 60.0})
    """Seconds between status polls while it waits."""


@dataclass(frozen=True)
class Config:
    kiosk: KioskSection = field(default_factory=KioskSection)
    diia: DiiaSection = field(default_factory=DiiaSection)
    source: SourceSection = field(default_factory=SourceSection)
    decode: DecodeSection = field(default_factory=DecodeSection)
    camera: CameraSection = field(default_factory=CameraSection)
    scanner: ScannerSection = field(default_factory=ScannerSection)
    signals: SignalsSection = field(default_factory=SignalsSection)
    remote: RemoteSection = field(default_factory=RemoteSection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    audit: AuditSection = field(default_factory=AuditSection)
    clock: ClockSection = field(default_factory=ClockSection)
    api: ApiSection = field(default_factory=ApiSection)
    share: ShareSection = field(default_factory=ShareSection)


def _unknown_key(path: str, key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else f" (known: {', '.join(known)})"
    return ConfigError(f"{path}{key}", f"unknown key{hint}")


def _coerce(key: str, value: Any, kind: type, meta: dict[str, Any]) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(key, f"expected {kind.__name__}, got {type(value).__name__} "
                          f"{_shown(value)}")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(key, f"{_shown(value)} is not one of {', '.join(meta['choices'])}")
    if "min" in meta and not meta["min"] <= value <= meta["max"]:
        raise ConfigError(key, f"{value!r} is outside {meta['min']}..{meta['max']}")
    return value


def _shown(value: Any, limit: int = 60) -> str:
    """A value for an error message: short, whatever it is (a megabyte string, a list nested
    hundreds deep)."""
    if isinstance(value, list | dict):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


# Keys a past release had, with what replaced them: a clearer error than "unknown key".
RETIRED_KEYS = {
    "remote.public_key": "retired with the single-key signed file: remote config is now a TUF "
                         "repository whose trusted root is remote.root_file (README, "
                         "\"Rolling out a config\"; the fleet playbook migrates a kiosk)",
}


def _build_section(name: str, cls: type, table: Any) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(name, "expected a table")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in table.items():
        if f"{name}.{key}" in RETIRED_KEYS:
            raise ConfigError(f"{name}.{key}", RETIRED_KEYS[f"{name}.{key}"])
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


MAX_SIDE = 16384  # pixels; far above any camera mode a Pi drives
MAX_SCREEN_SIDE = 8192  # a window's surface is 4 bytes a pixel: 8192² is already 256 MB


def parse_size(text: str, key: str = "size", example: str = "800x480",
               limit: int = MAX_SIDE) -> tuple[int, int]:
    """"WIDTHxHEIGHT" → (width, height), each 1..`limit` in ASCII digits ("１２８０" passes
    `isdigit()`); a ConfigError naming `key` if not."""
    width, _, height = text.partition("x")
    sides = (width, height)
    if not all(s.isascii() and s.isdigit() and len(s) <= 5 and 0 < int(s) <= limit
               for s in sides):
        raise ConfigError(key, f"expected WIDTHxHEIGHT up to {limit}, for example {example}")
    return int(width), int(height)


def _check_cross_keys(config: Config) -> None:
    if config.source.kind == "images" and not config.source.path:
        raise ConfigError("source.path", 'source.kind = "images" needs the folder of images')
    parse_size(config.signals.screen_size, "signals.screen_size", "800x480", MAX_SCREEN_SIDE)
    parse_size(config.camera.size, "camera.size", "1280x720")
    if config.source.kind == "serial" and not config.source.path:
        raise ConfigError("source.path", 'source.kind = "serial" needs the device, for example '
                          "/dev/serial/by-id/usb-…-if00")
    if config.source.kind == "keyboard" and not (config.source.path or config.scanner.name):
        raise ConfigError("source.path", 'source.kind = "keyboard" needs the device '
                          "(/dev/input/by-id/…-event-kbd) or scanner.name: never a guess, "
                          "since the kiosk grabs the device it opens")
    _check_pins(config.signals)
    _check_urls(config)
    _check_names(config.kiosk)
    if config.api.listen:
        parse_listen(config.api.listen)
    if config.kiosk.require_arming and not config.api.listen:
        raise ConfigError("kiosk.require_arming", "needs the till's API ([api] listen) to "
                          "arm checks")


def parse_listen(listen: str, key: str = "api.listen") -> tuple[str, int]:
    """"HOST:PORT" ("[::1]:PORT" for IPv6) → (host, port); the host must be an IP address
    or localhost, so what is loopback is never a guess."""
    host, sep, port = listen.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ConfigError(key, f"expected HOST:PORT, for example 127.0.0.1:8765, got {listen!r}")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(key, f"the host must be an IP address, got {host!r}") from None
    return host, int(port)


def is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host).is_loopback


API_TOKEN_CREDENTIAL = "kiosk-api-token"


def load_api_token(api: ApiSection, environ: Any = os.environ) -> str | None:
    """The bearer token the till must send, or None for none (loopback only). A non-loopback
    address without one is a config error naming the key."""
    if not api.listen:
        return None
    host, _ = parse_listen(api.listen)
    token = ""
    if api.token_file:
        token = read_secret_file("api.token_file", Path(api.token_file), private=True)
        if not token:
            raise ConfigError("api.token_file", f"{api.token_file} is empty")
    elif environ.get("CREDENTIALS_DIRECTORY"):
        path = Path(environ["CREDENTIALS_DIRECTORY"]) / API_TOKEN_CREDENTIAL
        token = read_secret_file("api.token_file", path, missing_ok=True)
    # ASCII only: the till's header is read as latin-1, so any other token could never match.
    if token and (len(token) < 16 or not (token.isascii() and token.isprintable())
                  or " " in token):
        raise ConfigError("api.token_file", "the token must be at least 16 printable ASCII "
                          "characters without spaces")
    if not token and not is_loopback(host):
        raise ConfigError("api.token_file", f"api.listen = {api.listen!r} is not loopback: "
                          "a bearer token is required (api.token_file, or the systemd "
                          f"credential {API_TOKEN_CREDENTIAL})")
    return token or None




# Outside systemd, the folder LoadCredential= reads from (deploy/install.sh makes it).
CREDENTIALS_SOURCE = Path("/etc/kiosk/credentials")


def with_credentials_source(environ: Any) -> dict[str, str]:
    """`environ`, with $CREDENTIALS_DIRECTORY pointing at the credentials' source folder
    when it is not set and that folder can be read (root): what systemd would hand over."""
    environ = dict(environ)
    if "CREDENTIALS_DIRECTORY" not in environ and os.access(CREDENTIALS_SOURCE, os.R_OK):
        environ["CREDENTIALS_DIRECTORY"] = str(CREDENTIALS_SOURCE)
    return environ


def till_is_staff_step(config: Config, gpio_here: bool = True) -> bool:
    """Attended age checks with no staff button (none wired, or no GPIO `gpio_here`) but
    the till's API: the till arms and acknowledges (`POST /v1/staff/arm`, `/ack`)."""
    s = config.signals
    button = s.staff_pin >= 0 and s.gpio != "off" and gpio_here
    return not button and bool(config.api.listen)


def check_staff_step(config: Config) -> None:
    """Attended age checks need someone to arm and acknowledge them: the staff button, or
    the till through its API. Raises `ConfigError` naming the key when there is neither."""
    if not (config.kiosk.attended and config.kiosk.mode == "age"):
        return
    if till_is_staff_step(config) or (config.signals.staff_pin >= 0
                                      and config.signals.gpio != "off"):
        return
    if config.signals.staff_pin < 0:
        raise ConfigError("signals.staff_pin", "attended age checks need the staff button, "
                          "or the till's API ([api] listen) to arm and acknowledge them (or "
                          "kiosk.attended = false)")
    raise ConfigError("kiosk.attended", "attended age checks need the staff button on "
                      f"GPIO{config.signals.staff_pin}, and signals.gpio = \"off\" (signals."
                      'gpio = "mock" to simulate one, the till\'s API ([api] listen) to arm '
                      "and acknowledge, or kiosk.attended = false)")


def gpio_pins(signals: SignalsSection) -> dict[str, int]:
    """The BCM pins the configured LEDs, buzzer, relay and staff button use, by key."""
    leds = ("red_pin", "green_pin", "blue_pin") if signals.leds == "rgb" else (
        "green_pin", "red_pin", "amber_pin")
    pins = {key: getattr(signals, key) for key in (*leds, "buzzer_pin")}
    for key in ("relay_pin", "staff_pin"):
        if getattr(signals, key) >= 0:
            pins[key] = getattr(signals, key)
    return pins


def _check_pins(signals: SignalsSection) -> None:
    owners: dict[int, str] = {}
    for key, pin in gpio_pins(signals).items():
        if pin in owners:
            raise ConfigError(f"signals.{key}", f"GPIO{pin} is already signals.{owners[pin]}")
        owners[pin] = key


def _check_urls(config: Config) -> None:
    """Every URL the kiosk fetches: https, or plain http to loopback (`url_problem`)."""
    problem = url_problem(config.diia.base_url)
    if problem:
        raise ConfigError("diia.base_url", problem)
    if config.remote.url:
        problem = url_problem(config.remote.url,  # a base: metadata/ and targets/ go after it
                              allow_http_loopback=config.remote.allow_http_loopback)
        if problem and "not allowed here" in problem:
            problem += " (plain http to loopback needs remote.allow_http_loopback = true)"
        if problem:
            raise ConfigError("remote.url", problem)


NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a kiosk or store name (a piece of a target path), or None."""
    if not 0 < len(name) <= 64 or not set(name) <= NAME_CHARS or name.startswith("."):
        return "expected 1-64 of A-Z a-z 0-9 . _ - (not starting with a dot)"
    return None


def _check_names(kiosk: KioskSection) -> None:
    for key in ("id", "store"):
        value = getattr(kiosk, key)
        problem = value and name_problem(value)
        if problem:
            raise ConfigError(f"kiosk.{key}", f"{_shown(value)}: {problem}")


def config_path(cli_path: str | None, environ: dict[str, str] | os._Environ[str]) -> Path:
    """`--config`, else $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml."""
    return Path(cli_path or environ.get("KIOSK_CONFIG") or DEFAULT_PATH)


def _read_secret(key: str, file_name: str, env_name: str, environ: Any) -> str:
    if file_name:
        value = read_secret_file(key, Path(file_name), private=True)
    else:
        value = environ.get(env_name, "").strip()
        if not value and environ.get("CREDENTIALS_DIRECTORY"):
            value = _read_credential(key, Path(environ["CREDENTIALS_DIRECTORY"]), env_name)
    if not value:
        raise ConfigError(key, f"no secret: set ${env_name} or {key}, "
                          f"or the systemd credential {CREDENTIAL_NAMES[env_name]}")
    # A wrong character is reported where the secret came from: the file's key, else the
    # variable, else the credential.
    if not file_name:
        key = f"${env_name}" if environ.get(env_name, "").strip() else (
            f"systemd credential {CREDENTIAL_NAMES[env_name]}")
    _check_secret_characters(key, value)
    return value


def _check_secret_characters(key: str, value: str) -> None:
    """A secret goes into an HTTP header or path: printable ASCII, one line, no spaces.

    The value itself is never shown; only what is wrong with it and where."""
    if any(c in "\r\n" for c in value):
        raise ConfigError(key, "the secret has a line break inside (base64 wraps at 76 "
                          "columns: join it into one line, e.g. with base64 -w0)")
    bad = next((i for i, c in enumerate(value) if not 0x21 <= ord(c) <= 0x7E), None)
    if bad is not None:
        what = "a space" if value[bad] == " " else (
            "a control character" if ord(value[bad]) < 0x80 else "a non-ASCII character")
        raise ConfigError(key, f"the secret has {what} at position {bad + 1}: only printable "
                          "ASCII without spaces is accepted")


# systemd credentials (LoadCredential= in deploy/kiosk.service): $CREDENTIALS_DIRECTORY/<name>.
CREDENTIAL_NAMES = {ACQUIRER_TOKEN_ENV: "diia-acquirer-token", AUTH_TOKEN_ENV: "diia-auth-token"}


def _read_credential(key: str, directory: Path, env_name: str) -> str:
    """The secret systemd handed over; "" when it did not (the caller names what is missing).

    systemd makes these files private to the service, so no mode check is needed here."""
    return read_secret_file(key, directory / CREDENTIAL_NAMES[env_name], missing_ok=True)


def read_secret_file(key: str, path: Path, *, private: bool = False,
                     missing_ok: bool = False) -> str:
    """A secret's file, stripped: the one reader of every secret (Diia's two, the till's
    token). Errors name `key` and the file, never a byte of it; `private`: refused when
    others may read it; `missing_ok`: "" for no file (systemd handed none over)."""
    try:
        if private and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(key, f"{path} must not be readable by others (chmod 600)")
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        if missing_ok:
            return ""
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:  # its text would show a byte of the secret: name the file
        raise ConfigError(key, f"{path} is not UTF-8 text") from None


def load_credentials(diia: DiiaSection, environ: Any = os.environ) -> Credentials:
    return Credentials(
        acquirer_token=_read_secret(
            "diia.acquirer_token_file", diia.acquirer_token_file, ACQUIRER_TOKEN_ENV, environ
        ),
        auth_token=_read_secret(
            "diia.auth_token_file", diia.auth_token_file, AUTH_TOKEN_ENV, environ
        ),
    )
