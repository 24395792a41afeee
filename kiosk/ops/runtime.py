"""The appliance around the kiosk: which config runs, and the housekeeping of its loop.

`Operations.start` picks the config (the local file, with the last accepted remote config
over it) and builds what the appliance needs besides checking codes: the systemd notifier,
the metrics, clock trust, the power reader, the audit log, the remote-config poller.
`attach` hooks it to a built appliance and says READY; from then on `Housekeeping` is the
kiosk's heartbeat, called once per loop turn on the main thread: it feeds the watchdog,
and about once a second updates the fault banners, the metrics and the STATUS line, and
applies a new remote config when the kiosk is idle (live, or by a restart).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from kiosk.config import Config, ConfigError, parse_config
from kiosk.config_files import check_paths, read_toml
from kiosk.model import Fault, Phase
from kiosk.ops.audit import open_audit_log
from kiosk.ops.clock import ClockTrust
from kiosk.ops.metrics import Metrics, MetricsServer, MetricsSignals, TimedDecoder, serve_metrics
from kiosk.ops.power import PowerReader
from kiosk.ops.reach import DiiaReach
from kiosk.ops.remote_config import (
    Candidate,
    ConfigStore,
    RemoteConfig,
    RemoteConfigPoller,
    changed_keys,
    effective_config,
    is_disk_full,
    needs_restart,
)
from kiosk.ops.systemd import LoopWatchdog, Notifier, watchdog_period
from kiosk.ops.tuf_client import RemoteConfigError, layer_paths, load_root

if TYPE_CHECKING:
    from kiosk.app import Kiosk
    from kiosk.diia.client import DiiaClient
    from kiosk.signals import Signals

log = logging.getLogger(__name__)


class Parts(Protocol):
    """What the housekeeping tends: the parts `kiosk.bootstrap` built, the live Diia client
    among them (a reload swaps it there), and how they take a new config live."""

    kiosk: Kiosk
    client: DiiaClient | None

    def reconfigure(self, config: Config) -> None: ...


HOUSEKEEPING_S = 1.0  # banners, gauges and config checks: once a second is plenty
STUCK_GRACE_S = 30.0  # past a check's own deadline by this much, it is stuck
SETTLE_S = 30.0  # a trial config that ran this long without dying is accepted
MY_FAULTS = frozenset({Fault.CLOCK, Fault.CONFIG, Fault.CONFIG_STALE, Fault.NETWORK,
                       Fault.STORAGE})  # others: other parts
STORAGE_REASONS = frozenset({"disk_full", "state"})  # said once while they last
QUIET_REASONS = frozenset({"unreachable", "expired"}) | STORAGE_REASONS  # their own banners


class RestartRequested(Exception):
    """A new config needs a fresh process; systemd (Restart=always) starts it again."""


def stop_on_signals(kiosk: Kiosk) -> None:
    """SIGTERM (systemd's stop), SIGINT (Ctrl-C) and SIGHUP each end the run cleanly, exit
    0: no further code is taken, and a check in flight finishes, its verdict reaching every
    output (events, audit log, the till, LEDs and screen) before the outputs close. A second
    signal changes nothing: a Diia check ends within its deadline. SIGHUP (`systemctl kill
    -s HUP kiosk`, a closed terminal) is a restart under systemd: Restart=always starts the
    kiosk again at once, reading its config afresh."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        kiosk.stop(signal.Signals(signum).name)  # logged by the loop, not in the handler

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)


def state_directory(setting: str, environ: MutableMapping[str, str]) -> Path | None:
    """`kiosk.state_dir`, else systemd's $STATE_DIRECTORY (its first entry), else None."""
    chosen = setting or environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(chosen) if chosen else None


def kiosk_identity(config: Config) -> tuple[str, str]:
    """(id, store): `kiosk.id`, else the host name; a host name that cannot name a target
    is a config error asking for kiosk.id."""
    from kiosk.config import name_problem

    kiosk_id = config.kiosk.id or socket.gethostname()
    problem = name_problem(kiosk_id)
    if problem:
        raise ConfigError("kiosk.id", f"the host name {kiosk_id[:64]!r} cannot name this "
                          f"kiosk's config ({problem}): set kiosk.id")
    return kiosk_id, config.kiosk.store


