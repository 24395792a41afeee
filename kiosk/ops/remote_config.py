"""Signed remote config: fetched over HTTPS, applied only when it is proven good.

The file format and its signature are in `kiosk.ops.signing`. Its keys override the local
/etc/kiosk/kiosk.toml section by section; it may not carry a [remote] section (who signs
and where it comes from stays with whoever owns /etc/kiosk). A fetched file is applied only
if the signature verifies with `remote.public_key`, its `version` is newer than the running
one (no rollback), and the local file merged with it validates whole. Otherwise the last
good config keeps running and the refusal is logged and counted. Accepted files are written
atomically to the state directory. One that needs a restart is first a *trial*: if the
kiosk then fails to come up, the next start rolls back.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import httpx

import kiosk
from kiosk.config import Config, ConfigError, RemoteSection, parse_config
from kiosk.diia.transport import WallTransport, environment_proxy
from kiosk.ops.signing import RemoteConfigError, SignedConfig, verify_text

log = logging.getLogger(__name__)

# --- merging with the local file ---------------------------------------------------------


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


def effective_config(local: dict[str, Any], signed: SignedConfig | None) -> Config:
    """The config to run: the local file with the remote one over it, validated whole."""
    if signed is None:
        return parse_config(local)
    try:
        return parse_config(merge(local, signed.overlay))
    except ConfigError as exc:
        raise RemoteConfigError("invalid", f"version {signed.version}: {exc}") from exc


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

    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    rejected, starts = meta["rejected"], meta["trial_starts"]
    if not (isinstance(rejected, list) and all(whole(v) for v in rejected) and whole(starts)):
        return None
    return meta


class ConfigStore:
    """Accepted remote configs in `directory` (the state directory's remote/).

    `accepted.toml` is the last good one; `trial.toml` one waiting to prove it can start;
    `store.json` remembers versions that failed to start and whether the trial had its try.
    Files are re-verified when read, so a changed public key disowns old ones.
    """

    def __init__(self, directory: str | Path, public_key: str) -> None:
        self.dir = Path(directory)  # created on the first write, never by a read
        self._public_key = public_key
        self.rolled_back: int | None = None  # the version this start rolled back, if any

    @property
    def _accepted(self) -> Path:
        return self.dir / "accepted.toml"

    @property
    def _trial(self) -> Path:
        return self.dir / "trial.toml"

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

    def _read(self, path: Path) -> SignedConfig | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # a folder, no permission, not UTF-8
            log.warning("stored remote config %s ignored: unreadable (%s)", path.name,
                        type(exc).__name__)
            return None
        try:
            return verify_text(text, self._public_key)
        except RemoteConfigError as exc:
            log.warning("stored remote config %s ignored: %s", path.name, exc)
            return None

    @staticmethod
    def _remove(path: Path) -> None:
        """Gone, or logged: a folder planted at a file's name must not stop every start."""
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot remove %s (%s): ignored", path, type(exc).__name__)

    def accepted(self) -> SignedConfig | None:
        return self._read(self._accepted)

    def is_rejected(self, version: int) -> bool:
        return version in self._meta().get("rejected", [])

    def accept(self, signed: SignedConfig) -> None:
        write_atomic(self._accepted, signed.text)

    def stage_trial(self, signed: SignedConfig) -> None:
        meta = self._meta()
        meta["trial_starts"] = 0
        self._save_meta(meta)
        write_atomic(self._trial, signed.text)

    def begin_start(self) -> SignedConfig | None:
        """The remote config this start runs with: a trial gets exactly one start; a trial
        still here at the next start did not come up, so it is rolled back and its version
        is never tried again."""
        trial = self._read(self._trial)
        if trial is None:
            self._remove(self._trial)
            return self.accepted()
        meta = self._meta()
        if meta.get("trial_starts", 0) >= 1:
            meta["rejected"] = sorted({*meta.get("rejected", []), trial.version})
            meta["trial_starts"] = 0
            self._save_meta(meta)
            self._remove(self._trial)
            self.rolled_back = trial.version
            good = self.accepted()
            log.error("remote config version %d did not start: rolled back to %s",
                      trial.version, f"version {good.version}" if good else "the local file")
            return good
        meta["trial_starts"] = 1
        self._save_meta(meta)
        return trial

    def reject_trial(self, version: int) -> None:
        """The trial cannot even be read into a config: never try it again."""
        meta = self._meta()
        meta["rejected"] = sorted({*meta.get("rejected", []), version})
        meta["trial_starts"] = 0
        self._save_meta(meta)
        self._remove(self._trial)
        self.rolled_back = version

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
    """A fetched config that verified, is newer and validates: ready to apply."""

    signed: SignedConfig
    config: Config


MAX_REMOTE_CONFIG_BYTES = 256 * 1024  # a signed config is a few KiB


class RemoteConfigPoller:
    """Fetches `settings.url` at start and every `interval_s` on its own thread.

    Verification and validation happen on that thread too; the main loop only `take()`s a
    ready `Candidate`. Each refusal is logged and handed to `on_reject(reason)` (metrics).
    `last_rejection` is the reason the latest fetch was refused, or None.
    """

    def __init__(
        self,
        settings: RemoteSection,
        local: dict[str, Any],
        store: ConfigStore,
        *,
        running_version: Callable[[], int],
        on_reject: Callable[[str], None] = lambda reason: None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._local = local
        self._store = store
        self._running_version = running_version
        self._on_reject = on_reject
        if transport is None:  # one wall-clock deadline per fetch, and a size cap
            transport = WallTransport(
                ssl_context=httpx.create_ssl_context(trust_env=True),
                proxy=environment_proxy(settings.url) if settings.url else None,
                timeout_s=settings.timeout_s,
                max_bytes=MAX_REMOTE_CONFIG_BYTES,
            )
        self._http = httpx.Client(
            timeout=settings.timeout_s,
            headers={"User-Agent": f"diia-kiosk/{kiosk.__version__}"},
            follow_redirects=False,  # the signed file lives at the configured URL, nowhere else
            transport=transport,
        )
        self._lock = threading.Lock()
        self._ready: Candidate | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_rejection: str | None = None
        self.fetches = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="remote-config", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.fetch_once()
            self._stop.wait(self._settings.interval_s)

    def fetch_once(self) -> Candidate | None:
        """One fetch; the candidate if it is to be applied (also kept for `take()`)."""
        try:
            candidate = self._fetch()
        except RemoteConfigError as exc:
            self.last_rejection = exc.reason
            log.warning("remote config refused (%s): %s; keeping version %d",
                        exc.reason, exc, self._running_version())
            self._on_reject(exc.reason)
            return None
        except Exception as exc:  # a bug here must never take the kiosk down
            log.error("remote config fetch failed: %s", type(exc).__name__)
            log.debug("remote config fetch failed", exc_info=True)
            return None
        finally:
            self.fetches += 1
        self.last_rejection = None
        if candidate is not None:
            with self._lock:
                self._ready = candidate
        return candidate

    def _fetch(self) -> Candidate | None:
        try:
            response = self._http.get(self._settings.url)
        except httpx.HTTPError as exc:
            raise RemoteConfigError("unreachable", f"cannot fetch: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise RemoteConfigError("unreachable", f"HTTP {response.status_code}")
        signed = verify_text(response.text, self._settings.public_key)
        running = self._running_version()
        if signed.version == running:
            return None  # the usual case: nothing new
        if signed.version < running:
            raise RemoteConfigError(
                "not_newer", f"version {signed.version} is older than the running {running}"
            )
        if self._store.is_rejected(signed.version):
            raise RemoteConfigError(
                "failed_start", f"version {signed.version} failed to start before"
            )
        return Candidate(signed, effective_config(self._local, signed))

    def take(self) -> Candidate | None:
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._settings.timeout_s + 1)
        self._http.close()
