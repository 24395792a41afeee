"""The till's check registry and request bodies, with plain values and a hand-moved clock."""

from __future__ import annotations

import pytest

from kiosk.api.checks import MAX_ARMED, CheckRegistry, CheckState, CheckTerms, TooManyArmed
from kiosk.api.events import EventLog
from kiosk.api.requests import BadField, json_object, parse_check
from kiosk.names import HolderName

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
    armed = checks.arm(CheckTerms("age", min_age=21, reference="order-7"))
    assert armed.state is CheckState.ARMED and checks.armed() == armed
    started = checks.start()
    assert started is not None and started.id == armed.id
    assert started.state is CheckState.CHECKING and checks.armed() is None
    done = checks.finish({"event": "verdict", "outcome": "pass"})
    assert done is not None and done.state is CheckState.DONE
    assert done.verdict == {"event": "verdict", "outcome": "pass", "id": armed.id,
                            "reference": "order-7"}
    assert checks.finish({"event": "verdict"}) is None  # nothing is being checked now


def test_checks_are_taken_oldest_first() -> None:
    checks = registry(Clock())
    first, second = checks.arm(CheckTerms("validate")), checks.arm(CheckTerms("validate"))
    assert checks.start().id == first.id
    checks.finish({})
    assert checks.start().id == second.id


def test_an_armed_check_expires_after_its_expires_s_and_says_so_once() -> None:
    clock = Clock()
    checks = registry(clock)
    heard: list[tuple[str, str]] = []
    checks.subscribe(lambda check: heard.append((check.id, str(check.state))))
    armed = checks.arm(CheckTerms("validate", expires_s=30))
    clock.now += 29.9
    assert checks.expire() == [] and checks.armed() is not None
    clock.now += 0.1
    assert [c.id for c in checks.expire()] == [armed.id]
    assert checks.expire() == []
    assert checks.get(armed.id).state is CheckState.EXPIRED
    assert checks.start() is None  # an expired check is never checked
    assert heard == [(armed.id, "armed"), (armed.id, "expired")]


def test_only_an_armed_check_can_be_cancelled() -> None:
    checks = registry(Clock())
    armed = checks.arm(CheckTerms("validate"))
    cancelled, now = checks.cancel(armed.id)
    assert cancelled.state is CheckState.CANCELLED and now
    assert checks.cancel(armed.id) == (cancelled, False)  # the caller answers 409
    assert checks.start() is None
    other = checks.arm(CheckTerms("validate"))
    checks.start()
    assert checks.cancel(other.id)[0].state is CheckState.CHECKING
    assert checks.cancel("ffff") == (None, False)


@pytest.mark.parametrize("end", ["done", "cancelled", "expired"])
def test_the_name_is_forgotten_when_the_check_ends(end: str) -> None:
    clock = Clock()
    checks = registry(clock)
    armed = checks.arm(CheckTerms("name", name=NAME, expires_s=10))
    assert checks.get(armed.id).terms.name == NAME
    if end == "done":
        checks.start()
        checks.finish({})
    elif end == "cancelled":
        assert checks.cancel(armed.id)[1]
    else:
        clock.now += 10
    ended = checks.get(armed.id)
    assert ended.state == end and ended.terms.name is None
    assert "Маркерчук" not in repr(ended) and "Маркерчук" not in str(ended.public())


def test_arming_without_end_is_refused_not_grown() -> None:
    checks = registry(Clock())
    for _ in range(MAX_ARMED):
        checks.arm(CheckTerms("validate"))
    with pytest.raises(TooManyArmed):
        checks.arm(CheckTerms("validate"))


def parse(body: dict) -> CheckTerms:
    return parse_check(body, default_min_age=18, default_expires_s=120.0)


def test_a_check_request_takes_the_config_defaults() -> None:
    assert parse({"mode": "age"}) == CheckTerms("age", min_age=18, expires_s=120.0)
    terms = parse({"mode": "name", "last_name": " Маркерчук ", "first_name": "Тестоніна",
                   "reference": "R-1", "expires_s": 30})
    assert terms.name == HolderName("Маркерчук", "Тестоніна") and terms.expires_s == 30.0
    assert parse({"mode": "share"}).mode == "share"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "mode"),
    ({"mode": "adult"}, "mode"),
    ({"mode": "age", "min_age": "18"}, "min_age"),
    ({"mode": "age", "min_age": 200}, "min_age"),
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
