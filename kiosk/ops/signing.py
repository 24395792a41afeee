"""The signed config file format: Ed25519 keys, signing, verifying.

The first line is the signature over everything after it, written as a TOML comment so the
whole file still reads as TOML and a person can read what it sets:

    #kiosk-signature: ed25519 <key id> <base64 signature>
    version = 7
    [kiosk]
    min_age = 21

The body must carry a top-level integer `version` and may not carry [remote].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tomllib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from kiosk.config import ConfigError

SIGNATURE_TAG = "#kiosk-signature:"
ALGORITHM = "ed25519"

# Why a fetched config was refused: the `reason` label of kiosk_config_rejected_total.
REJECT_REASONS = (
    "unreachable",  # no answer, or not 200
    "unsigned",  # no signature line
    "bad_signature",  # does not verify with remote.public_key
    "malformed",  # not TOML, no integer version
    "not_newer",  # version older than the running one: no rollback
    "invalid",  # merged with the local file, does not validate
    "failed_start",  # this version was tried and the kiosk did not come up with it
)


class RemoteConfigError(Exception):
    """A remote config refused; `reason` is one of `REJECT_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- keys and signatures -----------------------------------------------------------------


def public_key_id(public_key: str) -> str:
    """A short name for a public key, carried in the signature line."""
    return hashlib.sha256(_decode_public(public_key)).hexdigest()[:8]


def _decode_public(public_key: str) -> bytes:
    try:
        raw = base64.b64decode(public_key.strip(), validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ConfigError("remote.public_key", "expected a base64 Ed25519 public key")
    return raw


def generate_keypair() -> tuple[bytes, str]:
    """A new signing key: (private key PEM, public key base64 for remote.public_key)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, public_key_of(private)


def public_key_of(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError("not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 key")
    return key


def strip_signature(text: str) -> str:
    """The body: `text` without its signature line, if it has one."""
    first, _, rest = text.partition("\n")
    return rest if first.startswith(SIGNATURE_TAG) else text


def sign_text(text: str, private_pem: bytes) -> str:
    """`text` (a config with a `version`) signed; an old signature line is replaced."""
    body = strip_signature(text)
    if not body.endswith("\n"):
        body += "\n"
    parse_body(body)  # never sign what the kiosk would refuse to read
    key = load_private_key(private_pem)
    signature = base64.b64encode(key.sign(body.encode("utf-8"))).decode()
    return f"{SIGNATURE_TAG} {ALGORITHM} {public_key_id(public_key_of(key))} {signature}\n{body}"


@dataclass(frozen=True)
class SignedConfig:
    """A remote config whose signature verified: its version and the keys it sets."""

    version: int
    overlay: dict[str, Any]
    text: str  # the whole file as fetched, signature line included


def parse_body(body: str) -> tuple[int, dict[str, Any]]:
    try:
        data = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        raise RemoteConfigError("malformed", f"not valid TOML: {exc}") from exc
    except RecursionError:  # tomllib recurses per level: a body nested thousands deep
        raise RemoteConfigError("malformed", "nested too deeply to be a config") from None
    version = data.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RemoteConfigError("malformed", "needs a top-level integer version >= 1")
    if "remote" in data:
        raise RemoteConfigError(
            "invalid", "a remote config cannot change [remote]; that stays in /etc/kiosk"
        )
    for name, table in data.items():  # `kiosk = 5` is TOML, but sets no keys of [kiosk]
        if not isinstance(table, dict):
            raise RemoteConfigError("invalid", f"{name[:40]}: expected a table ([{name[:40]}])")
    return version, data


def verify_text(text: str, public_key: str) -> SignedConfig:
    """The config in `text` if its signature verifies with `public_key`; else raises."""
    first, _, body = text.partition("\n")
    if not first.startswith(SIGNATURE_TAG):
        raise RemoteConfigError("unsigned", "no signature line (sign it with `kiosk config sign`)")
    parts = first[len(SIGNATURE_TAG):].split()
    if len(parts) != 3 or parts[0] != ALGORITHM:
        raise RemoteConfigError("unsigned", "unreadable signature line")
    _, key_id, signature_b64 = parts
    expected_id = public_key_id(public_key)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        Ed25519PublicKey.from_public_bytes(_decode_public(public_key)).verify(
            signature, body.encode("utf-8")
        )
    except (binascii.Error, InvalidSignature) as exc:
        other = f" (signed by key {key_id}, ours is {expected_id})" if key_id != expected_id else ""
        raise RemoteConfigError("bad_signature", f"signature does not verify{other}") from exc
    version, overlay = parse_body(body)
    return SignedConfig(version, overlay, text)
