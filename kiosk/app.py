"""The loop's shell: threads, the clock, the outputs; the rules live in `kiosk.loop`.

`Kiosk.run` waits on one queue, its inbox: a scanner's readings, a fault, an online
share's link, a check's result and a wake-up for a staff or till command all arrive there,
and the loop blocks on it until one does or the next thing is due (a verdict leaving, an
arming lapsing, the screen's next frame while it animates, the housekeeping's beat). Each
turn it takes what came in, feeds each to `kiosk.loop.step` as a plain value, and carries
out the effects it returns: start a check, show a state on every output, record a verdict,
tell the till. A camera's frames are pulled, one a turn, only while the kiosk rests; while
it checks or shows a verdict it pulls none and a scanner's scans wait their turn (a phone
still held afterwards is the same presentation).

The Diia call runs on a worker thread so that the screen keeps animating and the watchdog
keeps being fed while it is in flight; the checker never raises, so nothing here has to
guess what a failure means.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from kiosk.checking.checker import Checker
from kiosk.decoding.confirm import Confirmation
from kiosk.decoding.reads import Decoder
from kiosk.loop import (
    ArmCheck,
    CancelCheck,
    Checked,
    CheckStatus,
    CheckUpdate,
    Effect,
    FaultChanged,
    Input,
    LoopState,
    OfferLink,
    Reading,
    Record,
    Rules,
    Show,
    Staff,
    StartCheck,
    StartOffer,
    Tick,
    TillPort,
    start,
    step,
)
from kiosk.model import CheckTerms, CodeKind, Fault, Phase, Reason, State, Verdict
from kiosk.outputs import Outputs
from kiosk.signals import TICK_S, Signals
from kiosk.sources import CodeSource, FrameSource
from kiosk.staff import StaffInput

log = logging.getLogger(__name__)


def frame_readings(
    frames: FrameSource, decoder: Decoder, confirmation: Confirmation | None = None
) -> Iterator[Reading]:
    confirmation = confirmation or Confirmation()
    failed: set[str] = set()  # each kind of decoder failure logged once, not per frame
    for frame in frames.frames():
        if frame is None:  # no frame (the camera is away): the loop still ticks
            yield Reading([], [], time.monotonic())
            continue
        try:
            codes = decoder.decode(frame)
        except Exception as exc:  # a frame no decoder takes is a frame without a code
            if type(exc).__name__ not in failed:
                failed.add(type(exc).__name__)
                log.warning("decoder failed on a %s frame (%s): read as empty",
                            "x".join(map(str, frame.pixels.shape[1::-1])), type(exc).__name__)
            codes = []
        yield Reading(codes, confirmation.feed(codes), frame.timestamp)


def scanner_readings(source: CodeSource) -> Iterator[Reading]:
    """A scanner or keypad decodes by itself: every code it gives is a fresh presentation."""
    for code in source.codes():
        yield Reading([code], [code], time.monotonic())


@runtime_checkable
class OfferChecker(Protocol):
    """A checker that can also run an online share (the till's checker)."""

    def offer(self, terms: CheckTerms, show: Callable[[str], None],
              stop: threading.Event) -> Verdict: ...


_WAKE = object()  # on the inbox: turn now (a command was handed over elsewhere)


def _still(state: State) -> bool:
    return False


IDLE_WAKE_S = 0.5  # at rest, nothing due: the housekeeping and the watchdog's beat


@dataclass(frozen=True, slots=True)
class SourceEnded:
    """A pushed source (a scanner, stdin) has ended, or failed with `error`."""

    error: Exception | None = None


def push_readings(readings: Iterable[Reading], inbox: queue.SimpleQueue[Any]) -> None:
    """A source that blocks until the next scan (a scanner, stdin), read on a thread of its
    own: each reading goes to the loop's one queue, then its end (or its error, raised on
    the loop's thread)."""
    try:
        for reading in readings:
            inbox.put(reading)
    except Exception as exc:  # handed to the loop, which crashes as it would have
        inbox.put(SourceEnded(exc))
    else:
        inbox.put(SourceEnded())


class Kiosk:
    """Runs readings through the checker and fans each state out to every output.

    `attended=True` needs `staff`: a code is checked only within `arm_seconds` of staff
    arming the kiosk, and each verdict stays until staff acknowledge it (`result_seconds`
    does not apply). `require_arming=True`: a code is checked only while the till (`till`)
    or staff armed a check. Built by `kiosk.bootstrap` only.
    """

    def __init__(
        self,
        readings: Iterable[Reading],
        checker: Checker,
        signals: Sequence[Signals],
        *,
        result_seconds: float = 3.0,
        gone_frames: int = 8,
        heartbeat: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        attended: bool = False,
        staff: StaffInput | None = None,
        arm_seconds: float = 120.0,
        require_arming: bool = False,
        push_readings: bool = False,
        heartbeat_s: float = IDLE_WAKE_S,
        check_seconds: float = 30.0,
        share_seconds: float = 150.0,
        end_waits: threading.Event | None = None,
        inbox: queue.SimpleQueue[Any] | None = None,
        till: TillPort | None = None,
        on_output_error: Callable[[str, str], None] | None = None,
    ) -> None:
        if attended and staff is None:
            raise ValueError("attended mode needs a staff input to arm and acknowledge")
        self.readings = readings
        self.checker = checker
        self.signals = list(signals)
        self.rules = Rules(result_seconds=result_seconds, gone_frames=gone_frames,
                           attended=attended, require_arming=require_arming,
                           arm_seconds=arm_seconds, check_seconds=check_seconds,
                           share_seconds=share_seconds)
        self.heartbeat = heartbeat
        self.clock = clock
        self.sleep = sleep
        self.staff = staff
        self.till = till
        self._outputs = Outputs(self.signals, on_output_error, clock=clock)
        self._loop = LoopState(shown=State(Phase.IDLE, since=clock()))
        # Inputs from other threads (a camera's fault, an online share's link, ...).
        self._inbox = inbox if inbox is not None else queue.SimpleQueue()
        self._check: tuple[Future[Verdict], StartCheck | StartOffer] | None = None
        self._check_began = 0.0  # when the check in flight left the queue for the checker
        self._offer_stops: dict[str, threading.Event] = {}  # online shares in flight
        self._stop_reason = ""  # set by `stop`: the run ends once nothing is in flight
        self._stop_told = False
        # Set once the kiosk stops: a share waiting for its holder ends at once (the
        # checker built with the same event waits on it).
        self._end_waits = end_waits or threading.Event()
        # A scanner's readings come on the inbox (pushed); a camera's are pulled, one a frame.
        self._pushed = push_readings
        self._heartbeat_s = min(heartbeat_s, IDLE_WAKE_S)  # the longest wait between beats
        self._ended = False  # the pushed source ended
        self._held: deque[Reading] = deque()  # pushed while the loop takes no readings
        self._waits = sleep is time.sleep  # no test's clock: block on the inbox itself

    # -- what others may read or hand in ------------------------------------------------

    @property
    def state(self) -> State:
        """What the outputs show now."""
        return self._loop.shown

    @property
    def check_deadline(self) -> float | None:
        """The time (the loop's clock) by which the check in flight is over, or stuck; None
        with no check in flight. A share's deadline includes waiting for its holder."""
        return self._loop.check_until

    @property
    def verdicts(self) -> int:
        return self._loop.verdicts

    @property
    def verdicts_said(self) -> str:
        """"1 verdict", "42 verdicts": for the logs and systemd's status line."""
        count = self._loop.verdicts
        return f"{count} verdict" if count == 1 else f"{count} verdicts"

    @property
    def attended(self) -> bool:
        return self.rules.attended

    @property
    def arm_seconds(self) -> float:
        return self.rules.arm_seconds

    def use_checker(self, checker: Checker, *, result_seconds: float | None = None) -> None:
        """A live config change: the next check goes to `checker` (called between checks,
        on the loop's thread, by the heartbeat)."""
        self.checker = checker
        if result_seconds is not None:
            self.rules = replace(self.rules, result_seconds=result_seconds)

    def set_fault(self, fault: Fault, active: bool) -> None:
        """One part's fault (camera lost / back, clock, ...); from any thread."""
        self.submit(FaultChanged(fault, active, self.clock()))

    def submit(self, event: Input) -> None:
        """Hand the loop an input from any thread; it is taken at the next turn."""
        self._inbox.put(event)

    def stop(self, reason: str) -> None:
        """End `run` soon, from any thread or a signal handler: no further code is taken, a
        check in flight finishes (a Diia check within its deadline) and its verdict reaches
        every output first; online shares in flight are stopped."""
        self._stop_reason = self._stop_reason or reason

    @property
    def stopping(self) -> bool:
        return bool(self._stop_reason)

    def close_outputs(self) -> None:
        self._outputs.close()

    # -- the shell ----------------------------------------------------------------------

    def run(self) -> None:
        """Until the readings end (an image folder, stdin); a camera never ends. Between
        frames (or, with a scanner, all the time) the loop blocks on its one queue: a
        reading, a till or staff command, a check's result or a fault wakes it, else the
        next thing due (a verdict leaving, an arming lapsing, the screen's next frame, the
        housekeeping's beat)."""
        self._loop, effects = start(self.rules, self.clock(), self._loop.shown.faults)
        readings = iter(self.readings)
        if self._pushed:
            threading.Thread(target=push_readings, args=(readings, self._inbox),
                             name="source", daemon=True).start()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="check") as pool:
            try:
                self._perform(effects, pool)
                while True:
                    self._turn(pool)
                    if self._stop_reason and self._stopped():
                        return
                    if (self._ended and not self._held and self._loop.wants_readings
                            and self._check is None):
                        return
                    if self._loop.wants_readings and not self._pushed:
                        reading = next(readings, None)
                        if reading is None:
                            return
                        self._feed_reading(reading, pool)
                    else:
                        self._wait(pool)
            finally:  # before the pool waits for its worker: a waiting share ends now
                self._end_waits.set()
                for stop in self._offer_stops.values():
                    stop.set()

    def _stopped(self) -> bool:
        """On a stop: whether nothing is in flight any more. Said once, when first asked."""
        if not self._stop_told:
            self._stop_told = True
            log.info("stopping (%s)%s", self._stop_reason,
                     ": the check in flight finishes first" if self._check else "")
            self._end_waits.set()  # a share waiting for its holder: amber now, not in minutes
            for stop in self._offer_stops.values():
                stop.set()
        return self._check is None

    def wake(self) -> None:
        """Something was handed over outside the inbox (a till or staff command): turn now.
        From any thread."""
        self._inbox.put(_WAKE)

    def _turn(self, pool: ThreadPoolExecutor) -> None:
        """Everything but the pulled readings: the check's result, inputs from elsewhere,
        the time, the outputs' beat."""
        now = self.clock()
        while True:
            try:
                self._take(self._inbox.get_nowait(), pool)
            except queue.Empty:
                break
        while self._held and self._loop.wants_readings:  # a scan waits while a check runs
            self._feed_reading(self._held.popleft(), pool)
        if self.staff is not None:
            for command in self.staff.take():
                self._feed(Staff(command, now), pool)
        if self.till is not None:
            for order in self._take_from_till():
                self._feed(replace(order, at=now), pool)
        self._feed(Tick(now), pool)
        self._outputs.tick(now)
        self._mark_failing_outputs(pool)
        self.heartbeat()
        # Last: an input taken this turn came before the verdict (a press while Diia was
        # asked is a press during the check).
        if self._check is not None and self._check[0].done():
            self._collect_check(pool)

    def _take(self, item: Any, pool: ThreadPoolExecutor) -> None:
        if item is _WAKE:
            return
        if isinstance(item, SourceEnded):
            if item.error is not None:
                raise item.error
            self._ended = True
        elif isinstance(item, Reading):
            self._held.append(item)  # taken in turn, when the loop takes readings again
        else:
            self._feed(item, pool)

    def _wait(self, pool: ThreadPoolExecutor) -> None:
        """Block until the next input, or the next thing due."""
        if self._check is not None and self._check[0].done():
            return
        if self._held and self._loop.wants_readings:
            return
        timeout = self._due_in()
        if not self._waits:  # a test's clock: its `sleep` moves it, one tick at most
            if self._check is not None:
                wait_for([self._check[0]], timeout=TICK_S)
            elif self._inbox.empty():
                self.sleep(min(timeout, TICK_S))
            return
        try:
            item = self._inbox.get(timeout=timeout)
        except queue.Empty:
            return
        self._take(item, pool)

    def _due_in(self) -> float:
        """Seconds until something is due without an input: an animated frame, a verdict
        leaving, an arming lapsing, else the housekeeping's beat."""
        loop, now = self._loop, self.clock()
        if any(getattr(s, "animates", _still)(loop.shown) for s in self.signals):
            return TICK_S
        due = [loop.result_until, loop.armed.until if loop.armed else None]
        left = [max(0.0, at - now) for at in due if at is not None]
        return min([self._heartbeat_s, *left])

    def _take_from_till(self) -> list[ArmCheck | CancelCheck | Staff]:
        assert self.till is not None
        try:
            return list(self.till.take())
        except Exception:  # the till's API is an outside party: it must not end the loop
            log.exception("the till's commands could not be taken")
            return []

    def _collect_check(self, pool: ThreadPoolExecutor) -> None:
        assert self._check is not None
        future, started = self._check
        self._check = None
        verdict = future.result()
        if isinstance(started, StartOffer):
            self._offer_stops.pop(started.terms.id, None)
            total_ms = (self.clock() - started.at) * 1000
            verdict = replace(verdict, ms={**verdict.ms, "total": round(total_ms, 1)})
        else:
            total_ms = (self.clock() - started.read_at) * 1000
            # A code read while the kiosk was busy (a verdict on screen, another check) waits:
            # its own stage, so that "total" is not taken for the checker's time. A frame's
            # time is when it was taken, so its decode is already counted in "decode".
            waited_ms = (self._check_began - started.read_at) * 1000
            queue_ms = max(0.0, waited_ms - started.code.decode_ms)
            verdict = replace(verdict, ms={"decode": round(started.code.decode_ms, 1),
                                           "queue": round(queue_ms, 1),
                                           **verdict.ms, "total": round(total_ms, 1)})
        self._feed(Checked(verdict, self.clock()), pool)

    def _feed_reading(self, reading: Reading, pool: ThreadPoolExecutor) -> None:
        self._feed(reading, pool)
        if self.rules.gone_frames == 0 and reading.confirmed and self._loop.unsent:
            # A scan is not held up like a phone: unless armed now, it is gone.
            log.info("a code was scanned while the kiosk was not armed: not checked "
                     "(arm first, then scan again)")

    def _feed(self, event: Input, pool: ThreadPoolExecutor) -> None:
        self._loop, effects = step(self._loop, event, self.rules)
        self._perform(effects, pool)

    def _perform(self, effects: list[Effect], pool: ThreadPoolExecutor) -> None:
        for effect in effects:
            if isinstance(effect, Show):
                self._outputs.show(effect.state)
                self._mark_failing_outputs(pool)
            elif isinstance(effect, StartCheck):
                args = (effect.code,) if effect.terms is None else (effect.code, effect.terms)
                self._check_began = self.clock()
                self._check = (pool.submit(self.checker.check, *args), effect)
                self._check[0].add_done_callback(lambda _: self.wake())
            elif isinstance(effect, StartOffer):
                stop = self._offer_stops[effect.terms.id] = threading.Event()
                self._check = (pool.submit(self._offer, effect.terms, stop), effect)
                self._check[0].add_done_callback(lambda _: self.wake())
            elif isinstance(effect, Record):
                log.debug("verdict %s (%s)", effect.verdict.outcome, effect.verdict.reason)
                self._tell_till(effect)
            elif isinstance(effect, CheckUpdate):
                if effect.status is CheckStatus.CANCELLED and effect.id in self._offer_stops:
                    self._offer_stops[effect.id].set()
                self._tell_till(effect)

    def _offer(self, terms: CheckTerms, stop: threading.Event) -> Verdict:
        """An online share, on the worker thread: each deeplink goes back to the loop."""
        if not isinstance(self.checker, OfferChecker):  # the till refuses it without one
            return Verdict(Reason.BAD_REQUEST, "share_online", CodeKind.QR, "")

        def show(deeplink: str) -> None:
            self.submit(OfferLink(terms.id, deeplink, self.clock()))

        return self.checker.offer(terms, show, stop)

    def _tell_till(self, effect: CheckUpdate | Record) -> None:
        if self.till is None:
            return
        try:
            self.till.report(effect)
        except Exception:  # as with any output: the loop goes on
            log.exception("the till could not be told of %s", type(effect).__name__)

    def _mark_failing_outputs(self, pool: ThreadPoolExecutor) -> None:
        """A failing output raises the banner on the others; a recovered one clears it."""
        failing = self._outputs.failing
        if failing != (Fault.OUTPUT in self._loop.shown.faults):
            self._feed(FaultChanged(Fault.OUTPUT, failing, self.clock()), pool)
