"""`kiosk fleet init | add | remove | timestamp | rotate | delegate | status`: the operator's
side of remote config, a TUF repository folder (kiosk.ops.fleet) that a web server serves.

    kiosk fleet init /srv/fleet --keys ~/fleet-keys       root 2-of-3, targets, snapshot,
                                                          timestamp; prints the root to install
    kiosk fleet add /srv/fleet --keys K fleet.toml policy.toml [--base kiosk.toml]
    kiosk fleet add /srv/fleet --keys K kiosks/kyiv-01.toml kyiv-01.toml
    kiosk fleet remove /srv/fleet --keys K kiosks/kyiv-01.toml
    kiosk fleet timestamp /srv/fleet --keys K             the timer's job (deploy/fleet/)
    kiosk fleet rotate /srv/fleet --keys K targets 1a2b3c  replace (revoke) a key
    kiosk fleet delegate /srv/fleet --keys K kyiv         stores/kyiv.toml signed by its own key
    kiosk fleet status /srv/fleet [--keys K]

A failure is exit code 2 with a message naming what is wrong.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kiosk.config import ConfigError
from kiosk.config_files import read_config_text


def add_parser(sub: Any) -> None:
    fleet = sub.add_parser("fleet", help="the fleet's TUF repository: init, add, timestamp, …")
    verbs = fleet.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, text: str, keys: bool = True) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=text)
        parser.add_argument("repo", metavar="REPO", help="the repository folder")
        parser.add_argument("--keys", required=keys, metavar="DIR",
                            help="folder of private keys (those the step needs)")
        return parser

    init = verb("init", "a new repository and its keys; prints the root file to install")
    init.add_argument("--root-keys", type=int, default=3, metavar="N")
    init.add_argument("--root-threshold", type=int, default=2, metavar="M")
    init.set_defaults(handler=cmd_init)

    add = verb("add", "publish a config layer (new or changed)")
    add.add_argument("target", metavar="TARGET",
                     help="fleet.toml, stores/<store>.toml or kiosks/<kiosk id>.toml")
    add.add_argument("file", metavar="FILE")
    add.add_argument("--base", metavar="LOCAL", help="validate merged over this local config")
    add.set_defaults(handler=cmd_add)

    remove = verb("remove", "stop publishing a config layer")
    remove.add_argument("target", metavar="TARGET")
    remove.set_defaults(handler=cmd_remove)

    timestamp = verb("timestamp", "sign a fresh timestamp (and snapshot when due): the timer")
    timestamp.set_defaults(handler=cmd_timestamp)

    rotate = verb("rotate", "replace one key of a role with a new one (revokes the old)")
    rotate.add_argument("role", metavar="ROLE",
                        help="root, targets, snapshot, timestamp or store-<store>")
    rotate.add_argument("keyid", metavar="KEYID", help="the old key's id (a prefix will do)")
    rotate.set_defaults(handler=cmd_rotate)

    delegate = verb("delegate", "give a store its own key for stores/<store>.toml")
    delegate.add_argument("store", metavar="STORE")
    delegate.set_defaults(handler=cmd_delegate)

    status = verb("status", "versions, expiries, keys present", keys=False)
    status.set_defaults(handler=cmd_status)


def _repo(args: argparse.Namespace) -> Any:
    from kiosk.ops.fleet import FleetError, FleetRepository

    try:
        return FleetRepository(args.repo, args.keys or ".")
    except FleetError as exc:
        raise ConfigError(args.repo, str(exc)) from None


def _run(what: str, step: Any) -> Any:
    from kiosk.ops.fleet import FleetError

    try:
        return step()
    except FleetError as exc:
        raise ConfigError(what, str(exc)) from None


def cmd_init(args: argparse.Namespace) -> int:
    from kiosk.ops.fleet import FleetRepository

    _run(args.repo, lambda: FleetRepository.create(
        args.repo, args.keys, root_keys=args.root_keys, root_threshold=args.root_threshold))
    root = Path(args.repo) / "metadata" / "1.root.json"
    print(f"repository in {args.repo}, keys in {args.keys}: move the root and targets keys "
          f"offline. Install {root} on every kiosk as remote.root_file "
          "(/etc/kiosk/root.json; the playbook's fleet_root_file).")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from kiosk.ops.configtool import _load_base, layer_config

    text = read_config_text(args.file)
    layer_config(args.file, text, _load_base(args.base))  # never sign what kiosks refuse
    role = _run(args.target, lambda: _repo(args).add_target(args.target, text.encode()))
    print(f"published {args.target} (signed by {role})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    _run(args.target, lambda: _repo(args).remove_target(args.target))
    print(f"removed {args.target}")
    return 0


def cmd_timestamp(args: argparse.Namespace) -> int:
    renewed = _run(args.repo, lambda: _repo(args).renew_timestamp())
    print("signed a new snapshot and timestamp" if renewed else "signed a new timestamp")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    keyid = _run(args.keyid, lambda: _repo(args).rotate(args.role, args.keyid))
    signer = "the targets" if args.role.startswith("store-") else "the root"
    print(f"{args.role}: key {args.keyid} replaced by {keyid[:16]}; {signer} re-signed")
    return 0


def cmd_delegate(args: argparse.Namespace) -> int:
    keyid = _run(args.store, lambda: _repo(args).delegate_store(args.store))
    print(f"stores/{args.store}.toml is now signed by key {keyid[:16]} alone")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    for line in _run(args.repo, lambda: _repo(args).status()):
        print(line)
    return 0
