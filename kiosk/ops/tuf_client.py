"""The kiosk as a client of the fleet's TUF repository (python-tuf's ngclient).

`fetch_layers` runs one TUF refresh against `remote.url` (root, timestamp, snapshot,
targets, any store delegation) from the trusted root in `remote.root_file`, then fetches
this kiosk's config targets: `fleet.toml`, `stores/<store>.toml`, `kiosks/<id>.toml`, each
optional. Expiry, rollback, mix-and-match, thresholds and key rotation are ngclient's to
decide; this module only maps its verdicts to the kiosk's rejection reasons.

Every byte comes through `KioskFetcher`, the kiosk's own transport (`WallTransport`): https,
or plain http to loopback only with `remote.allow_http_loopback`; one wall-clock deadline
for the whole refresh; each file capped at the length its signed metadata (or ngclient's
configured maximum) allows, before it is read whole; no redirects.
"""

from __future__ import annotations

import errno
import hashlib
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO

import httpx
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, Snapshot
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

import kiosk
from kiosk.config import ConfigError, RemoteSection
from kiosk.diia.transport import AnswerTooLarge, WallTransport, environment_proxy
from kiosk.diia.url_rule import url_problem

MAX_TARGET_BYTES = 256 * 1024  # a config layer is a few KiB; a target declaring more is refused

# Metadata sizes ngclient will read at most (its defaults are for software repositories).
UPDATER_CONFIG = UpdaterConfig(
    max_root_rotations=32,
    root_max_length=64 * 1024,
    timestamp_max_length=16 * 1024,
    snapshot_max_length=1024 * 1024,
    targets_max_length=4 * 1024 * 1024,  # one line per kiosk: ~10,000 kiosks
    app_user_agent=f"diia-kiosk/{kiosk.__version__}",
)

# Why a fetched config was refused: the `reason` label of kiosk_config_rejected_total.
REJECT_REASONS = (
    "unreachable",  # no answer, an HTTP error, too slow (ngclient's DownloadError)
    "expired",  # timestamp, snapshot, targets or root past its expiry: a freeze
    "rollback",  # a version older than one already seen (or a snapshot not the one named)
    "bad_signature",  # below its role's threshold of trusted keys
    "mismatch",  # a file whose length or hash is not what signed metadata says
    "bad_metadata",  # metadata that does not parse or is inconsistent
    "too_large",  # a config target declared larger than MAX_TARGET_BYTES
    "invalid",  # a layer, or the merged config, does not validate
    "failed_start",  # this config was tried and the kiosk did not come up with it
    "disk_full",  # the state directory has no room for it: kept for when space returns
    "state",  # the state directory cannot be written for another reason
)


