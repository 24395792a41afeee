"""Verdict events as JSON lines, for the POS, the audit log and outside checks.

The line format is a contract (DESIGN.md "Events"): fields are only ever added. A line holds
the code's keyed-hash id, never the code, and no personal data.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from kiosk.model import RESULT_PHASES, State, Verdict


def utc_timestamp(now: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as in `2026-11-23T10:00:00.123Z`."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def verdict_event(verdict: Verdict, now: datetime | None = None) -> dict[str, object]:
    event: dict[str, object] = {
        "ts": utc_timestamp(now),
        "event": "verdict",
        "outcome": str(verdict.outcome),
        "reason": str(verdict.reason),
        "mode": verdict.mode,
        "code_kind": str(verdict.code_kind),
        "code_id": verdict.code_id,
        "cached": verdict.cached,
        "ms": verdict.ms,
    }
    if verdict.request_id is not None:  # sharing: what the back office matches Diia's delivery by
        event["request_id"] = verdict.request_id
    return event


class LineSink(Protocol):
    """Where the lines go: a text stream, or anything that writes, flushes and closes like one
    (the audit log's rotating file)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class JsonLinesEvents:
    """A `Signals` that writes one line per verdict shown, flushed at once. A write that
    fails raises (the loop's `Outputs` logs and counts it); every later state shown tries the
    flush again, so the failure lasts as long as the stream's trouble does."""

    def __init__(self, stream: LineSink) -> None:
        self._stream = stream
        self._last: Verdict | None = None
        self._unflushed = False

    @classmethod
    def open(cls, target: str) -> JsonLinesEvents:
        """"stdout", or a file path appended to."""
        if target == "stdout":
            return cls(sys.stdout)
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(path.open("a", encoding="utf-8", buffering=1))

    def show(self, state: State) -> None:
        if self._unflushed:  # a line the stream took but could not pass on: try again first
            self._stream.flush()
            self._unflushed = False
        verdict = state.verdict
        if verdict is None or state.phase not in RESULT_PHASES.values() or verdict is self._last:
            return
        self._last = verdict
        self.write(verdict_event(verdict))

    def write(self, event: dict[str, object]) -> None:
        self._unflushed = True
        self._stream.write(json.dumps(event, ensure_ascii=False, separators=(", ", ": ")) + "\n")
        self._stream.flush()
        self._unflushed = False

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        if self._stream not in (sys.stdout, sys.stderr):
            self._stream.close()
