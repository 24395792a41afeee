"""`kiosk config validate`: a config file (local, or a remote layer) checked whole.

    kiosk config validate FILE                 a local config, and the paths it names here
    kiosk config validate --layer FILE [--base kiosk.toml]
                                               a remote layer (fleet.toml, stores/…, kiosks/…)
                                               merged over the local config, as a kiosk would

Remote layers are published with `kiosk fleet` (kiosk.ops.fleettool). Every failure is a
config error: exit code 2 with a message naming the file.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from kiosk.config import (
    Config,
    ConfigError,
    check_staff_step,
    load_api_token,
    parse_config,
    with_credentials_source,
)
from kiosk.config_files import check_paths, load_config, parse_toml, read_config_text, read_toml


def add_parser(sub: Any) -> None:
    """The `config` command and its subcommand, on the main parser's subparsers."""
    config = sub.add_parser("config", help="check a config file: validate")
    verbs = config.add_subparsers(dest="verb", required=True, metavar="VERB")

    validate = verbs.add_parser("validate", help="check a config (local or a remote layer)")
    validate.add_argument("file", metavar="FILE")
    validate.add_argument("--layer", action="store_true",
                          help="FILE is a remote layer (fleet.toml, stores/…, kiosks/…)")
    validate.add_argument("--base", metavar="LOCAL", help="a layer: merged over this")
    validate.set_defaults(handler=cmd_validate)


def _load_base(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    load_config(path)  # names the key if the local file itself is wrong
    return read_toml(path)


def layer_config(path: str, text: str, base: dict[str, Any]) -> Config:
    """A remote layer as a kiosk reads it, merged over `base`; a ConfigError naming `path`."""
    from kiosk.ops.remote_config import merge, parse_layer
    from kiosk.ops.tuf_client import RemoteConfigError

    try:
        overlay = parse_layer(path, text)
    except RemoteConfigError as exc:
        raise ConfigError(path, str(exc).removeprefix(f"{path}: ")) from exc
    return parse_config(merge(base, overlay))


def cmd_validate(args: argparse.Namespace) -> int:
    text = read_config_text(args.file)  # UTF-8 of a sane size, else a ConfigError naming it
    if args.layer or args.base:
        config = layer_config(args.file, text, _load_base(args.base))
        what = "remote layer"
        whole = args.base is not None  # alone, a layer lacks what the local file holds
    else:
        config = parse_config(parse_toml(text, args.file))
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
