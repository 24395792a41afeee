"""Remote config from the fleet's TUF repository, applied only when it is proven good.

What may be applied is decided by TUF (`kiosk.ops.tuf_client`); what is applied by the
kiosk's own rules, here. The kiosk's targets are layers, broadest first: `fleet.toml`, then
`stores/<store>.toml`, then `kiosks/<id>.toml`; each is optional and each later one's keys
win, section by section, over the local /etc/kiosk/kiosk.toml. (A layered merge rather than
a fallback to the first found: a chain sets a policy once in fleet.toml, a store or a
kiosk overrides one key of it without copying the rest.) No layer may carry [remote]
(where the config comes from and whom it trusts stays with whoever owns /etc/kiosk), and
the local file with every layer over it must validate whole. Otherwise the last good config
keeps running and the refusal is logged and counted.

Accepted configs are written atomically to the state directory with the digest of the root
file they came through. One that needs a restart is first a *trial*: if the kiosk then
fails to come up, the next start rolls back and that content is never tried again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import ssl
import stat
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import httpx

from kiosk.config import Config, ConfigError, RemoteSection, parse_config
from kiosk.config_files import parse_toml
from kiosk.ops.tuf_client import (
    KioskFetcher,
    Layer,
    RemoteConfigError,
    fetch_layers,
    root_digest,
)

log = logging.getLogger(__name__)

# --- layers and merging ----------------------------------------------------------------


def parse_layer(path: str, text: str) -> dict[str, Any]:
    """A config layer's keys: TOML tables, none of them [remote]; else `RemoteConfigError`
    ("invalid") naming the layer."""
    try:
        data = parse_toml(text, path)
    except ConfigError as exc:  # not TOML, or nested thousands deep
        raise RemoteConfigError("invalid", str(exc)) from None
    if "remote" in data:
        raise RemoteConfigError("invalid", f"{path}: a remote config cannot change [remote]; "
                                "that stays in /etc/kiosk")
    for name, table in data.items():  # `kiosk = 5` is TOML, but sets no keys of [kiosk]
        if not isinstance(table, dict):
            raise RemoteConfigError("invalid", f"{path}: {name[:40]}: expected a table "
                                    f"([{name[:40]}])")
    return data


def merge(local: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Section by section: the overlay's keys win, the local file's others stay."""
    merged = {name: dict(table) if isinstance(table, dict) else table
              for name, table in local.items()}
    for name, table in overlay.items():
        if isinstance(table, dict) and isinstance(merged.get(name), dict):
            merged[name].update(table)
        else:
            merged[name] = table
    return merged


