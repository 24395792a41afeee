"""The till's HTTP API served for real on loopback, in this process, with a real client."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from kiosk.api.checks import CheckStatus
from kiosk.api.openapi import openapi_document
from kiosk.api.server import ApiServer
from kiosk.api.service import TillService, health_state
from kiosk.loop import ArmCheck, CancelCheck, Staff
from kiosk.model import Phase, StaffCommand, State

TOKEN = "till-token-0123456789abcdef"


@pytest.fixture
def service() -> TillService:
    # No loop takes the checks here: POST /v1/checks need not wait for one.
    return TillService(default_min_age=18, default_expires_s=60.0, staff_step=True,
                       arm_wait_s=0.01)


def loop_takes_a_cancellation(service: TillService) -> threading.Thread:
    """What the loop does with a CancelCheck, within a tick: it reports CANCELLED."""

    def take() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for command in service.take():
                if isinstance(command, CancelCheck):
                    service.registry.move(command.id, CheckStatus.CANCELLED)
                    return
            time.sleep(0.01)

    thread = threading.Thread(target=take)
    thread.start()
    return thread


@pytest.fixture
def server(service: TillService) -> Iterator[ApiServer]:
    running = ApiServer(("127.0.0.1", 0), service, keepalive_s=0.2).start()
    yield running
    running.stop()


@pytest.fixture
def http(server: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5) as client:
        yield client


def test_the_openapi_document_is_valid_openapi_3_1_and_lists_every_route(
    http: httpx.Client,
) -> None:
    # Imported here: the validator weighs ~30 MB, which every test process would carry.
    from openapi_spec_validator import validate

    document = http.get("/v1/openapi.json").json()
    validate(document)  # raises on an invalid document
    assert document["openapi"] == "3.1.0" and document == openapi_document()
    assert set(document["paths"]) == {"/v1/checks", "/v1/checks/{id}", "/v1/events",
                                      "/v1/staff/ack", "/v1/staff/arm", "/v1/health",
                                      "/v1/openapi.json"}
    schema = document["components"]["schemas"]["CheckRequest"]
    assert schema["additionalProperties"] is False


def test_arm_get_and_cancel_a_check(http: httpx.Client, service: TillService) -> None:
    armed = http.post("/v1/checks", json={"mode": "age", "min_age": 21, "reference": "R-9"})
    assert armed.status_code == 201
    check = armed.json()
    assert check == {"id": check["id"], "state": "armed", "mode": "age", "reference": "R-9"}
    assert armed.headers["Location"] == f"/v1/checks/{check['id']}"
    (command,) = service.take()  # handed to the loop with its terms
    assert isinstance(command, ArmCheck) and command.terms.id == check["id"]
    assert (command.terms.mode, command.terms.min_age, command.terms.reference) == (
        "age", 21, "R-9")
    assert http.get(f"/v1/checks/{check['id']}").json()["state"] == "armed"
    loop = loop_takes_a_cancellation(service)
    cancelled = http.delete(f"/v1/checks/{check['id']}")
    loop.join()
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = http.delete(f"/v1/checks/{check['id']}")
    assert again.status_code == 409 and again.json()["field"] == "id"
    assert http.get("/v1/checks/00ff").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    (b'{"mode": "validate", "colour": "red"}', "colour"),
    (b'{"mode": "age", "min_age": -1}', "min_age"),
    (b'{"mode": "name", "first_name": "X"}', "last_name"),
    (b'{"mode": 3}', "mode"),
    (b"not json", "body"),
])
def test_a_bad_request_is_a_400_naming_the_field(http: httpx.Client, body: bytes,
                                                  field: str) -> None:
    answer = http.post("/v1/checks", content=body,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["field"] == field and answer.json()["error"] == "bad_request"


def test_wrong_methods_unknown_paths_and_big_bodies_are_refused_in_json(
    http: httpx.Client,
) -> None:
    assert http.get("/v1/checks").status_code == 405
    assert http.get("/v1/nothing").json()["error"] == "not_found"
    big = http.post("/v1/checks", content=b"{" + b" " * 20000 + b"}")
    assert big.status_code == 413 and big.json()["field"] == "body"
    assert http.post("/v1/staff/ack", json={"x": 1}).json()["field"] == "x"


def test_staff_commands_reach_the_staff_queue(http: httpx.Client, service: TillService) -> None:
    assert http.post("/v1/staff/arm").status_code == 202
    assert http.post("/v1/staff/ack").status_code == 202
    assert service.take() == [Staff(StaffCommand.ARM), Staff(StaffCommand.ACKNOWLEDGE)]


@pytest.mark.parametrize(("shown", "command", "error"), [
    (State(Phase.ATTENDED_WAIT), "ack", "nothing_to_acknowledge"),
    (State(Phase.IDLE), "ack", "nothing_to_acknowledge"),
    (State(Phase.PASS, awaiting_staff=True), "arm", "verdict_waiting"),
    (State(Phase.CHECKING), "arm", "busy"),
])
def test_a_staff_command_that_would_change_nothing_is_a_409_saying_why(
    http: httpx.Client, service: TillService, shown: State, command: str, error: str
) -> None:
    service.state = shown
    answer = http.post(f"/v1/staff/{command}")
    assert answer.status_code == 409 and answer.json()["error"] == error, answer.text
    assert answer.json()["message"]
    assert service.take() == []  # nothing reached the loop


def test_staff_commands_that_do_something_are_accepted(
    http: httpx.Client, service: TillService
) -> None:
    service.state = State(Phase.ATTENDED_WAIT)
    assert http.post("/v1/staff/arm").status_code == 202
    service.state = State(Phase.FAIL, awaiting_staff=True)
    assert http.post("/v1/staff/ack").status_code == 202
    assert service.take() == [Staff(StaffCommand.ARM), Staff(StaffCommand.ACKNOWLEDGE)]


def test_a_second_acknowledgement_sent_at_once_is_refused_not_queued(
    http: httpx.Client, service: TillService
) -> None:
    service.state, service.arm_wait_s = State(Phase.PASS, awaiting_staff=True), 2.0
    stop = threading.Event()

    def loop() -> None:  # what the kiosk's loop does with an acknowledgement, turn by turn
        while not stop.wait(0.03):
            for command in service.take():
                if command == Staff(StaffCommand.ACKNOWLEDGE):
                    service.show(State(Phase.ATTENDED_WAIT))  # the service is an output

    turning = threading.Thread(target=loop)
    turning.start()
    try:
        first, second = http.post("/v1/staff/ack"), http.post("/v1/staff/ack")
    finally:
        stop.set()
        turning.join()
    assert first.status_code == 202
    assert second.status_code == 409 and second.json()["error"] == "nothing_to_acknowledge"


@pytest.mark.parametrize(("shown", "armed", "required", "state"), [
    (State(Phase.IDLE), 1, False, "armed"),  # the till armed a check
    (State(Phase.IDLE), 0, True, "armed"),  # staff armed: unarmed shows attended_wait
    (State(Phase.IDLE), 0, False, "idle"),
    (State(Phase.ATTENDED_WAIT), 0, True, "attended_wait"),
    (State(Phase.CHECKING), 1, True, "checking"),
    (None, 0, False, "starting"),
])
def test_health_says_armed_while_the_kiosk_rests_armed(
    shown: State | None, armed: int, required: bool, state: str
) -> None:
    assert health_state(shown, armed, required) == state


def test_an_unknown_field_gets_a_did_you_mean(http: httpx.Client) -> None:
    answer = http.post("/v1/checks", json={"mode": "age", "min_aeg": 21})
    body = answer.json()
    assert answer.status_code == 400 and body["field"] == "min_aeg"
    assert 'did you mean "min_age"?' in body["message"], body


def test_without_a_staff_step_staff_commands_are_a_409() -> None:
    service = TillService(staff_step=False)
    server = ApiServer(("127.0.0.1", 0), service).start()
    try:
        answer = httpx.post(f"{server.url}/v1/staff/ack")
        assert answer.status_code == 409 and answer.json()["error"] == "no_staff_step"
    finally:
        server.stop()


def test_with_a_token_every_call_but_the_document_needs_it(service: TillService) -> None:
    server = ApiServer(("127.0.0.1", 0), service, token=TOKEN).start()
    try:
        base = server.url
        http = httpx.Client(timeout=5)
        assert http.get(f"{base}/v1/openapi.json").status_code == 200
        for method, path in (("GET", "/v1/health"), ("POST", "/v1/checks"),
                             ("GET", "/v1/events"), ("POST", "/v1/staff/ack")):
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": f"Basic {TOKEN}"}):
                answer = http.request(method, f"{base}{path}", headers=headers)
                assert answer.status_code == 401, (method, path, headers)
                assert answer.json()["field"] == "Authorization"
                assert TOKEN not in answer.text
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert http.get(f"{base}/v1/health", headers=good).json()["state"] == "starting"
    finally:
        server.stop()


def read_events(url: str, last_event_id: str | None, count: int,
                timeout_s: float = 5.0) -> tuple[list[tuple[str, dict]], list[str]]:
    """`count` events from the stream, and the comment lines seen meanwhile."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    found: list[tuple[str, dict]] = []
    comments: list[str] = []
    with httpx.stream("GET", f"{url}/v1/events", headers=headers, timeout=timeout_s) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        number = None
        for line in stream.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("id: "):
                number = line[4:]
            elif line.startswith("data: "):
                found.append((number, json.loads(line[6:])))
                if len(found) == count:
                    break
            if count == 0 and len(comments) >= 3:
                break
    return found, comments


