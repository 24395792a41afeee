"""`kiosk config keygen | sign | verify | validate`: the operator's side of remote config.

    kiosk config keygen signing.pem            a new Ed25519 key; prints remote.public_key
    kiosk config sign --key signing.pem fleet.toml -o fleet.signed.toml
    kiosk config verify --public-key KEY fleet.signed.toml   (or --config /etc/kiosk/kiosk.toml)
    kiosk config validate FILE [--base kiosk.toml]

Every failure is a config error: exit code 2 with a message naming the file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from kiosk.config import (
    Config,
    ConfigError,
    check_staff_step,
    config_path,
    load_api_token,
    parse_config,
    with_credentials_source,
)
from kiosk.config_files import check_paths, load_config, parse_toml, read_config_text, read_toml


def add_parser(sub: Any) -> None:
    """The `config` command and its four subcommands, on the main parser's subparsers."""
    config = sub.add_parser("config", help="remote config: keygen, sign, verify, validate")
    verbs = config.add_subparsers(dest="verb", required=True, metavar="VERB")

    keygen = verbs.add_parser("keygen", help="new Ed25519 signing key; prints the public key")
    keygen.add_argument("private_key", metavar="PRIVATE_KEY", help="file to create (mode 0600)")
    keygen.set_defaults(handler=cmd_keygen)

    sign = verbs.add_parser("sign", help="sign a config that has a version")
    sign.add_argument("file", metavar="FILE")
    sign.add_argument("--key", required=True, metavar="PRIVATE_KEY")
    sign.add_argument("-o", "--output", metavar="OUT", help="else stdout")
    sign.add_argument("--base", metavar="LOCAL", help="validate merged over this local config")
    sign.set_defaults(handler=cmd_sign)

    verify = verbs.add_parser("verify", help="check a signed config's signature and version")
    verify.add_argument("file", metavar="FILE")
    verify.add_argument("--public-key", metavar="BASE64", help="else the config's remote key")
    verify.add_argument("--config", help="local config holding remote.public_key")
    verify.set_defaults(handler=cmd_verify)

    validate = verbs.add_parser("validate", help="check a config (local or remote) whole")
    validate.add_argument("file", metavar="FILE")
    validate.add_argument("--base", metavar="LOCAL", help="a remote config: merged over this")
    validate.set_defaults(handler=cmd_validate)


def _read(path: str) -> str:
    return read_config_text(path)  # UTF-8 of a sane size, else a ConfigError naming it


def _load_base(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    load_config(path)  # names the key if the local file itself is wrong
    return read_toml(path)


def _remote_error(path: str, exc: Exception) -> ConfigError:
    reason = getattr(exc, "reason", "")
    return ConfigError(path, f"{reason}: {exc}" if reason else str(exc))


def cmd_keygen(args: argparse.Namespace) -> int:
    from kiosk.ops.signing import generate_keypair, public_key_id

    pem, public = generate_keypair()
    try:
        fd = os.open(args.private_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(args.private_key, "exists already; not overwriting a key") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    print(f"# key {public_key_id(public)}; keep {args.private_key} offline. For kiosk.toml:")
    print("[remote]")
    print(f'public_key = "{public}"')
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    from kiosk.ops.remote_config import effective_config
    from kiosk.ops.signing import (
        RemoteConfigError,
        load_private_key,
        public_key_of,
        sign_text,
        verify_text,
    )

    text = _read(args.file)
    pem = _read(args.key).encode()
    try:
        load_private_key(pem)
        signed_text = sign_text(text, pem)
    except (ValueError, RemoteConfigError) as exc:
        raise _remote_error(args.file if isinstance(exc, RemoteConfigError) else args.key,
                            exc) from exc
    public = public_key_of(load_private_key(pem))
    try:
        effective_config(_load_base(args.base), verify_text(signed_text, public))
    except RemoteConfigError as exc:
        raise _remote_error(args.file, exc) from exc
    if args.output:
        Path(args.output).write_text(signed_text, encoding="utf-8")
        print(f"signed {args.file} -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(signed_text)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from kiosk.ops.signing import RemoteConfigError, public_key_id, verify_text

    public = args.public_key
    if not public:
        path = config_path(args.config, os.environ)
        if not path.exists():  # the operator's machine: no kiosk config, only the key
            raise ConfigError(str(path), "no config file to take remote.public_key from: "
                              "pass --public-key KEY (printed by `kiosk config keygen`), or "
                              "--config PATH or $KIOSK_CONFIG for a config that has it "
                              "(see config/kiosk.example.toml)")
        public = load_config(path).remote.public_key
        if not public:
            raise ConfigError("remote.public_key", f"not set in {path}; pass --public-key")
    try:
        signed = verify_text(_read(args.file), public)
    except (RemoteConfigError, ConfigError) as exc:
        raise _remote_error(args.file, exc) from exc
    keys = sorted(f"{s}.{k}" for s, t in signed.overlay.items() for k in t)
    print(f"{args.file}: signature ok (key {public_key_id(public)}), version {signed.version}, "
          f"sets {', '.join(keys) or 'nothing'}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from kiosk.ops.remote_config import merge
    from kiosk.ops.signing import RemoteConfigError, parse_body, strip_signature

    text = _read(args.file)
    body = strip_signature(text)
    data = parse_toml(body, args.file)
    if body != text or "version" in data:  # a remote config: an overlay with a version
        try:
            version, overlay = parse_body(body)
        except RemoteConfigError as exc:
            raise _remote_error(args.file, exc) from exc
        config = parse_config(merge(_load_base(args.base), overlay))
        what = f"remote config version {version}"
        whole = args.base is not None  # alone, an overlay lacks what the local file holds
    else:
        config = parse_config(data)
        what = "config"
        whole = True
    check_paths(config)  # what `kiosk run` on this machine would stop at
    if whole:
        check_startable(config, os.environ)
    print(f"{args.file}: valid {what} ({_summary(config)}); the secrets, devices and Diia "
          "itself are for `kiosk doctor`")
    return 0


def check_startable(config: Config, environ: Any) -> None:
    """What `kiosk run` refuses beyond the file's own keys (a LAN address for the till's API
    without a token, attended age checks nobody can arm), and what `kiosk doctor` fails a
    config for (no branch id: Diia refuses every check). Raises `ConfigError`."""
    check_staff_step(config)
    load_api_token(config.api, with_credentials_source(environ))
    if not config.diia.branch_id.strip():
        raise ConfigError("diia.branch_id", "is empty: Diia refuses every check without it "
                          "(`kiosk doctor` fails it too); set it to the branch id Diia gave "
                          "the shop")


def _summary(config: Config) -> str:
    return f"mode {config.kiosk.mode}, source {config.source.kind}, diia {config.diia.base_url}"