class RemoteConfigError(Exception):
    """A remote config refused; `reason` is one of `REJECT_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def layer_paths(kiosk_id: str, store: str) -> tuple[str, ...]:
    """This kiosk's targets, broadest first: each later one's keys win (see remote_config)."""
    return ("fleet.toml", *((f"stores/{store}.toml",) if store else ()),
            f"kiosks/{kiosk_id}.toml")


@dataclass(frozen=True)
class Layer:
    """One config target as the repository signed it."""

    path: str
    text: str


@dataclass(frozen=True)
class Fetched:
    """One refresh: the snapshot version it saw and the layers present in it."""

    version: int
    layers: tuple[Layer, ...]


# --- the transport ngclient uses -----------------------------------------------------------


class KioskFetcher(FetcherInterface):
    """ngclient's network seam on the kiosk's `WallTransport`.

    ngclient calls `download_file(url, max_length)` (and `download_bytes`, built on it) with
    the length signed metadata allows, or its configured maximum when none is signed; that
    length becomes the transport's cap, so a huge answer is refused by its declared length
    or at the first byte over it, never read whole. All requests of one refresh share one
    deadline (`start`)."""

    def __init__(self, settings: RemoteSection, ssl_context: ssl.SSLContext) -> None:
        self._settings = settings
        self._ssl = ssl_context
        self._deadline = 0.0

    def start(self) -> None:
        self._deadline = time.monotonic() + self._settings.timeout_s

    def _fetch(self, url: str) -> Iterator[bytes]:
        return iter((self._get(url, UPDATER_CONFIG.targets_max_length),))

    @contextmanager
    def download_file(self, url: str, max_length: int) -> Iterator[IO[bytes]]:
        yield BytesIO(self._get(url, max_length))

    def _get(self, url: str, max_length: int) -> bytes:
        problem = url_problem(url, allow_http_loopback=self._settings.allow_http_loopback)
        if problem:
            raise tuf_errors.DownloadError(f"refused to fetch: {problem}")
        transport = WallTransport(ssl_context=self._ssl, proxy=environment_proxy(url),
                                  timeout_s=self._settings.timeout_s, max_bytes=max_length)
        headers = {"User-Agent": UPDATER_CONFIG.app_user_agent or ""}
        try:
            with httpx.Client(transport=transport, follow_redirects=False,
                              headers=headers) as client:
                response = client.get(url, extensions={"deadline": self._deadline})
        except AnswerTooLarge:
            raise tuf_errors.DownloadLengthMismatchError(
                f"more than the {max_length} bytes signed metadata allows") from None
        except httpx.TimeoutException:
            raise tuf_errors.SlowRetrievalError("deadline reached") from None
        except httpx.HTTPError as exc:
            raise tuf_errors.DownloadError(f"cannot fetch: {type(exc).__name__}") from None
        if response.status_code != 200:  # 404 ends ngclient's search for a newer root
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status_code}",
                                               response.status_code)
        return response.content


# --- one refresh ---------------------------------------------------------------------------


def _reason(exc: Exception) -> str:
    """ngclient's (or the file system's) verdict as a rejection reason."""
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return "expired"
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return "rollback"
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return "bad_signature"
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError | tuf_errors.
                  DownloadLengthMismatchError):
        return "mismatch"
    if isinstance(exc, tuf_errors.DownloadError):
        return "unreachable"
    if isinstance(exc, OSError):
        return "disk_full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "state"
    return "bad_metadata"  # any other RepositoryError


def fetch_layers(settings: RemoteSection, fetcher: KioskFetcher, root: bytes, cache: Path,
                 paths: tuple[str, ...]) -> Fetched:
    """One refresh from the trusted `root`; ngclient keeps what it verified in `cache` (its
    rollback memory). Raises `RemoteConfigError` with the reason for any refusal."""
    base = settings.url.rstrip("/")
    fetcher.start()
    try:
        updater = Updater(str(cache), f"{base}/metadata/", str(cache / "targets"),
                          f"{base}/targets/", fetcher, UPDATER_CONFIG, bootstrap=root)
        updater.refresh()
        snapshot = Metadata[Snapshot].from_file(str(cache / "snapshot.json")).signed
        layers = []
        for path in paths:
            info = updater.get_targetinfo(path)
            if info is None:
                continue
            if info.length > MAX_TARGET_BYTES:
                raise RemoteConfigError("too_large", f"{path} is signed as {info.length} "
                                        f"bytes; a config is at most {MAX_TARGET_BYTES}")
            local = updater.find_cached_target(info) or updater.download_target(info)
            data = Path(local).read_bytes()
            try:
                layers.append(Layer(path, data.decode("utf-8")))
            except UnicodeDecodeError:
                raise RemoteConfigError("invalid", f"{path} is not UTF-8") from None
    except RemoteConfigError:
        raise
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, OSError) as exc:
        reason = _reason(exc)
        detail = (exc.strerror or type(exc).__name__) if isinstance(exc, OSError) else (
            f"{type(exc).__name__}: {exc}")
        raise RemoteConfigError(reason, detail) from None
    return Fetched(snapshot.version, tuple(layers))


def load_root(path: str) -> bytes:
    """The trusted root file's bytes, if it is TUF root metadata; else a ConfigError naming
    remote.root_file (it is installed with the kiosk: without it nothing can be trusted)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError("remote.root_file", f"cannot read {path}: "
                          f"{exc.strerror or type(exc).__name__} (the fleet's root.json, "
                          "from `kiosk fleet init`; the playbook installs it)") from None
    try:
        is_root = isinstance(Metadata.from_bytes(data).signed, Root)
    except tuf_errors.RepositoryError:  # ngclient's DeserializationError, whatever the cause
        is_root = False
    if not is_root:
        raise ConfigError("remote.root_file", f"{path} is not TUF root metadata")
    return data


def root_digest(root: bytes) -> str:
    """Names the trust anchor a stored config came through (a new root file disowns it)."""
    return hashlib.sha256(root).hexdigest()
