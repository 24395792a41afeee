"""The loop and its state machine: idle → reading → checking → pass | fail | unknown → idle.

Attended mode (age checks) puts staff in the loop:

    attended_wait ──staff arms──▶ idle → reading → checking → pass | fail | unknown
         ▲    ▲                    │ arming expires                 │ held on screen
         │    └────────────────────┘                                │
         └────────────────────── staff acknowledge ◀────────────────┘

A code shown while nobody has armed the kiosk is not sent; if it is still held up when
staff arm, it is checked then. Each arming allows one check.

The loop only moves values between seams. The Diia call runs on a worker thread so that the
screen keeps animating and the watchdog keeps being fed while it is in flight; the checker
never raises, so nothing here has to guess what a failure means.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace

from kiosk.checker import Checker
from kiosk.decode import Confirmation, Decoder
from kiosk.model import RESULT_PHASES, Code, Fault, Phase, State, Verdict
from kiosk.outputs import Outputs
from kiosk.signals import Signals
from kiosk.sources import CodeSource, FrameSource
from kiosk.staff import StaffCommand, StaffInput

log = logging.getLogger(__name__)

TICK_S = 1 / 30  # screen animation and watchdog cadence while waiting
STAFF_SETTLE_S = 1.0  # a button press this soon after the last one is a bounce or a slip
_ARMING = (StaffCommand.PRESS, StaffCommand.ARM)
_ACKNOWLEDGING = (StaffCommand.PRESS, StaffCommand.ACKNOWLEDGE)


@dataclass(frozen=True, slots=True)
class Reading:
    """What one frame (or one scanner read) gave: all Diia codes seen, and those confirmed."""

    seen: list[Code]
    confirmed: list[Code]
    at: float  # monotonic time the frame was taken or the code typed


def frame_readings(
    frames: FrameSource, decoder: Decoder, confirmation: Confirmation | None = None
) -> Iterator[Reading]:
    confirmation = confirmation or Confirmation()
    for frame in frames.frames():
        if frame is None:  # no frame (the camera is away): the loop still ticks
            yield Reading([], [], time.monotonic())
            continue
        codes = decoder.decode(frame)
        yield Reading(codes, confirmation.feed(codes), frame.timestamp)


def scanner_readings(source: CodeSource) -> Iterator[Reading]:
    """A scanner or keypad decodes by itself: every code it gives is a fresh presentation."""
    for code in source.codes():
        yield Reading([code], [code], time.monotonic())


_SOURCE_ENDED = object()


def paced_readings(readings: Iterable[Reading], idle_s: float = TICK_S) -> Iterator[Reading]:
    """Readings from a source that blocks until the next scan (a scanner, stdin), with an
    empty reading every `idle_s` while none comes. The loop keeps turning while the kiosk
    waits for a customer, so the screen animates and the systemd watchdog stays fed; the
    watchdog itself is still fed only by the loop. The source is read on its own thread; its
    end and its errors come out here, on the loop's."""
    items: queue.Queue[object] = queue.Queue(maxsize=16)

    def pump() -> None:
        try:
            for reading in readings:
                items.put(reading)
        except Exception as exc:  # handed to the loop, which crashes as it would have
            items.put(exc)
        else:
            items.put(_SOURCE_ENDED)

    threading.Thread(target=pump, name="source", daemon=True).start()
    while True:
        try:
            item = items.get(timeout=idle_s)
        except queue.Empty:
            yield Reading([], [], time.monotonic())
            continue
        if item is _SOURCE_ENDED:
            return
        if isinstance(item, Exception):
            raise item
        yield item  # type: ignore[misc]  # a Reading


class InView:
    """Which codes are being held in front of the camera right now.

    A code counts as gone once `gone_frames` frames in a row have not seen it. Frames are
    counted, not seconds, because the loop stops pulling frames while it checks and shows a
    verdict: a phone still held when the verdict leaves the screen is the same presentation.
    `gone_frames = 0` turns this off (each scanner read is a presentation of its own).
    """

    def __init__(self, gone_frames: int) -> None:
        self._gone_frames = gone_frames
        self._missing: dict[str, int] = {}

    def observe(self, seen: Iterable[Code]) -> None:
        texts = {code.text for code in seen}
        for text in list(self._missing):
            if text not in texts:
                self._missing[text] += 1
                if self._missing[text] >= self._gone_frames:
                    del self._missing[text]
        for text in texts:
            if text in self._missing:
                self._missing[text] = 0

    def is_new(self, code: Code) -> bool:
        return self._gone_frames == 0 or code.text not in self._missing

    def hold(self, code: Code) -> None:
        if self._gone_frames:
            self._missing[code.text] = 0


