"""The loop and its state machine: idle → reading → checking → pass | fail | unknown → idle.

The loop only moves values between seams. The Diia call runs on a worker thread so that the
screen keeps animating and the watchdog keeps being fed while it is in flight; the checker
never raises, so nothing here has to guess what a failure means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace

from kiosk.checker import Checker
from kiosk.decode import Confirmation, Decoder
from kiosk.model import RESULT_PHASES, Code, Fault, Phase, State, Verdict
from kiosk.signals import Signals
from kiosk.sources import CodeSource, FrameSource

log = logging.getLogger(__name__)

TICK_S = 1 / 30  # screen animation and watchdog cadence while waiting


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
        codes = decoder.decode(frame)
        yield Reading(codes, confirmation.feed(codes), frame.timestamp)


def scanner_readings(source: CodeSource) -> Iterator[Reading]:
    """A scanner or keypad decodes by itself: every code it gives is a fresh presentation."""
    for code in source.codes():
        yield Reading([code], [code], time.monotonic())


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
    """Runs readings through the checker and fans each state out to every signal."""

    readings: Iterable[Reading]
    checker: Checker
    signals: Sequence[Signals]
    result_seconds: float = 3.0
    gone_frames: int = 8
    heartbeat: Callable[[], None] = lambda: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    verdicts: int = 0
    _state: State = field(default_factory=lambda: State(Phase.IDLE))

    @property
    def state(self) -> State:
        return self._state

    def run(self) -> None:
        """Until the readings end (an image folder, stdin); a camera never ends."""
        in_view = InView(self.gone_frames)
        self._enter(Phase.IDLE)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="check") as pool:
            for reading in self.readings:
                self._tick()
                in_view.observe(reading.seen)
                fresh = [code for code in reading.confirmed if in_view.is_new(code)]
                for code in fresh:
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
        self._enter(RESULT_PHASES[verdict.outcome], verdict)
        until = self.clock() + self.result_seconds
        while self.clock() < until:
            self.sleep(min(TICK_S, max(0.0, until - self.clock())))
            self._tick()
        self._enter(Phase.IDLE)

    def _enter(self, phase: Phase, verdict: Verdict | None = None) -> None:
        self._show(State(phase, verdict, self._state.faults, self.clock()))

    def _show(self, state: State) -> None:
        self._state = state
        for signal in self.signals:
            signal.show(state)

    def _tick(self) -> None:
        now = self.clock()
        for signal in self.signals:
            signal.tick(now)
        self.heartbeat()
