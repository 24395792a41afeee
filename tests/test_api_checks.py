"""The till's check registry and request bodies, with plain values and a hand-moved clock."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.api.checks import MAX_OPEN, CheckRegistry, CheckStatus, TooManyOpen
from kiosk.api.events import EventLog
from kiosk.api.requests import BadField, json_object, parse_check
from kiosk.model import CheckTerms, HolderName

NAME = HolderName("Маркерчук", "Тестоніна")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def registry(clock: Clock) -> CheckRegistry:
    ids = iter(f"{n:04x}" for n in range(1000))
    return CheckRegistry(clock, new_id=lambda: next(ids))


def test_a_check_goes_armed_checking_done_and_carries_its_id_and_reference() -> None:
    checks = registry(Clock())
    heard: list[str] = []
    checks.subscribe(lambda check: heard.append(str(check.state)))
    armed = checks.arm(CheckTerms("", mode="age", min_age=21, reference="order-7"))
    assert armed.state is CheckStatus.ARMED and checks.get(armed.id) == armed
    assert heard == []  # recorded, not told: the loop has not taken it yet
    assert checks.taken(armed.id) == armed and heard == ["armed"]
    assert checks.finish({"event": "verdict"}, "ffff") is None  # no such check
    assert checks.move(armed.id, CheckStatus.CHECKING).state is CheckStatus.CHECKING
    done = checks.finish({"event": "verdict", "outcome": "pass"}, armed.id)
    assert done is not None and done.state is CheckStatus.DONE
    assert done.verdict == {"event": "verdict", "outcome": "pass", "id": armed.id,
                            "reference": "order-7"}
    assert heard == ["armed", "checking", "done"]


def test_an_ended_check_stays_ended_whatever_comes_late() -> None:
    checks = registry(Clock())
    armed = checks.arm(CheckTerms("", mode="validate"))
    assert checks.move(armed.id, CheckStatus.EXPIRED).state is CheckStatus.EXPIRED
    assert checks.move(armed.id, CheckStatus.CHECKING).state is CheckStatus.EXPIRED
    assert checks.finish({"event": "verdict"}, armed.id) is None
    assert checks.move("ffff", CheckStatus.CANCELLED) is None


def test_a_share_check_carries_its_request_id_into_the_verdict() -> None:
    checks = registry(Clock())
    armed = checks.arm(CheckTerms("", mode="share"))
    checks.move(armed.id, CheckStatus.CHECKING)
    checks.note_request(armed.id, "5f0c3c1e-0000-4000-8000-000000000001")
    done = checks.finish({"event": "verdict"}, armed.id)
    assert done.verdict["request_id"] == done.request_id == "5f0c3c1e-0000-4000-8000-000000000001"
    assert done.public()["request_id"] == done.request_id


def test_the_registry_never_holds_the_name() -> None:
    checks = registry(Clock())
    armed = checks.arm(CheckTerms("", mode="name", names=NAME, reference="P-1"))
    assert armed.terms.names is None and checks.get(armed.id).terms.names is None
    assert "Маркерчук" not in repr(checks.get(armed.id)) and "Маркерчук" not in str(
        armed.public())


def test_waiting_for_a_change_returns_once_the_state_moves() -> None:
    checks = registry(Clock())
    armed = checks.arm(CheckTerms("", mode="validate"))
    assert checks.wait_change(armed.id, CheckStatus.ARMED, 0.01).state is CheckStatus.ARMED
    checks.move(armed.id, CheckStatus.CANCELLED)
    assert checks.wait_change(armed.id, CheckStatus.ARMED, 5).state is CheckStatus.CANCELLED


def test_arming_without_end_is_refused_not_grown() -> None:
    checks = registry(Clock())
    for _ in range(MAX_OPEN):
        checks.arm(CheckTerms("", mode="validate"))
    with pytest.raises(TooManyOpen):
        checks.arm(CheckTerms("", mode="validate"))


def parse(body: dict) -> CheckTerms:
    return parse_check(body, default_min_age=18, default_expires_s=120.0)


def test_every_age_the_config_allows_is_an_age_the_till_may_ask_for() -> None:
    """One range: the config's bounds are the API's (and the loop's)."""
    from kiosk.config import KioskSection

    bounds = next(f.metadata for f in dataclasses.fields(KioskSection) if f.name == "min_age")
    for age in (bounds["min"], bounds["max"]):
        assert parse({"mode": "age", "min_age": age}).min_age == age
        assert parse_check({"mode": "validate"}, default_min_age=age,
                           default_expires_s=120.0).mode == "validate"


def test_a_check_request_takes_the_config_defaults() -> None:
    assert parse({"mode": "age"}) == CheckTerms("", mode="age", min_age=18, expires_in_s=120.0)
    terms = parse({"mode": "name", "last_name": " Маркерчук ", "first_name": "Тестоніна",
                   "reference": "R-1", "expires_s": 30})
    assert terms.names == HolderName("Маркерчук", "Тестоніна") and terms.expires_in_s == 30.0
    assert parse({"mode": "share"}).mode == "share"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "mode"),
    ({"mode": "adult"}, "mode"),
    ({"mode": "age", "min_age": "18"}, "min_age"),
    ({"mode": "age", "min_age": 151}, "min_age"),
    ({"mode": "age", "min_age": -1}, "min_age"),
    ({"mode": "age", "min_age": True}, "min_age"),
    ({"mode": "validate", "min_age": 18}, "min_age"),
    ({"mode": "name", "first_name": "Тестоніна"}, "last_name"),
    ({"mode": "name", "last_name": "Маркерчук"}, "first_name"),
    ({"mode": "name", "last_name": "Маркерчук", "first_name": 7}, "first_name"),
    ({"mode": "name", "last_name": "Маркерчук", "first_name": "Т", "middle_name": "x" * 101},
     "middle_name"),
    ({"mode": "validate", "last_name": "Маркерчук"}, "last_name"),
    ({"mode": "validate", "reference": ""}, "reference"),
    ({"mode": "validate", "reference": "a\nb"}, "reference"),
    ({"mode": "validate", "expires_s": 0}, "expires_s"),
    ({"mode": "validate", "expires_s": float("nan")}, "expires_s"),
    ({"mode": "validate", "minage": 18}, "minage"),
])
def test_a_bad_check_request_names_its_field_and_never_the_name(body: dict, field: str) -> None:
    with pytest.raises(BadField) as caught:
        parse(body)
    assert caught.value.field == field
    assert "Маркерчук" not in str(caught.value) and "Тестоніна" not in str(caught.value)


@pytest.mark.parametrize("raw", [b"[1]", b"{", b"\xff", b"x" * 20000])
def test_a_body_that_is_not_one_json_object_is_refused(raw: bytes) -> None:
    with pytest.raises(BadField) as caught:
        json_object(raw)
    assert caught.value.field == "body"


def test_the_event_log_replays_what_is_newer_and_forgets_after_a_few_minutes() -> None:
    clock = Clock()
    log = EventLog(keep_s=300, clock=clock)
    first = log.publish({"event": "verdict", "n": 1})
    clock.now += 200
    second = log.publish({"event": "verdict", "n": 2})
    assert [e.number for e in log.after(0)] == [first, second]
    assert [e.event["n"] for e in log.after(first)] == [2]
    clock.now += 150  # the first is now 350 s old
    assert [e.number for e in log.after(0)] == [second]
    assert log.wait_after(second, timeout_s=0.01) == []