class Operations:
    """Everything the appliance does besides checking codes; see the module docstring."""

    def __init__(
        self,
        config: Config,
        *,
        local: dict[str, Any] | None = None,
        remote: RemoteConfig | None = None,
        store: ConfigStore | None = None,
        state_dir: Path | None = None,
        environ: MutableMapping[str, str] | None = None,
        sysfs: str | Path = "/sys",
        kernel_synced: Callable[[], bool | None] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self.config = config
        self.remote = remote  # the remote config running, None = the local file alone
        self.store = store
        self.state_dir = state_dir
        self._local = local if local is not None else {}
        self._kernel_synced = kernel_synced
        self.notifier = Notifier.from_environ(environ)
        self.watchdog_period = watchdog_period(environ)
        self.metrics = Metrics()
        self.metrics.config_version.set(self.version)
        if store is not None and store.rolled_back is not None:
            self.metrics.config_rejected.labels("failed_start").inc()
        self.storage_failing = False  # writing an accepted config failed (a full disk)
        self.storage_failed_at = 0  # the poller's fetch count when it did
        self._storage_said = False
        self.power = PowerReader(sysfs)
        self.clock = self._clock_trust(config)
        self.reach = DiiaReach()
        self._probing = False
        self.poller: RemoteConfigPoller | None = None
        self.server: MetricsServer | None = None
        self.housekeeping: Housekeeping | None = None
        self._parts: Parts | None = None  # attached: the one holder of the live client

    @classmethod
    def start(
        cls,
        path: Path,
        environ: MutableMapping[str, str] | None = None,
        *,
        read_only: bool = False,
        **kwargs: Any,
    ) -> Operations:
        """The config this start runs with; a ConfigError only for the local file.
        `read_only` (for `kiosk doctor`): the accepted config, no trial bookkeeping."""
        environ = os.environ if environ is None else environ
        local = read_toml(path)  # read once: the config, and the base a remote one overlays
        config = parse_config(local)
        check_paths(config)
        state_dir = state_directory(config.kiosk.state_dir, environ)
        if not config.remote.url:
            return cls(config, local=local, state_dir=state_dir, environ=environ, **kwargs)
        if state_dir is None:
            raise ConfigError("remote.url", "needs a state directory: set kiosk.state_dir, or "
                              "run under systemd with StateDirectory=")
        kiosk_identity(config)  # a host name that cannot name a target stops here
        store = ConfigStore(state_dir / "remote", load_root(config.remote.root_file))
        remote = store.accepted() if read_only else store.begin_start()
        running = None
        while remote is not None:
            try:
                config = effective_config(local, remote)
                running = remote
                break
            except RemoteConfigError as exc:  # e.g. the local file changed under it
                log.error("stored remote config refused: %s; using the local file", exc)
                if read_only:
                    break
                with contextlib.suppress(OSError):  # no room to note it: refused again next time
                    store.reject_trial(remote)
                remote = None if remote == store.accepted() else store.accepted()
        if running is not None:
            log.info("running remote config %s over %s", running.describe(), path)
        return cls(config, local=local, remote=running, store=store, state_dir=state_dir,
                   environ=environ, **kwargs)

    @property
    def version(self) -> int:
        """The repository's snapshot version the running remote config came with; 0 = none."""
        return self.remote.version if self.remote is not None else 0

    # -- pieces for the composition root --------------------------------------------------

    def _clock_trust(self, config: Config) -> ClockTrust:
        c = config.clock
        extra = {"kernel_synced": self._kernel_synced} if self._kernel_synced else {}
        return ClockTrust(required=c.require_sync, sync_file=c.sync_file,
                          max_offset_s=c.max_offset_s, server_offset=self._server_offset,
                          **extra)

    @property
    def _client(self) -> Any:
        return self._parts.client if self._parts is not None else None

    def _server_offset(self) -> float | None:
        return self._client.server_clock_offset_s if self._client is not None else None

    def observe_exchange(self, exchange: Any) -> None:
        """The Diia client's `on_exchange`: timings for the metrics, answers for the reach."""
        self.metrics.observe_exchange(exchange)
        self.reach.observe(exchange)

    @property
    def probing(self) -> bool:
        return self._probing

    def probe_diia(self) -> bool:
        """Try a login on a thread of its own (it may take the whole deadline); False when
        one is under way or there is no client to ask."""
        if self._probing or self._client is None:
            return False
        self._probing = True
        threading.Thread(target=self._probe, name="diia-probe", daemon=True).start()
        return True

    def _probe(self) -> None:
        try:
            self._client.login()
        except Exception as exc:  # the reach heard the exchange; the banner says the rest
            log.info("Diia still unreachable: %s", exc)
        finally:
            self._probing = False

    def clock_trusted(self) -> bool:
        """The checker's seam: asked after each Diia answer."""
        return self.clock.trusted()

    def wrap_decoder(self, decoder: Any) -> Any:
        return TimedDecoder(decoder, self.metrics)

    def signals(self) -> list[Signals]:
        """Outputs of our own: the metrics, and the audit log when there is a state dir."""
        out: list[Signals] = [MetricsSignals(self.metrics)]
        audit = self.config.audit
        if audit.path != "off":
            path = Path(audit.path)
            if not path.is_absolute():
                if self.state_dir is None:
                    log.info("no state directory: no audit log (kiosk.state_dir)")
                    return out
                path = self.state_dir / path
            out.append(open_audit_log(path, max_bytes=audit.max_bytes,
                                      keep_days=audit.keep_days,
                                      clock_trusted=self.clock_trusted))
        return out

    # -- running --------------------------------------------------------------------------

    def attach(
        self, parts: Parts, *, every_s: float = HOUSEKEEPING_S
    ) -> None:
        """Hook the housekeeping into the kiosk's loop, start the side services, say READY."""
        self._parts = parts
        self.housekeeping = Housekeeping(self, parts, every_s=every_s)
        self.server = serve_metrics(self.metrics, self.config.metrics.port)
        if self.config.remote.url and self.store is not None:
            self.poller = self.new_poller()
            self.poller.start()
        if not self.clock.trusted():
            # Diia's Date header can vouch for the clock: ask now, not at the first customer.
            threading.Thread(target=self._warm_up, name="diia-warm-up", daemon=True).start()
        self.housekeeping.update(ready=True)

    def new_poller(self, cache: Path | None = None,
                   clock_trusted: Callable[[], bool] | None = None) -> RemoteConfigPoller:
        """The remote config's poller; `cache` instead of the store's own TUF cache and
        `clock_trusted` instead of this clock's (for `kiosk doctor`, which must leave the
        kiosk's state as it found it and has judged the clock itself)."""
        assert self.store is not None
        return RemoteConfigPoller(
            self.config.remote, self._local, self.store,
            paths=layer_paths(*kiosk_identity(self.config)),
            running=lambda: self.remote, on_reject=self.count_rejection, cache=cache,
            clock_trusted=clock_trusted or self.clock_trusted,
        )

    def count_rejection(self, reason: str) -> None:
        """kiosk_config_rejected_total; a full (or unwritable) state directory counts once
        until it is written again."""
        if reason in STORAGE_REASONS:
            if self._storage_said:
                return
            self._storage_said = True
        self.metrics.config_rejected.labels(reason).inc()

    def storage_written(self) -> None:
        """The state directory took a write again: a later failure is said again."""
        if self._storage_said:
            log.info("the state directory takes writes again")
        self.storage_failing = self._storage_said = False

    def storage_failed(self, exc: OSError, what: str) -> None:
        """A write to the state directory failed: keep running on what runs, say so once.
        The poller offers the config again at its next refresh."""
        reason = "disk_full" if is_disk_full(exc) else "state"
        if not self.storage_failing:
            log.error("cannot store %s (%s): keeping %s until the state directory takes it",
                      what, exc.strerror or type(exc).__name__,
                      self.remote.describe() if self.remote else "the local file")
        self.storage_failing = True
        self.storage_failed_at = self.poller.fetches if self.poller is not None else 0
        self.count_rejection(reason)

    def heartbeat(self) -> None:
        """The loop's heartbeat (bootstrap hands it to the kiosk): the housekeeping, once
        `attach` has started it."""
        if self.housekeeping is not None:
            self.housekeeping()

    def _warm_up(self) -> None:
        try:
            self._client.login()
        except Exception as exc:  # the first scan will try again; the banner says why
            log.info("Diia warm-up login failed: %s", exc)

    def apply(self, parts: Parts, candidate: Candidate) -> None:
        """Run `candidate` now: live when only the checker's settings changed, else by a
        restart with it as a trial (rolled back at the next start if that start fails).
        It is stored first: with no room to store it, nothing changes (see storage_failed)."""
        assert self.store is not None
        changed = changed_keys(self.config, candidate.config)
        remote = candidate.remote
        restart = needs_restart(changed)
        try:
            (self.store.stage_trial if restart else self.store.accept)(remote)
        except OSError as exc:
            self.storage_failed(exc, f"remote config {remote.describe()}")
            return
        self.storage_written()
        if restart:
            self.notifier.stopping(f"restarting for config version {remote.version}")
            raise RestartRequested(f"config {remote.describe()} changes "
                                   f"{', '.join(sorted(changed))}: restarting")
        if changed:
            self._apply_live(parts, candidate.config)
        self.config, self.remote = candidate.config, remote
        self.metrics.config_version.set(remote.version)
        log.info("config %s applied without a restart (%s)", remote.describe(),
                 ", ".join(sorted(changed)) or "no effective change")

    def _apply_live(self, parts: Parts, new: Config) -> None:
        if new.clock != self.config.clock:
            self.clock = self._clock_trust(new)
        parts.reconfigure(new)  # the composition root builds; the loop takes the checker

    def close(self, status: str = "") -> None:
        self.notifier.stopping(status)
        if self.poller is not None:
            self.poller.close()
        if self.server is not None:
            self.server.close()
        self.notifier.close()


class Housekeeping:
    """The kiosk's heartbeat (see the module docstring); runs on the main loop only."""

    def __init__(
        self,
        ops: Operations,
        parts: Parts,
        *,
        clock: Callable[[], float] = time.monotonic,
        every_s: float = HOUSEKEEPING_S,
        settle_s: float = SETTLE_S,
    ) -> None:
        self._ops = ops
        self._parts = parts
        self._clock = clock
        self._every_s = every_s
        self._settle_s = settle_s
        self._started = clock()
        self._last = float("-inf")
        self._last_probe = float("-inf")
        self._status = ""
        self._pending: Candidate | None = None
        self._confirmed = False
        self.watchdog = LoopWatchdog(ops.notifier, ops.watchdog_period, healthy=self.healthy,
                                     clock=clock)

    def __call__(self) -> None:
        self.watchdog()
        now = self._clock()
        if now - self._last >= self._every_s:
            self._last = now
            self.update()

    def healthy(self) -> bool:
        """False when a check is stuck far past any deadline: then systemd restarts us."""
        deadline = self._parts.kiosk.check_deadline  # its own: a share's includes its wait
        if deadline is not None and self._clock() > deadline + STUCK_GRACE_S:
            log.error("a check has run %.0f s past its deadline: no more watchdog pings",
                      STUCK_GRACE_S)
            return False
        return True

    def update(self, ready: bool = False) -> None:
        """Banners, gauges, a pending config, the STATUS line (with READY=1 the first time)."""
        ops, kiosk = self._ops, self._parts.kiosk
        clock = ops.clock.state()
        ops.metrics.clock_trusted.set(1 if clock.trusted else 0)
        if clock.diia_offset_s is not None:
            ops.metrics.clock_offset.set(clock.diia_offset_s)
        flags = ops.power.read()
        if flags is not None:
            ops.metrics.observe_power(flags)
        mine = set()
        if not clock.trusted:
            mine.add(Fault.CLOCK)
        if ops.reach.unreachable():
            mine.add(Fault.NETWORK)
        now = self._clock()
        due = ops.reach.doubtful() and now - self._last_probe >= ops.reach.after_s
        if due and ops.probe_diia():  # the banner comes and goes without waiting for a customer
            self._last_probe = now
        self._remote_config()
        poller = ops.poller
        refused = poller.last_rejection if poller is not None else None
        if refused is not None and refused not in QUIET_REASONS:
            mine.add(Fault.CONFIG)
        if refused == "expired":  # kept running on the last good config; staff should know
            mine.add(Fault.CONFIG_STALE)
        if ops.storage_failing or refused in STORAGE_REASONS:
            mine.add(Fault.STORAGE)
        for fault in MY_FAULTS:
            if (fault in mine) != (fault in kiosk.state.faults):
                kiosk.set_fault(fault, fault in mine)
        ops.metrics.set_faults((kiosk.state.faults - MY_FAULTS) | mine)
        status = self.status_line()
        if ready:
            self._status = status
            ops.notifier.ready(status)
        elif status != self._status:
            self._status = status
            ops.notifier.status(status)

    def _remote_config(self) -> None:
        """Confirm a trial that has settled; apply a fetched config while idle."""
        ops, kiosk, poller = self._ops, self._parts.kiosk, self._ops.poller
        if not self._confirmed and self._clock() - self._started >= self._settle_s:
            self._confirmed = True
            try:
                if ops.store is not None and ops.store.confirm_start():
                    log.info("config version %d has run %.0f s: accepted", ops.version,
                             self._settle_s)
            except OSError as exc:  # at worst the next start counts the trial as failed
                ops.storage_failed(exc, "that the trial config came up")
        if poller is None:
            return
        if poller.last_rejection is None and poller.fetches > ops.storage_failed_at:
            ops.storage_written()  # a refresh since the failed write found nothing to refuse
        self._pending = poller.take() or self._pending
        if self._pending is not None and kiosk.state.phase in (Phase.IDLE, Phase.READING):
            candidate, self._pending = self._pending, None
            ops.apply(self._parts, candidate)

    def status_line(self) -> str:
        """What `systemctl status kiosk` shows: the gist, in one line a person reads."""
        ops, kiosk = self._ops, self._parts.kiosk
        config = ops.config
        parts = [f"mode {config.kiosk.mode}", f"source {config.source.kind}",
                 f"config v{ops.version}" if ops.version else "local config"]
        clock = ops.clock.state()
        parts.append(f"clock {clock.source}" if clock.trusted else "CLOCK NOT TRUSTED")
        problems = sorted(str(f) for f in kiosk.state.faults - {Fault.CLOCK})
        if problems:
            parts.append("faults: " + ", ".join(problems))
        parts.append(kiosk.verdicts_said)
        return "; ".join(parts)

