"""The fleet's TUF repository, on the operator's side (python-tuf's `tuf.api.metadata`).

A repository folder is what a web server serves as `remote.url`:

    metadata/1.root.json, 2.root.json, …   every root version (kiosks walk them in order)
    metadata/root.json                     the newest root (install 1.root.json on kiosks)
    metadata/N.targets.json, N.snapshot.json, N.store-<store>.json   (consistent snapshots)
    metadata/timestamp.json
    targets/<sha256>.fleet.toml, targets/stores/<sha256>.<store>.toml, targets/kiosks/…

Private keys are PEM files `<role>.<key id prefix>.pem` in a keys folder (0700, each file
0600): every signing step loads the keys its role lists that are present and refuses below
the role's threshold. Root (threshold >= 2) and targets keys belong offline; only the
timestamp (and snapshot) keys need to sit beside the timer that re-signs the timestamp.
Files are published in the order kiosks read them backwards: targets, their metadata, the
snapshot, the timestamp last, each written whole and renamed into place.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, Signer, SSlibKey
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from kiosk.config import name_problem

TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
EXPIRY = {
    "root": timedelta(days=365),
    "targets": timedelta(days=180),  # and each store's delegated role
    "snapshot": timedelta(days=7),
    "timestamp": timedelta(hours=12),  # the longest a freeze can go unnoticed (+ one poll)
}
SNAPSHOT_RENEW = timedelta(days=3)  # the timestamp timer also re-signs a snapshot this close
_PRETTY = JSONSerializer(compact=False)
_TARGET = re.compile(r"^(fleet\.toml|(stores|kiosks)/([^/]+)\.toml)$")
_ROOT_FILE = re.compile(r"^([0-9]+)\.root\.json$")


class FleetError(Exception):
    """The repository or the keys cannot do what was asked; the message says why."""


def target_problem(path: str) -> str | None:
    """Why `path` is not a kiosk config target (fleet.toml, stores/S.toml, kiosks/K.toml)."""
    match = _TARGET.match(path)
    if match is None:
        return "expected fleet.toml, stores/<store>.toml or kiosks/<kiosk id>.toml"
    if match.group(3) is not None:
        return name_problem(match.group(3))
    return None


def store_role(store: str) -> str:
    return f"store-{store}"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # served by a web server
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Keyring:
    """The private keys present in one folder, by key id."""

    folder: Path

    def _path(self, role: str, keyid: str) -> Path:
        return self.folder / f"{role}.{keyid[:16]}.pem"

    def generate(self, role: str) -> CryptoSigner:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        signer = CryptoSigner.generate_ed25519()
        path = self._path(role, signer.public_key.keyid)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(signer.private_bytes)
        return signer

    def signer(self, keyid: str, key: Key) -> Signer | None:
        found = sorted(self.folder.glob(f"*.{keyid[:16]}.pem"))
        if not found:
            return None
        private = load_pem_private_key(found[0].read_bytes(), None)
        assert isinstance(key, SSlibKey)
        return CryptoSigner(private, key)


class FleetRepository:
    """One repository folder and the keys folder that signs it. `now` is the clock."""

    def __init__(self, path: str | Path, keys: str | Path,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = Path(path)
        self.meta = self.path / "metadata"
        self.keys = Keyring(Path(keys))
        self.now = now
        if not (self.meta / "timestamp.json").is_file():
            raise FleetError(f"{self.path} is not a fleet repository (no metadata/"
                             "timestamp.json): make one with `kiosk fleet init`")

    # -- creating ---------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, keys: str | Path, *, root_keys: int = 3,
               root_threshold: int = 2,
               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FleetRepository:
        """A new repository: root (`root_threshold` of `root_keys`), targets, snapshot and
        timestamp keys made in `keys`, and version 1 of every role, with no targets yet."""
        if root_threshold < 2 or root_keys < root_threshold:
            raise FleetError("the root needs a threshold of at least 2, and at least that "
                             "many keys")
        meta = Path(path) / "metadata"
        if meta.exists() and any(meta.iterdir()):
            raise FleetError(f"{meta} is not empty: not overwriting a repository")
        ring = Keyring(Path(keys))
        root = Root(expires=now() + EXPIRY["root"], consistent_snapshot=True)
        signers: dict[str, list[CryptoSigner]] = {}
        for role in TOP_ROLES:
            signers[role] = [ring.generate(role) for _ in range(root_keys if role == "root"
                                                                  else 1)]
            for signer in signers[role]:
                root.add_key(signer.public_key, role)
        root.roles["root"].threshold = root_threshold
        md = Metadata(root)
        for signer in signers["root"]:
            md.sign(signer, append=True)
        _write(meta / "1.root.json", md.to_bytes(_PRETTY))
        _write(meta / "root.json", md.to_bytes(_PRETTY))
        targets = Metadata(Targets(expires=now() + EXPIRY["targets"]))
        targets.sign(signers["targets"][0])
        _write(meta / "1.targets.json", targets.to_bytes(_PRETTY))
        snapshot = Metadata(Snapshot(expires=now() + EXPIRY["snapshot"]))
        snapshot.sign(signers["snapshot"][0])
        _write(meta / "1.snapshot.json", snapshot.to_bytes(_PRETTY))
        timestamp = Metadata(Timestamp(expires=now() + EXPIRY["timestamp"]))
        timestamp.sign(signers["timestamp"][0])
        _write(meta / "timestamp.json", timestamp.to_bytes(_PRETTY))
        return cls(path, keys, now)

    # -- reading ----------------------------------------------------------------------------

    def root(self) -> Metadata[Root]:
        versions = [int(m.group(1)) for p in self.meta.glob("*.root.json")
                    if (m := _ROOT_FILE.match(p.name))]
        return Metadata[Root].from_file(str(self.meta / f"{max(versions)}.root.json"))

    def timestamp(self) -> Metadata[Timestamp]:
        return Metadata[Timestamp].from_file(str(self.meta / "timestamp.json"))

    def snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        return Metadata[Snapshot].from_file(str(self.meta / f"{version}.snapshot.json"))

    def targets(self, role: str = "targets") -> Metadata[Targets]:
        version = self.snapshot().signed.meta[f"{role}.json"].version
        return Metadata[Targets].from_file(str(self.meta / f"{version}.{role}.json"))

    def _role_of(self, path: str) -> str:
        """The role that signs `path`: a store's delegated role if one covers it."""
        delegations = self.targets().signed.delegations
        if delegations is not None and delegations.roles:
            for role in delegations.roles.values():
                if role.is_delegated_path(path):
                    return role.name
        return "targets"

    # -- signing ----------------------------------------------------------------------------

    def _sign(self, md: Metadata, keyids: list[str], threshold: int, keys: dict[str, Key],
              what: str) -> None:
        md.signatures.clear()
        signed = 0
        for keyid in keyids:
            signer = self.keys.signer(keyid, keys[keyid])
            if signer is not None:
                md.sign(signer, append=True)
                signed += 1
        if signed < threshold:
            raise FleetError(f"signing {what} needs {threshold} of its keys; {signed} found "
                             f"in {self.keys.folder} (bring the offline keys)")

    def _sign_top(self, md: Metadata, role: str, root: Root | None = None) -> None:
        root = root or self.root().signed
        self._sign(md, root.roles[role].keyids, root.roles[role].threshold, root.keys, role)

    def _bump(self, md: Metadata, role: str, expires: timedelta | None) -> None:
        md.signed.version += 1
        md.signed.expires = self.now() + (expires if expires is not None else EXPIRY[role])

    # -- publishing -------------------------------------------------------------------------

    def _publish_targets(self, changed: dict[str, Metadata[Targets]]) -> None:
        """New versions of `changed` targets roles, then a snapshot and a timestamp."""
        top = changed.get("targets") or self.targets()
        for role, md in changed.items():
            self._bump(md, "targets", None)
            if role == "targets":
                self._sign_top(md, "targets")
            else:
                delegations = top.signed.delegations
                assert delegations is not None and delegations.roles is not None
                delegated = delegations.roles[role]
                self._sign(md, delegated.keyids, delegated.threshold, delegations.keys, role)
            _write(self.meta / f"{md.signed.version}.{role}.json", md.to_bytes(_PRETTY))
        snapshot = self.snapshot()
        for role, md in changed.items():
            snapshot.signed.meta[f"{role}.json"] = MetaFile(md.signed.version)
        self._publish_snapshot(snapshot)

    def _publish_snapshot(self, snapshot: Metadata[Snapshot],
                          expires: timedelta | None = None) -> None:
        self._bump(snapshot, "snapshot", expires)
        self._sign_top(snapshot, "snapshot")
        _write(self.meta / f"{snapshot.signed.version}.snapshot.json",
               snapshot.to_bytes(_PRETTY))
        timestamp = self.timestamp()
        timestamp.signed.snapshot_meta = MetaFile(snapshot.signed.version)
        self._publish_timestamp(timestamp)

    def _publish_timestamp(self, timestamp: Metadata[Timestamp],
                           expires: timedelta | None = None) -> None:
        self._bump(timestamp, "timestamp", expires)
        self._sign_top(timestamp, "timestamp")
        _write(self.meta / "timestamp.json", timestamp.to_bytes(_PRETTY))

    # -- the operator's verbs ---------------------------------------------------------------

    def add_target(self, path: str, data: bytes) -> str:
        """Publish `data` as target `path` (new or changed); the role that signed it."""
        problem = target_problem(path)
        if problem:
            raise FleetError(f"{path}: {problem}")
        role = self._role_of(path)
        md = self.targets(role)
        info = TargetFile.from_data(path, data, ["sha256"])
        folder, _, name = path.rpartition("/")
        stored = self.path / "targets" / folder / f"{info.hashes['sha256']}.{name}"
        _write(stored, data)
        md.signed.targets[path] = info
        self._publish_targets({role: md})
        return role

    def remove_target(self, path: str) -> None:
        role = self._role_of(path)
        md = self.targets(role)
        if md.signed.targets.pop(path, None) is None:
            raise FleetError(f"{path} is not a target of this repository")
        self._publish_targets({role: md})

    def renew_timestamp(self, expires: timedelta | None = None) -> bool:
        """A new timestamp (the timer's job); the snapshot too when it is within
        SNAPSHOT_RENEW of expiring. True if the snapshot was renewed."""
        snapshot = self.snapshot()
        if snapshot.signed.expires - self.now() < SNAPSHOT_RENEW:
            self._publish_snapshot(snapshot)
            return True
        self._publish_timestamp(self.timestamp(), expires)
        return False

    def rotate(self, role: str, old_keyid: str) -> str:
        """Replace key `old_keyid` of `role` (a top-level role, or store-<store>) with a new
        one (also how a leaked key is revoked): a new root signed by the old root's threshold
        and the new one's (for a store: new top-level targets), then `role`'s metadata signed
        again with the new key. The new key's id."""
        if role.startswith("store-"):
            return self._rotate_store(role, old_keyid)
        if role not in TOP_ROLES:
            raise FleetError(f"{role}: expected one of {', '.join(TOP_ROLES)} or "
                             "store-<store>")
        root_md = self.root()
        old_root = root_md.signed
        keyids = [k for k in old_root.roles[role].keyids if k.startswith(old_keyid)]
        if len(keyids) != 1:
            raise FleetError(f"{old_keyid}: not one key of the {role} role "
                             f"({', '.join(k[:16] for k in old_root.roles[role].keyids)})")
        new = self.keys.generate(role)
        old_keys = dict(old_root.keys)
        old_root_role = (list(old_root.roles["root"].keyids), old_root.roles["root"].threshold)
        old_root.revoke_key(keyids[0], role)
        old_root.add_key(new.public_key, role)
        self._bump(root_md, "root", None)
        # ngclient checks a new root against the old root's keys and its own: sign with both.
        root_md.signatures.clear()
        self._sign(root_md, old_root_role[0], old_root_role[1], old_keys, "root (old keys)")
        signatures = dict(root_md.signatures)
        self._sign_top(root_md, "root", old_root)
        root_md.signatures.update(signatures)
        _write(self.meta / f"{old_root.version}.root.json", root_md.to_bytes(_PRETTY))
        _write(self.meta / "root.json", root_md.to_bytes(_PRETTY))
        if role == "targets":
            self._publish_targets({"targets": self.targets()})
        elif role == "snapshot":
            self._publish_snapshot(self.snapshot())
        elif role == "timestamp":
            self._publish_timestamp(self.timestamp())
        return str(new.public_key.keyid)

    def _rotate_store(self, role: str, old_keyid: str) -> str:
        """A store's key replaced: the top-level targets (its keys needed) list the new one."""
        top = self.targets()
        delegations = top.signed.delegations
        if delegations is None or role not in (delegations.roles or {}):
            raise FleetError(f"{role}: no such store role (`kiosk fleet status` lists them)")
        assert delegations.roles is not None
        keyids = [k for k in delegations.roles[role].keyids if k.startswith(old_keyid)]
        if len(keyids) != 1:
            raise FleetError(f"{old_keyid}: not one key of the {role} role")
        new = self.keys.generate(role)
        top.signed.revoke_key(keyids[0], role)
        top.signed.add_key(new.public_key, role)
        self._publish_targets({"targets": top, role: self.targets(role)})
        return str(new.public_key.keyid)

    def delegate_store(self, store: str) -> str:
        """Give `store` a key of its own that alone signs stores/<store>.toml (moved from
        the top-level targets if it was there). The new key's id."""
        problem = name_problem(store)
        if problem:
            raise FleetError(f"{store}: {problem}")
        top = self.targets()
        name = store_role(store)
        path = f"stores/{store}.toml"
        if top.signed.delegations is None:
            top.signed.delegations = Delegations(keys={}, roles={})
        roles = top.signed.delegations.roles
        assert roles is not None
        if name in roles:
            raise FleetError(f"{store} has its own key already (role {name})")
        signer = self.keys.generate(name)
        roles[name] = DelegatedRole(name, [], 1, True, [path])
        top.signed.add_key(signer.public_key, name)
        delegated = Metadata(Targets(expires=self.now()))
        delegated.signed.version = 0  # _publish_targets makes it 1
        moved = top.signed.targets.pop(path, None)
        if moved is not None:
            delegated.signed.targets[path] = moved
        self._publish_targets({name: delegated, "targets": top})
        return str(signer.public_key.keyid)

    def status(self) -> list[str]:
        """One line per role: version, expiry, and whether enough keys are here to sign."""
        root = self.root().signed
        lines = []
        roles: list[tuple[str, Metadata, list[str], int]] = [
            ("root", self.root(), root.roles["root"].keyids, root.roles["root"].threshold),
            ("targets", self.targets(), root.roles["targets"].keyids,
             root.roles["targets"].threshold),
            ("snapshot", self.snapshot(), root.roles["snapshot"].keyids,
             root.roles["snapshot"].threshold),
            ("timestamp", self.timestamp(), root.roles["timestamp"].keyids,
             root.roles["timestamp"].threshold),
        ]
        delegations = roles[1][1].signed.delegations
        for role in (delegations.roles or {}).values() if delegations else ():
            roles.append((role.name, self.targets(role.name), role.keyids, role.threshold))
        for name, md, keyids, threshold in roles:
            here = sum(1 for k in keyids if list(self.keys.folder.glob(f"*.{k[:16]}.pem")))
            targets = getattr(md.signed, "targets", None)
            listed = f", targets: {', '.join(sorted(targets)) or 'none'}" if isinstance(
                targets, dict) else ""
            lines.append(f"{name}: version {md.signed.version}, expires "
                         f"{md.signed.expires:%Y-%m-%d %H:%M} UTC, keys here {here} of "
                         f"{len(keyids)} (threshold {threshold}){listed}")
        return lines
