from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from kiosk.model import CodeKind, Phase, Reason, State, Verdict
from kiosk.signals.events import JsonLinesEvents, utc_timestamp, verdict_event

VERDICT = Verdict(Reason.VALID, "age", CodeKind.BARCODE, "9f2c1a7e",
                  ms={"decode": 4.1, "diia": 120.5, "total": 126.0})


def test_timestamp_format_is_utc_with_milliseconds() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
    assert utc_timestamp(now) == "2026-11-23T10:00:00.123Z"


def test_verdict_event_has_the_contract_fields() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)
    assert verdict_event(VERDICT, now) == {
        "ts": "2026-11-23T10:00:00.123Z", "event": "verdict", "outcome": "pass",
        "reason": "valid", "mode": "age", "code_kind": "barcode", "code_id": "9f2c1a7e",
        "cached": False, "ms": {"decode": 4.1, "diia": 120.5, "total": 126.0},
    }


def test_one_line_per_verdict_shown() -> None:
    out = io.StringIO()
    events = JsonLinesEvents(out)
    events.show(State(Phase.CHECKING))
    result = State(Phase.PASS, VERDICT)
    events.show(result)
    events.show(State(Phase.PASS, VERDICT, frozenset()))  # same verdict, banner change
    events.show(State(Phase.IDLE))
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["outcome"] == "pass"


def test_events_to_a_file_are_appended(tmp_path) -> None:
    path = tmp_path / "log" / "events.jsonl"
    for _ in range(2):
        events = JsonLinesEvents.open(str(path))
        events.show(State(Phase.FAIL, VERDICT))
        events.close()
    assert len(path.read_text().splitlines()) == 2