def test_the_stream_sends_keep_alive_comments(server: ApiServer) -> None:
    _, comments = read_events(server.url, None, 0)
    assert ": connected" in comments and ": keep-alive" in comments


def test_a_subscriber_sees_new_events_and_a_reconnect_replays_what_it_missed(
    server: ApiServer, service: TillService,
) -> None:
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(read_events(server.url, None, 1)[0]))
    reader.start()
    time.sleep(0.3)  # connected: a fresh subscriber starts from now
    service.events.publish({"event": "verdict", "outcome": "pass"})
    reader.join(5)
    assert [event for _, event in got] == [{"event": "verdict", "outcome": "pass"}]
    first_id = got[0][0]
    service.events.publish({"event": "verdict", "outcome": "fail"})  # while disconnected
    service.events.publish({"event": "verdict", "outcome": "unknown"})
    missed, _ = read_events(server.url, first_id, 2)
    assert [event["outcome"] for _, event in missed] == ["fail", "unknown"]
    assert int(missed[0][0]) == int(first_id) + 1


def test_a_bad_last_event_id_names_the_header(http: httpx.Client) -> None:
    answer = http.get("/v1/events", headers={"Last-Event-ID": "abc"})
    assert answer.status_code == 400 and answer.json()["field"] == "Last-Event-ID"


def test_a_port_in_use_is_an_os_error_the_root_turns_into_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            ApiServer(taken.getsockname(), TillService())