@dataclass(frozen=True)
class RemoteConfig:
    """The layers a refresh found for this kiosk, and the repository's snapshot version."""

    version: int
    layers: tuple[Layer, ...]

    @property
    def digest(self) -> str:
        """Names the content: the same layers are the same config, whatever the version."""
        blob = json.dumps([[layer.path, layer.text] for layer in self.layers])
        return hashlib.sha256(blob.encode()).hexdigest()

    def overlay(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for layer in self.layers:
            merged = merge(merged, parse_layer(layer.path, layer.text))
        return merged

    def describe(self) -> str:
        paths = ", ".join(layer.path for layer in self.layers) or "no layers"
        return f"version {self.version} ({paths})"


def effective_config(local: dict[str, Any], remote: RemoteConfig | None) -> Config:
    """The config to run: the local file with the remote layers over it, validated whole."""
    if remote is None:
        return parse_config(local)
    try:
        return parse_config(merge(local, remote.overlay()))
    except ConfigError as exc:
        raise RemoteConfigError("invalid", f"{remote.describe()}: {exc}") from exc


# Changes the running kiosk can take without a restart: a new checker (and Diia client).
LIVE_KEYS = frozenset({"kiosk.mode", "kiosk.min_age", "kiosk.result_seconds"})
LIVE_SECTIONS = frozenset({"diia", "clock"})
RESTART_KEYS = frozenset({"diia.acquirer_token_file", "diia.auth_token_file"})  # secrets


def changed_keys(old: Config, new: Config) -> set[str]:
    changed = set()
    for section in fields(Config):
        a, b = getattr(old, section.name), getattr(new, section.name)
        for key in fields(a):
            if getattr(a, key.name) != getattr(b, key.name):
                changed.add(f"{section.name}.{key.name}")
    return changed


def needs_restart(changed: set[str]) -> bool:
    return any(
        key in RESTART_KEYS or (key not in LIVE_KEYS and key.split(".")[0] not in LIVE_SECTIONS)
        for key in changed
    )


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


# --- the state directory -----------------------------------------------------------------


class UnsafeStateDir(OSError):
    """The store's folder is not the kiosk's alone: nothing is written into it."""


def private_dir(path: Path) -> Path:
    """`path` as a folder only this user can write to (made so if missing), else raises
    `UnsafeStateDir`: a folder others can write to lets them plant links at our names."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateDir(f"{path} is not a folder (a symbolic link?)")
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeStateDir(f"{path} is writable by others than the kiosk's user")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename over, fsync the directory: a power cut leaves old or new whole.

    The temporary file gets a fresh random name created with O_EXCL (mkstemp), so a link
    planted beside ours is never followed, and rename replaces a link at `path` itself
    instead of writing through it."""
    folder = private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _fresh_meta() -> dict[str, Any]:
    return {"rejected": [], "trial_starts": 0}


def _valid_meta(raw: object) -> dict[str, Any] | None:
    """store.json as written by this module, or None when any value has the wrong type."""
    if not isinstance(raw, dict):
        return None
    meta = {**_fresh_meta(), **raw}

    def digest(value: object) -> bool:
        return isinstance(value, str) and len(value) == 64 and value.isalnum()

    rejected, starts = meta["rejected"], meta["trial_starts"]
    whole = isinstance(starts, int) and not isinstance(starts, bool) and starts >= 0
    if not (isinstance(rejected, list) and all(digest(v) for v in rejected) and whole):
        return None
    return meta


def _as_json(remote: RemoteConfig, root: str) -> str:
    layers = [{"path": layer.path, "text": layer.text} for layer in remote.layers]
    return json.dumps({"root": root, "version": remote.version, "layers": layers})


def _from_json(text: str, root: str) -> RemoteConfig:
    """A stored config, if written by this module through the same root; else ValueError."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("root") != root:
        raise ValueError("it came through another trusted root (remote.root_file changed)")
    version, layers = data.get("version"), data.get("layers")
    if not (isinstance(version, int) and isinstance(layers, list) and all(
            isinstance(item, dict) and isinstance(item.get("path"), str)
            and isinstance(item.get("text"), str) for item in layers)):
        raise ValueError("values of the wrong types")
    remote = RemoteConfig(version, tuple(Layer(i["path"], i["text"]) for i in layers))
    remote.overlay()  # the layers still read as layers (RemoteConfigError otherwise)
    return remote


class ConfigStore:
    """Accepted remote configs in `directory` (the state directory's remote/).

    `accepted.json` is the last good one; `trial.json` one waiting to prove it can start;
    `store.json` remembers configs (by digest) that failed to start and whether the trial
    had its try; `tuf/` is ngclient's cache of verified metadata (its rollback memory).
    Stored configs carry the digest of the root file they came through: a new
    `remote.root_file` (another repository) disowns them.
    """

    def __init__(self, directory: str | Path, root: bytes) -> None:
        self.dir = Path(directory)  # created on the first write, never by a read
        self.root = root
        self._root_digest = root_digest(root)
        self.rolled_back: RemoteConfig | None = None  # the trial this start rolled back

    @property
    def _accepted(self) -> Path:
        return self.dir / "accepted.json"

    @property
    def _trial(self) -> Path:
        return self.dir / "trial.json"

    @property
    def tuf_cache(self) -> Path:
        return private_dir(self.dir / "tuf")

    def _meta(self) -> dict[str, Any]:
        """The bookkeeping; a missing, unreadable or mistyped store.json counts as none
        (logged), so a damaged state file never stops the kiosk from starting."""
        path = self.dir / "store.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _fresh_meta()
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("%s unreadable (%s): starting its bookkeeping afresh", path,
                        type(exc).__name__)
            return _fresh_meta()
        meta = _valid_meta(raw)
        if meta is None:
            log.warning("%s holds values of the wrong types: starting its bookkeeping afresh",
                        path)
            return _fresh_meta()
        return meta

    def _save_meta(self, meta: dict[str, Any]) -> None:
        write_atomic(self.dir / "store.json", json.dumps(meta))

    def _read(self, path: Path) -> RemoteConfig | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # a folder, no permission, not UTF-8
            log.warning("stored remote config %s ignored: unreadable (%s)", path.name,
                        type(exc).__name__)
            return None
        try:
            return _from_json(text, self._root_digest)
        except RecursionError:
            log.warning("stored remote config %s ignored: nested too deeply", path.name)
        except (ValueError, RemoteConfigError) as exc:
            log.warning("stored remote config %s ignored: %s", path.name, exc)
        return None

    @staticmethod
    def _remove(path: Path) -> None:
        """Gone, or logged: a folder planted at a file's name must not stop every start."""
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove %s (%s): ignored", path, type(exc).__name__)

    def accepted(self) -> RemoteConfig | None:
        return self._read(self._accepted)

    def is_rejected(self, remote: RemoteConfig) -> bool:
        return remote.digest in self._meta().get("rejected", [])

    def accept(self, remote: RemoteConfig) -> None:
        write_atomic(self._accepted, _as_json(remote, self._root_digest))

    def stage_trial(self, remote: RemoteConfig) -> None:
        meta = self._meta()
        meta["trial_starts"] = 0
        self._save_meta(meta)
        write_atomic(self._trial, _as_json(remote, self._root_digest))

    def begin_start(self) -> RemoteConfig | None:
        """The remote config this start runs with: a trial gets exactly one start; a trial
        still here at the next start did not come up, so it is rolled back and its content
        is never tried again. With no room to note the trial's start it waits (the last
        good config runs), so a full disk never becomes a crash loop."""
        trial = self._read(self._trial)
        if trial is None:
            self._remove(self._trial)
            return self.accepted()
        meta = self._meta()
        try:
            if meta.get("trial_starts", 0) >= 1:
                self._reject(trial, meta)
                good = self.accepted()
                log.error("remote config %s did not start: rolled back to %s",
                          trial.describe(), good.describe() if good else "the local file")
                return good
            meta["trial_starts"] = 1
            self._save_meta(meta)
        except OSError as exc:
            log.error("cannot note the trial of remote config %s (%s): running the last "
                      "good config until the state directory can be written",
                      trial.describe(), exc.strerror or type(exc).__name__)
            return self.accepted()
        return trial

    def _reject(self, trial: RemoteConfig, meta: dict[str, Any]) -> None:
        meta["rejected"] = sorted({*meta.get("rejected", []), trial.digest})[-64:]
        meta["trial_starts"] = 0
        self._save_meta(meta)
        self._remove(self._trial)
        self.rolled_back = trial

    def reject_trial(self, trial: RemoteConfig) -> None:
        """The trial cannot even be read into a config: never try it again."""
        self._reject(trial, self._meta())

    def confirm_start(self) -> bool:
        """The kiosk came up: a trial becomes the accepted config. True if there was one."""
        if not self._trial.is_file() or self._trial.is_symlink():
            return False
        os.replace(self._trial, self._accepted)
        meta = self._meta()
        meta["trial_starts"] = 0
        self._save_meta(meta)
        return True


# --- fetching ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A fetched config TUF verified and that validates: ready to apply."""

    remote: RemoteConfig
    config: Config


class RemoteConfigPoller:
    """Refreshes from the TUF repository at start and every `interval_s` on its own thread.

    Verification and validation happen on that thread too; the main loop only `take()`s a
    ready `Candidate`. Each refusal is handed to `on_reject(reason)` (metrics) and logged
    (once while the same reason repeats). `last_rejection` is the latest refresh's reason for
    refusing, or None; `served_version` the snapshot version it last saw.
    """

    def __init__(
        self,
        settings: RemoteSection,
        local: dict[str, Any],
        store: ConfigStore,
        *,
        paths: tuple[str, ...],
        running: Callable[[], RemoteConfig | None],
        on_reject: Callable[[str], None] = lambda reason: None,
        ssl_context: ssl.SSLContext | None = None,
        cache: Path | None = None,
        clock_trusted: Callable[[], bool] = lambda: True,
    ) -> None:
        self._settings = settings
        self._local = local
        self._store = store
        self._paths = paths
        self._running = running
        self._on_reject = on_reject
        self._cache = cache
        self._clock_trusted = clock_trusted
        self._waiting_for_clock = False
        self._fetcher = KioskFetcher(
            settings, ssl_context or httpx.create_ssl_context(trust_env=True))
        self._lock = threading.Lock()
        self._ready: Candidate | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_rejection: str | None = None
        self.served_version: int | None = None
        self.fetches = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="remote-config", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.fetch_once()
            self._stop.wait(self._settings.interval_s)

    def fetch_once(self) -> Candidate | None:
        """One refresh; the candidate if it is to be applied (also kept for `take()`). None
        at once while the clock is not trusted: TUF's expiry checks read it, and a clock
        behind would hide a freeze, one ahead would refuse every honest repository."""
        if not self._clock_trusted():
            if not self._waiting_for_clock:
                log.warning("remote config: not asking the repository until the clock is "
                            "trusted (TUF's expiry checks need it)")
            self._waiting_for_clock = True
            return None
        self._waiting_for_clock = False
        try:
            candidate = self._fetch()
        except RemoteConfigError as exc:
            self._refused(exc)
            return None
        except Exception as exc:  # a bug here must never take the kiosk down
            log.error("remote config fetch failed: %s", type(exc).__name__)
            log.debug("remote config fetch failed", exc_info=True)
            return None
        finally:
            self.fetches += 1
        if self.last_rejection is not None:
            log.info("remote config: the repository answers again (%s before)",
                     self.last_rejection)
        self.last_rejection = None
        if candidate is not None:
            with self._lock:
                self._ready = candidate
        return candidate

    def _refused(self, exc: RemoteConfigError) -> None:
        running = self._running()
        keeping = running.describe() if running else "the local file"
        again = exc.reason == self.last_rejection
        log.log(logging.DEBUG if again else logging.WARNING,
                "remote config refused (%s): %s; keeping %s", exc.reason, exc, keeping)
        self.last_rejection = exc.reason
        self._on_reject(exc.reason)

    def _fetch(self) -> Candidate | None:
        try:
            cache = self._cache or self._store.tuf_cache
        except OSError as exc:
            raise RemoteConfigError("disk_full" if is_disk_full(exc) else "state",
                                    f"{exc.strerror or type(exc).__name__}") from None
        fetched = fetch_layers(self._settings, self._fetcher, self._store.root, cache,
                               self._paths)
        self.served_version = fetched.version
        remote = RemoteConfig(fetched.version, fetched.layers)
        running = self._running()
        if running is not None and (running.version, running.digest) == (
                remote.version, remote.digest):
            return None  # the usual case: nothing new
        if running is None and not remote.layers:
            return None  # nothing served for this kiosk, nothing running
        if self._store.is_rejected(remote):
            raise RemoteConfigError("failed_start", f"{remote.describe()} failed to start "
                                    "before")
        return Candidate(remote, effective_config(self._local, remote))

    def take(self) -> Candidate | None:
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._settings.timeout_s + 1)
