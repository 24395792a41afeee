"""Health in numbers: a Prometheus endpoint on loopback, fed by the loop.

`Metrics` holds one private registry (never the library's global one, so tests and two
kiosks in one process don't collide), with the client's process collector on it (CPU,
memory, open files, start time: a restart loop shows as a changing
`process_start_time_seconds`). The loop feeds it three ways: `MetricsSignals` is a `Signals`
that counts each verdict shown; `TimedDecoder` and `counted_readings` wrap the decoder and
the readings to time frames; the housekeeping sets the gauges (clock, config, power flags,
faults). The Diia client reports each HTTP exchange to `observe_exchange`.

Labels never carry a code, a code id or anything personal: outcome, reason, stage, call.
Rates are left to the query (`rate(kiosk_frames_total[1m])` is the frame rate): a gauge
averaged here would be averaged again by whoever scrapes it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from socketserver import TCPServer, ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import prometheus_client
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    make_wsgi_app,
)

import kiosk
from kiosk.model import RESULT_PHASES, Fault, Frame, Reason, State, Verdict
from kiosk.ops.power import PowerFlags

log = logging.getLogger(__name__)

# A `_created` sample beside each counter and histogram series would double the series the
# centre stores, for a start time `process_start_time_seconds` already says once. The switch
# is process-wide and came with prometheus-client 0.17 (Bookworm's apt build is 0.16).
if hasattr(prometheus_client, "disable_created_metrics"):
    prometheus_client.disable_created_metrics()

STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DECODE_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64)


class Metrics:
    """Every number the kiosk exports; thread-safe (prometheus-client's own locks)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, process: bool = True) -> None:
        """`process=False` leaves out the process collector: for many simulated kiosks in
        one process (bench/fleet.py), where it would report the same process each time."""
        self.registry = r = CollectorRegistry(auto_describe=True)
        if process:
            ProcessCollector(registry=r)
        self.verdicts = Counter("kiosk_verdicts", "Verdicts shown, by outcome and reason",
                                ["outcome", "reason", "cached"], registry=r)
        self.stage_seconds = Histogram("kiosk_stage_seconds",
                                       "Time per verdict stage: decode, queue, diia, total",
                                       ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.decode_seconds = Histogram("kiosk_decode_seconds", "Decoder time per frame",
                                        buckets=DECODE_BUCKETS, registry=r)
        self.frames = Counter("kiosk_frames", "Frames read from the camera or images",
                              registry=r)
        self.diia_errors = Counter("kiosk_diia_errors",
                                   "Verdicts left unknown because Diia could not answer",
                                   ["reason"], registry=r)
        self.diia_requests = Histogram("kiosk_diia_request_seconds",
                                       "Diia HTTP requests by call", ["call"],
                                       buckets=STAGE_BUCKETS, registry=r)
        self.diia_logins = Counter("kiosk_diia_logins",
                                   "Successful Diia logins (session token renewals)", registry=r)
        self.config_version = Gauge("kiosk_config_version",
                                    "Version of the remote config running; 0 = local file only",
                                    registry=r)
        self.config_rejected = Counter("kiosk_config_rejected",
                                       "Remote configs refused, by reason", ["reason"],
                                       registry=r)
        self.clock_trusted = Gauge("kiosk_clock_trusted",
                                   "1 when NTP or Diia vouches for the clock", registry=r)
        self.clock_offset = Gauge("kiosk_clock_diia_offset_seconds",
                                  "Diia's clock minus ours, from its last Date header",
                                  registry=r)
        self.power_now = Gauge("kiosk_power_flag",
                               "Pi power/thermal flag active now (get_throttled bits 0-3)",
                               ["flag"], registry=r)
        self.power_seen = Gauge("kiosk_power_flag_seen",
                                "Pi power/thermal flag seen since the kiosk started",
                                ["flag"], registry=r)
        # A dip lasts milliseconds and a Pi with hwmon never reports under-voltage "now":
        # the centre needs a count it can take the increase of, not a gauge it may miss.
        self.power_polls = Counter("kiosk_power_flag_polls",
                                   "Polls (about one a second) that found the flag active now, "
                                   "or under-voltage within the last ~2 s", ["flag"],
                                   registry=r)
        self.output_errors = Counter("kiosk_output_errors",
                                     "Failures of an output (events, screen, LEDs, audit log)",
                                     ["output", "error"], registry=r)
        self.faults = Gauge("kiosk_fault", "Fault banner shown (1) or not (0)", ["fault"],
                            registry=r)
        for fault in Fault:
            self.faults.labels(str(fault)).set(0)
        # Every verdict the kiosk can give, at 0 from the start: a counter born at 1 on its
        # first verdict would hide that verdict from rate() and increase() at the centre.
        for reason in Reason:
            self.verdicts.labels(str(reason.outcome), str(reason), "false")
            if reason.diia_failed:
                self.diia_errors.labels(str(reason))
        started = clock()
        uptime = Gauge("kiosk_uptime_seconds", "Seconds since the kiosk started", registry=r)
        uptime.set_function(lambda: clock() - started)
        info = Gauge("kiosk_build_info", "Always 1; the kiosk's software version as a label",
                     ["version"], registry=r)
        info.labels(kiosk.__version__).set(1)

    # -- fed by the loop ------------------------------------------------------------------

    def observe_verdict(self, verdict: Verdict) -> None:
        cached = "true" if verdict.cached else "false"
        self.verdicts.labels(str(verdict.outcome), str(verdict.reason), cached).inc()
        for stage, ms in verdict.ms.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)
        if verdict.reason.diia_failed and not verdict.cached:
            self.diia_errors.labels(str(verdict.reason)).inc()

    def observe_output_error(self, output: str, error: str) -> None:
        """An output (`Signals`) raised: which one, and the exception's class name."""
        self.output_errors.labels(output, error).inc()

    def observe_frame(self, decode_s: float | None = None) -> None:
        self.frames.inc()
        if decode_s is not None:
            self.decode_seconds.observe(decode_s)

    def observe_exchange(self, exchange: Any) -> None:
        """The Diia client's `on_exchange` hook: `.call`, `.status`, `.ms`."""
        self.diia_requests.labels(exchange.call).observe(exchange.ms / 1000)
        if exchange.call == "login" and exchange.status == 200:
            self.diia_logins.inc()

    def observe_power(self, flags: PowerFlags) -> None:
        """One poll of the Pi's power flags (the housekeeping's, about once a second)."""
        for name, on in flags.now.items():
            self.power_now.labels(name).set(1 if on else 0)
            self.power_seen.labels(name).set(1 if flags.seen[name] else 0)
            hit = on or (name == "under_voltage" and flags.recent_under_voltage)
            self.power_polls.labels(name).inc(1 if hit else 0)  # 0: the series exists at 0

    def set_faults(self, faults: Iterable[Fault]) -> None:
        shown = set(faults)
        for fault in Fault:
            self.faults.labels(str(fault)).set(1 if fault in shown else 0)


class MetricsSignals:
    """A `Signals` that counts each verdict once, when it is shown."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._last: Verdict | None = None

    def show(self, state: State) -> None:
        self._metrics.set_faults(state.faults)
        verdict = state.verdict
        if verdict is None or state.phase not in RESULT_PHASES.values() or verdict is self._last:
            return
        self._last = verdict
        self._metrics.observe_verdict(verdict)

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass


class TimedDecoder:
    """Wraps a `Decoder`: each frame's decode time goes to the metrics."""

    def __init__(self, decoder: Any, metrics: Metrics) -> None:
        self._decoder = decoder
        self._metrics = metrics

    def decode(self, frame: Frame) -> list:
        started = time.perf_counter()
        try:
            return self._decoder.decode(frame)
        finally:
            self._metrics.observe_frame(time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:  # anything else the decoder offers
        return getattr(self._decoder, name)


def counted_readings(readings: Iterable[Any], metrics: Metrics) -> Iterator[Any]:
    """Readings passed through, each counted as a frame (for scanner sources: a read)."""
    for reading in readings:
        metrics.observe_frame()
        yield reading


CLIENT_IDLE_S = 2.0  # one read or write of a scrape may wait this long
CLIENT_DEADLINE_S = 5.0  # a whole connection, however it trickles
MAX_CLIENTS = 16  # connections served at once; more are closed at once (the scrape retries)


class _QuietHandler(WSGIRequestHandler):
    timeout = CLIENT_IDLE_S  # StreamRequestHandler puts it on the socket

    def log_message(self, format: str, *args: Any) -> None:  # a scrape is not news
        pass


class _ThreadedWSGIServer(ThreadingMixIn, WSGIServer):
    """Each connection on its own daemon thread, so an idle or slow client never holds up
    a scrape, the loop or the exit. Connections are capped in number, and the serving
    thread cuts any past `CLIENT_DEADLINE_S` (between its polls: `service_actions`)."""

    daemon_threads = True
    block_on_close = False  # closing never waits for a client

    def __init__(self, address: tuple[str, int], handler: type[WSGIRequestHandler]) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks the resolver for our own name (getfqdn): a resolver
        # that hangs would hold up the start. The name is the address we bound.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        with self._lock:
            self._deadlines[request] = time.monotonic() + CLIENT_DEADLINE_S
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._forget(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._forget(request)

    def _forget(self, request: socket.socket) -> None:
        with self._lock:
            known = self._deadlines.pop(request, None) is not None
        if known:
            self._slots.release()

    def service_actions(self) -> None:
        now = time.monotonic()
        with self._lock:
            late = [sock for sock, due in self._deadlines.items() if due < now]
        self._cut(late)

    def cut_all(self) -> None:
        with self._lock:
            clients = list(self._deadlines)
        self._cut(clients)

    @staticmethod
    def _cut(clients: list[socket.socket]) -> None:
        for sock in clients:  # the handler's next read or write fails; its thread ends
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver's default prints a traceback to stderr for every client that
        # timed out or hung up: not news either.
        log.debug("metrics client %s gone", client_address, exc_info=True)


class MetricsServer:
    """`GET /metrics` on 127.0.0.1:`port` (0 = any free port; see `.port`), on a thread.

    Never blocks the kiosk: connections are served on threads of their own with a deadline,
    and `close()` returns at once, cutting whoever is still connected."""

    def __init__(self, metrics: Metrics, port: int) -> None:
        self._server = _ThreadedWSGIServer(("127.0.0.1", port), _QuietHandler)
        self._server.set_app(make_wsgi_app(registry=metrics.registry))
        self.port = self._server.server_port
        self._thread = threading.Thread(  # a short poll: close() returns promptly
            target=self._server.serve_forever, args=(0.1,), name="metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()  # the serving thread only polls and accepts: prompt
        self._server.cut_all()
        self._server.server_close()
        self._thread.join(2)


def serve_metrics(metrics: Metrics, port: int) -> MetricsServer | None:
    """The endpoint, or None (logged) when the port is taken: health is not worth a crash."""
    if port == 0:
        return None
    try:
        server = MetricsServer(metrics, port)
    except OSError as exc:
        log.error("no metrics endpoint on 127.0.0.1:%d: %s", port, exc.strerror)
        return None
    log.info("metrics on http://127.0.0.1:%d/metrics", server.port)
    return server
