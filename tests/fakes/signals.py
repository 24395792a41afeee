"""A `Signals` that records every state it is shown."""

from __future__ import annotations

from kiosk.model import Phase, State


class RecordingSignals:
    def __init__(self) -> None:
        self.states: list[State] = []
        self.ticks = 0
        self.closed = False

    def show(self, state: State) -> None:
        self.states.append(state)

    def tick(self, now: float) -> None:
        self.ticks += 1

    def close(self) -> None:
        self.closed = True

    @property
    def phases(self) -> list[Phase]:
        return [state.phase for state in self.states]

    @property
    def verdicts(self) -> list:
        return [s.verdict for s in self.states if s.verdict is not None]
