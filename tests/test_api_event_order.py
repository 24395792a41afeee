"""The till's event stream, in order and complete, as a till reads it: a `kiosk run` process,
`GET /v1/events` over a socket, codes typed on the kiosk's stdin (README, "The order of
events")."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_process import EventReader, RunningKiosk


def told(reader: EventReader, *ids: str) -> list[tuple[str, str, str]]:
    """(event, id, state) of every event about the checks `ids`, in the order sent."""
    return [(e["event"], e["id"], e.get("state", "")) for _, e in list(reader.events)
            if e.get("id") in ids]


def verdicts_on_stdout(kiosk: RunningKiosk, count: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lines = (kiosk.folder / "stdout").read_text().splitlines()
        if sum(json.loads(line).get("event") == "verdict" for line in lines if line) >= count:
            return
        time.sleep(0.02)
    raise TimeoutError(f"fewer than {count} verdicts on the kiosk's stdout")


def is_done(check_id: str) -> Any:
    return lambda e: e.get("id") == check_id and e.get("state") == "done"


def test_a_new_arming_cancels_the_old_check_first_and_a_check_ends_with_done(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    with RunningKiosk(sandbox, tmp_path) as kiosk:
        reader = EventReader(kiosk.url)
        try:
            first = kiosk.arm(mode="validate", reference="A-1")["id"]
            second = kiosk.arm(mode="validate", reference="A-2")["id"]
            kiosk.scan(sandbox.mint("valid"))
            reader.wait_for(is_done(second))
            assert told(reader, first, second) == [
                ("check", first, "armed"),
                ("check", first, "cancelled"),  # the old check ends before the new one arms
                ("check", second, "armed"),
                ("check", second, "checking"),
                ("verdict", second, ""),  # the verdict, with the check's id...
                ("check", second, "done"),  # ...then the check's end
            ]
            verdict = next(e for _, e in reader.events
                           if e["event"] == "verdict" and e.get("id") == second)
            assert verdict["outcome"] == "pass" and verdict["reference"] == "A-2"
        finally:
            reader.close()


def test_a_check_cancelled_while_diia_is_asked_never_yields_a_verdict_without_its_id(
    sandbox: DiiaSandbox, tmp_path: Path
) -> None:
    """The till hears `cancelled`, and nothing more of that check: its verdict (the customer
    still sees it) is not told, neither with its id nor as a walk-up scan's."""
    with RunningKiosk(sandbox, tmp_path) as kiosk:
        reader = EventReader(kiosk.url)
        try:
            sandbox.fail(None, latency_s=1.0)  # Diia takes a second to answer each call
            check = kiosk.arm(mode="validate", reference="C-1")["id"]
            kiosk.scan(sandbox.mint("valid"))
            kiosk.wait_state(check, ("checking",))
            assert kiosk.http.delete(f"/v1/checks/{check}").status_code in (200, 202)
            verdicts_on_stdout(kiosk, 1)  # the customer saw the cancelled check's verdict
            sandbox.fail(None)
            kiosk.scan(sandbox.mint("valid"))  # a walk-up scan, no check armed
            _, walk_up = reader.wait_for(lambda e: e.get("event") == "verdict")
            assert "id" not in walk_up and walk_up["outcome"] == "pass"
            assert told(reader, check) == [("check", check, "armed"),
                                           ("check", check, "checking"),
                                           ("check", check, "cancelled")]
            assert [e for _, e in reader.events if e["event"] == "verdict"] == [walk_up]
            assert kiosk.http.get(f"/v1/checks/{check}").json()["state"] == "cancelled"
        finally:
            reader.close()