@dataclass
class Kiosk:
    """Runs readings through the checker and fans each state out to every signal.

    `attended=True` needs `staff`: a code is checked only within `arm_seconds` of staff
    arming the kiosk, and each verdict stays until staff acknowledge it (`result_seconds`
    does not apply).
    """

    readings: Iterable[Reading]
    checker: Checker
    signals: Sequence[Signals]
    result_seconds: float = 3.0
    gone_frames: int = 8
    heartbeat: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    attended: bool = False
    staff: StaffInput | None = None
    arm_seconds: float = 120.0
    on_output_error: Callable[[str, str], None] | None = None
    verdicts: int = 0
    _state: State = field(default_factory=lambda: State(Phase.IDLE))
    _armed_until: float | None = field(default=None, init=False)  # None: not armed
    _acknowledged: bool = field(default=False, init=False)
    _last_press: float | None = field(default=None, init=False)
    _outputs: Outputs = field(init=False)

    def __post_init__(self) -> None:
        if self.attended and self.staff is None:
            raise ValueError("attended mode needs a staff input to arm and acknowledge")
        self._outputs = Outputs(self.signals, self.on_output_error, clock=self.clock)

    def use_checker(self, checker: Checker, *, result_seconds: float | None = None) -> None:
        """A live config change: the next check goes to `checker` (called between checks)."""
        self.checker = checker
        if result_seconds is not None:
            self.result_seconds = result_seconds

    def close_outputs(self) -> None:
        self._outputs.close()

    def set_fault(self, fault: Fault, active: bool) -> None:
        """One part's fault (camera lost / back, clock, ...), the others' left as they are."""
        faults = self._state.faults
        self.set_faults(faults | {fault} if active else faults - {fault})

    @property
    def state(self) -> State:
        return self._state

    def run(self) -> None:
        """Until the readings end (an image folder, stdin); a camera never ends."""
        in_view = InView(self.gone_frames)
        unsent = InView(self.gone_frames)  # codes shown before staff armed the kiosk
        waiting: dict[str, Code] = {}
        self._enter(Phase.ATTENDED_WAIT if self.attended else Phase.IDLE)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="check") as pool:
            for reading in self.readings:
                self._tick()
                in_view.observe(reading.seen)
                unsent.observe(reading.seen)
                fresh = [code for code in reading.confirmed if in_view.is_new(code)]
                # A code still held up from before the arming goes first.
                waiting = {text: c for text, c in waiting.items() if not unsent.is_new(c)}
                if waiting and self._accepting():
                    fresh = [*waiting.values(), *(c for c in fresh if c.text not in waiting)]
                    waiting = {}
                for code in fresh:
                    if not self._accepting():
                        log.info("a code was shown before staff armed the kiosk: not sent")
                        unsent.hold(code)
                        waiting[code.text] = code
                        continue
                    in_view.hold(code)
                    self._check(pool, code, reading.at)
                if fresh:
                    continue
                # A new 1D read waiting for its second frame shows "hold still".
                reading_new = any(in_view.is_new(code) for code in reading.seen)
                if reading_new and self._state.phase is Phase.IDLE:
                    self._enter(Phase.READING)
                elif not reading_new and self._state.phase is Phase.READING:
                    self._enter(Phase.IDLE)

    def set_faults(self, faults: frozenset[Fault]) -> None:
        if faults != self._state.faults:
            self._show(replace(self._state, faults=faults))

    def _check(self, pool: ThreadPoolExecutor, code: Code, read_at: float) -> None:
        self._enter(Phase.CHECKING)
        future = pool.submit(self.checker.check, code)
        while not future.done():
            wait_for([future], timeout=TICK_S)
            self._tick()
        verdict = future.result()
        total_ms = (self.clock() - read_at) * 1000
        verdict = replace(
            verdict,
            ms={"decode": round(code.decode_ms, 1), **verdict.ms, "total": round(total_ms, 1)},
        )
        self.verdicts += 1
        if self.attended:
            self._armed_until = None  # one check per arming
            self._acknowledged = False
            if self.staff is not None:
                self.staff.take()  # a press before the verdict was seen acknowledges nothing
            self._enter(RESULT_PHASES[verdict.outcome], verdict, awaiting_staff=True)
            while not self._acknowledged:
                self.sleep(TICK_S)
                self._tick()
            self._enter(Phase.ATTENDED_WAIT)
            return
        self._enter(RESULT_PHASES[verdict.outcome], verdict)
        until = self.clock() + self.result_seconds
        while self.clock() < until:
            self.sleep(min(TICK_S, max(0.0, until - self.clock())))
            self._tick()
        self._enter(Phase.IDLE)

    def _accepting(self) -> bool:
        return not self.attended or self._armed_until is not None

    def _take_staff_commands(self, now: float) -> None:
        """What a staff command means depends on what the kiosk waits for."""
        if not self.attended or self.staff is None:
            return
        for command in self.staff.take():
            if command is StaffCommand.PRESS:
                last, self._last_press = self._last_press, now
                if last is not None and now - last < STAFF_SETTLE_S:
                    continue  # a double press must not acknowledge and re-arm at once
            phase = self._state.phase
            if self._state.awaiting_staff and command in _ACKNOWLEDGING:
                log.info("staff acknowledged the verdict")
                self._acknowledged = True
            elif phase is Phase.ATTENDED_WAIT and command in _ARMING:
                log.info("staff armed the kiosk for %.0f s", self.arm_seconds)
                self._armed_until = now + self.arm_seconds
                self._enter(Phase.IDLE)
            elif self._armed_until is not None and command in _ARMING:
                self._armed_until = now + self.arm_seconds  # still waiting: more time
        expired = self._armed_until is not None and now >= self._armed_until
        if expired and self._state.phase in (Phase.IDLE, Phase.READING):
            log.info("the arming expired without a code")
            self._armed_until = None
            self._enter(Phase.ATTENDED_WAIT)

    def _enter(
        self, phase: Phase, verdict: Verdict | None = None, awaiting_staff: bool = False
    ) -> None:
        self._show(State(phase, verdict, self._state.faults, self.clock(), awaiting_staff))

    def _show(self, state: State) -> None:
        self._state = state
        self._outputs.show(state)
        self._mark_failing_outputs()

    def _mark_failing_outputs(self) -> None:
        """A failing output raises the banner on the others; a recovered one clears it."""
        failing = self._outputs.failing
        if failing != (Fault.OUTPUT in self._state.faults):
            faults = self._state.faults
            faults = faults | {Fault.OUTPUT} if failing else faults - {Fault.OUTPUT}
            self._show(replace(self._state, faults=faults))

    def _tick(self) -> None:
        now = self.clock()
        self._take_staff_commands(now)
        self._outputs.tick(now)
        self._mark_failing_outputs()
        self.heartbeat()
