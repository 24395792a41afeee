"""The Diia sandbox as a POS developer meets it: raw HTTP on loopback, no kiosk client."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

import httpx
import pytest

from kiosk.diia.codes import is_diia_barcode, is_diia_qr
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import HolderName

CHECK = "/api/v1/acquirers/document-identification"
AGE = CHECK + "/age"
BRANCH = "sandbox-branch"


@pytest.fixture
def sandbox() -> Iterator[DiiaSandbox]:
    with DiiaSandbox() as running:
        yield running


@pytest.fixture
def http(sandbox: DiiaSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=5, trust_env=False) as client:
        yield client


def login(sandbox: DiiaSandbox, http: httpx.Client) -> str:
    response = http.get(
        f"/api/v1/auth/acquirer/{sandbox.credentials.acquirer_token}",
        headers={"Authorization": f"Basic {sandbox.credentials.auth_token}"},
    )
    assert response.status_code == 200
    return response.json()["token"]


@pytest.fixture
def bearer(sandbox: DiiaSandbox, http: httpx.Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(sandbox, http)}"}


def claims(token: str) -> dict[str, float]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# --- minting -----------------------------------------------------------------------------


def test_minted_barcodes_are_diia_barcodes_and_unique(sandbox: DiiaSandbox):
    codes = [sandbox.mint() for _ in range(300)]
    assert all(is_diia_barcode(code) and code[0] != "0" for code in codes)
    assert len(set(codes)) == len(codes)


def test_minted_qr_codes_are_diia_verify_urls(sandbox: DiiaSandbox):
    url = sandbox.mint(kind="qr")
    assert is_diia_qr(url)
    assert url.startswith("https://diia.app/documents/internal-passport/")
    assert 95 <= len(url) <= 125


@pytest.mark.parametrize(
    "kwargs", [{"state": "bogus"}, {"kind": "pdf417"}, {"fault": "explode"}, {"fault": "slow"}]
)
def test_mint_refuses_unknown_options(sandbox: DiiaSandbox, kwargs):
    with pytest.raises(ValueError):
        sandbox.mint(**kwargs)


def test_fail_refuses_unknown_fault(sandbox: DiiaSandbox):
    with pytest.raises(ValueError):
        sandbox.fail("slow:")


# --- login and tokens --------------------------------------------------------------------


def test_default_auth_token_is_base64_of_acquirer_id_and_token():
    sandbox = DiiaSandbox(acquirer_token="abc", branch_id="b-1")
    assert base64.b64decode(sandbox.credentials.auth_token) == b"acquirer_1:abc"
    assert sandbox.credentials.acquirer_token == "abc"
    assert sandbox.branch_id == "b-1"


def test_login_issues_a_jwt_with_iat_and_exp():
    with DiiaSandbox(token_lifetime_s=600) as sandbox:
        with httpx.Client(base_url=sandbox.base_url, trust_env=False) as client:
            token = login(sandbox, client)
        assert sandbox.logins == 1
    assert token.count(".") == 2
    payload = claims(token)
    assert payload["exp"] - payload["iat"] == pytest.approx(600)
    assert abs(payload["iat"] - time.time()) < 5


@pytest.mark.parametrize(
    ("acquirer_token", "authorization", "message"),
    [
        ("wrong-token", None, "Acquirer not found"),
        (None, "Basic d3Jvbmc=", "Invalid basic authorization"),
        (None, "", "Invalid basic authorization"),
    ],
)
def test_login_refusals(sandbox, http, acquirer_token, authorization, message):
    token = acquirer_token or sandbox.credentials.acquirer_token
    basic = f"Basic {sandbox.credentials.auth_token}" if authorization is None else authorization
    response = http.get(f"/api/v1/auth/acquirer/{token}", headers={"Authorization": basic})
    assert response.status_code == 401
    assert response.json()["name"] == "UnauthorizedError"
    assert response.json()["message"] == message
    assert sandbox.logins == 0


@pytest.mark.parametrize(
    ("authorization", "message"),
    [(None, "Empty token"), ("Bearer nope", "Invalid token"), ("Basic abc", "Empty token")],
)
def test_check_needs_a_bearer_token(sandbox, http, authorization, message):
    headers = {"Authorization": authorization} if authorization else {}
    response = http.post(
        CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()}, headers=headers
    )
    assert (response.status_code, response.json()["message"]) == (401, message)


def test_expired_and_revoked_tokens_are_refused(sandbox: DiiaSandbox):
    with (
        DiiaSandbox(token_lifetime_s=0.05) as short,
        httpx.Client(base_url=short.base_url, trust_env=False) as client,
    ):
        headers = {"Authorization": f"Bearer {login(short, client)}"}
        body = {"branchId": BRANCH, "barcode": short.mint()}
        time.sleep(0.1)
        response = client.post(CHECK, json=body, headers=headers)
        assert (response.status_code, response.json()["message"]) == (401, "Token has expired")
    with httpx.Client(base_url=sandbox.base_url, trust_env=False) as client:
        headers = {"Authorization": f"Bearer {login(sandbox, client)}"}
        body = {"branchId": BRANCH, "barcode": sandbox.mint()}
        assert client.post(CHECK, json=body, headers=headers).status_code == 200
        sandbox.revoke_tokens()
        assert client.post(CHECK, json=body, headers=headers).status_code == 401


def test_wrong_api_version_is_unexpected_action_token(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint()}
    response = http.post("/api/v2/acquirers/document-identification", json=body, headers=bearer)
    assert response.status_code == 401
    assert response.json() == {"name": "UnauthorizedError", "message": "Unexpected action token"}


def test_unknown_path_is_json_404(http: httpx.Client):
    response = http.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["message"] == "Route not found"


# --- checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status", "answer"),
    [
        ("valid", 200, {"success": True}),
        ("not_valid", 200, {"success": False}),
        ("used", 400, {"message": "This code has been used already!"}),
        ("expired", 400, {"message": "Code has been expired!"}),
    ],
)
def test_code_states(sandbox, http, bearer, state, status, answer):
    response = http.post(
        CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint(state)}, headers=bearer
    )
    assert response.status_code == status
    assert answer.items() <= response.json().items()


def test_expired_answer_carries_now_and_expiration_date(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint("expired")}
    data = http.post(CHECK, json=body, headers=bearer).json()["data"]
    assert data["expirationDate"] < data["now"]
    assert data["now"].endswith("Z")


def test_unknown_code_is_404_no_record(sandbox, http, bearer):
    response = http.post(
        CHECK, json={"branchId": BRANCH, "barcode": "3559217693026"}, headers=bearer
    )
    assert response.status_code == 404
    assert response.json()["message"] == "No record with presented code!"


def test_qr_code_travels_in_qr_field(sandbox, http, bearer):
    url = sandbox.mint(kind="qr")
    assert http.post(CHECK, json={"branchId": BRANCH, "qrcode": url}, headers=bearer).json() == {
        "success": True
    }
    # the same text in the barcode field is a different (unknown) code
    assert (
        http.post(CHECK, json={"branchId": BRANCH, "barcode": url}, headers=bearer).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("holder", "minimum", "success"), [(30, 18, True), (18, 18, True), (17, 18, False)]
)
def test_age_check(sandbox, http, bearer, holder, minimum, success):
    body = {"branchId": BRANCH, "barcode": sandbox.mint(age=holder), "age": minimum}
    assert http.post(AGE, json=body, headers=bearer).json() == {"success": success}


@pytest.mark.parametrize(
    ("body", "path", "fields"),
    [
        ({"barcode": "CODE"}, CHECK, ["branchId"]),
        ({"branchId": "elsewhere", "barcode": "CODE"}, CHECK, ["branchId"]),
        ({"branchId": BRANCH}, CHECK, ["barcode"]),
        ({}, CHECK, ["branchId", "barcode"]),
        ({"branchId": BRANCH, "barcode": "CODE"}, AGE, ["age"]),
        ({"branchId": BRANCH, "barcode": "CODE", "age": "18"}, AGE, ["age"]),
        ({"branchId": BRANCH, "barcode": "CODE", "age": True}, AGE, ["age"]),
    ],
)
def test_validation_errors(sandbox, http, bearer, body, path, fields):
    body = {k: sandbox.mint() if v == "CODE" else v for k, v in body.items()}
    response = http.post(path, json=body, headers=bearer)
    assert response.status_code == 422
    answer = response.json()
    assert answer["name"] == "ValidationError"
    assert [e["field"] for e in answer["data"]["errors"]] == fields
    assert all({"type", "message", "field"} <= e.keys() for e in answer["data"]["errors"])


def test_non_json_body_is_validation_error(http, bearer):
    response = http.post(CHECK, content=b"barcode=1", headers=bearer)
    assert response.status_code == 422


# --- faults ------------------------------------------------------------------------------


def test_unavailable_fault_is_503(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint(fault="unavailable")}
    response = http.post(CHECK, json=body, headers=bearer)
    assert response.status_code == 503
    assert response.json()["name"] == "ServiceNotAvailableError"


def test_malformed_fault_is_200_without_json(sandbox, http, bearer):
    sandbox.fail("malformed")
    response = http.post(
        CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()}, headers=bearer
    )
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_drop_fault_closes_without_answer(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint(fault="drop")}
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(CHECK, json=body, headers=bearer)
    assert sandbox.requests[-1].status == 0


def test_slow_fault_and_latency_delay_answers(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint(fault="slow:0.2")}
    started = time.monotonic()
    assert http.post(CHECK, json=body, headers=bearer).status_code == 200
    assert time.monotonic() - started >= 0.2
    sandbox.fail(None, latency_s=0.15)
    started = time.monotonic()
    http.post(CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()}, headers=bearer)
    assert time.monotonic() - started >= 0.15


def test_fail_none_clears_the_global_fault(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint()}
    sandbox.fail("unavailable")
    assert http.post(CHECK, json=body, headers=bearer).status_code == 503
    sandbox.fail(None)
    assert http.post(CHECK, json=body, headers=bearer).status_code == 200


# --- the server itself -------------------------------------------------------------------


def test_request_log_redacts_acquirer_token(sandbox: DiiaSandbox, http: httpx.Client):
    login(sandbox, http)
    http.get("/api/v1/auth/acquirer/someone-elses-token")
    paths = [r.path for r in sandbox.requests]
    assert paths == ["/api/v1/auth/acquirer/***"] * 2
    assert [r.status for r in sandbox.requests] == [200, 401]
    assert not any(sandbox.credentials.acquirer_token in p for p in paths)


def test_quiet_on_stderr(sandbox, http, capfd):
    login(sandbox, http)
    http.get("/nowhere")
    assert capfd.readouterr().err == ""


def test_keep_alive_on_one_connection_without_nagle_stall(sandbox, http, bearer):
    times = []
    for _ in range(20):
        body = {"branchId": BRANCH, "barcode": sandbox.mint()}
        started = time.perf_counter()
        assert http.post(CHECK, json=body, headers=bearer).status_code == 200
        times.append(time.perf_counter() - started)
    assert sandbox.connections == 1
    assert statistics.median(times) < 0.02  # a delayed-ACK stall would be about 40 ms


def test_stop_closes_kept_alive_connections_and_wakes_slow_handlers(sandbox, http, bearer):
    sandbox.fail("slow:30")
    outcome: list[BaseException] = []

    def slow_call() -> None:
        try:
            http.post(CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()}, headers=bearer)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=slow_call)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    sandbox.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not thread.is_alive()
    with pytest.raises(httpx.TransportError):
        http.get("/api/v1/nothing-here")
    with pytest.raises(RuntimeError):
        _ = sandbox.base_url


def test_restart_after_stop(sandbox: DiiaSandbox):
    sandbox.stop()
    sandbox.start()
    with httpx.Client(base_url=sandbox.base_url, trust_env=False) as client:
        assert client.get("/x").status_code == 404


# --- one-time codes -----------------------------------------------------------------------


def test_a_code_answers_once_then_says_used(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint()}
    assert http.post(CHECK, json=body, headers=bearer).json() == {"success": True}
    again = http.post(CHECK, json=body, headers=bearer)
    assert (again.status_code, again.json()["message"]) == (400, "This code has been used already!")


def test_an_age_answer_uses_the_code_up_too(sandbox, http, bearer):
    body = {"branchId": BRANCH, "barcode": sandbox.mint(age=16), "age": 18}
    assert http.post(AGE, json=body, headers=bearer).json() == {"success": False}
    assert http.post(AGE, json=body, headers=bearer).status_code == 400


def test_errors_do_not_use_a_code_up(sandbox, http, bearer):
    code = sandbox.mint()
    sandbox.fail("unavailable", times=1)
    assert http.post(CHECK, json={"branchId": BRANCH, "barcode": code},
                     headers=bearer).status_code == 503
    assert http.post(CHECK, json={"barcode": code}, headers=bearer).status_code == 422
    assert http.post(CHECK, json={"branchId": BRANCH, "barcode": code},
                     headers=bearer).status_code == 200


def test_codes_can_be_reusable_for_a_pos_developer():
    with (
        DiiaSandbox(one_time_codes=False) as reusable,
        httpx.Client(base_url=reusable.base_url, trust_env=False) as client,
    ):
        headers = {"Authorization": f"Bearer {login(reusable, client)}"}
        body = {"branchId": BRANCH, "barcode": reusable.mint()}
        assert [client.post(CHECK, json=body, headers=headers).status_code
                for _ in range(3)] == [200] * 3


# --- the name check -------------------------------------------------------------------------


def name_body(code: str, last: str, first: str, middle: str | None = None) -> dict:
    body = {"branchId": BRANCH, "barcode": code, "lastName": last, "firstName": first}
    if middle is not None:
        body["middleName"] = middle
    return body


@pytest.mark.parametrize(
    ("asked", "success"),
    [
        (("Шевченко", "Тарас", "Григорович"), True),
        (("ШЕВЧЕНКО", " тарас ", "григорович"), True),  # case and spacing do not count
        (("Шевченко", "Тарас", None), False),  # the holder has a middle name
        (("Шевченко", "Тарас", "Іванович"), False),
        (("Коваленко", "Тарас", "Григорович"), False),
    ],
)
def test_name_check(sandbox, http, bearer, asked, success):
    code = sandbox.mint(name=HolderName("Шевченко", "Тарас", "Григорович"))
    answer = http.post(CHECK, json=name_body(code, *asked), headers=bearer)
    assert answer.json() == {"success": success}


def test_name_check_apostrophes_are_one_letter(sandbox, http, bearer):
    code = sandbox.mint(name=HolderName("Дем’яненко", "Мар’яна"))
    assert http.post(CHECK, json=name_body(code, "Дем'яненко", "Марʼяна"),
                     headers=bearer).json() == {"success": True}


def test_name_check_of_a_not_valid_document_is_no(sandbox, http, bearer):
    code = sandbox.mint("not_valid", name=HolderName("Коваль", "Ірина"))
    assert http.post(CHECK, json=name_body(code, "Коваль", "Ірина"),
                     headers=bearer).json() == {"success": False}


@pytest.mark.parametrize(
    ("extra", "fields"),
    [
        ({"lastName": "Коваль"}, ["firstName"]),
        ({"lastName": "", "firstName": "Ірина"}, ["lastName"]),
        ({"lastName": "Коваль", "firstName": "Ірина", "middleName": 5}, ["middleName"]),
    ],
)
def test_name_check_validation_errors(sandbox, http, bearer, extra, fields):
    body = {"branchId": BRANCH, "barcode": sandbox.mint(), **extra}
    answer = http.post(CHECK, json=body, headers=bearer)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["data"]["errors"]] == fields


# --- more faults ------------------------------------------------------------------------------


def test_reset_fault_resets_the_connection(sandbox, http, bearer):
    sandbox.fail("reset")
    with pytest.raises(httpx.ReadError):
        http.post(CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()}, headers=bearer)
    assert sandbox.requests[-1].status == 0


def test_status_fault_is_a_gateway_page(sandbox, http, bearer):
    sandbox.fail("status:502")
    answer = http.post(CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()},
                       headers=bearer)
    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html")


def test_refuse_fault_on_logins_and_on_checks(sandbox, http):
    sandbox.fail("refuse", on="logins")
    answer = http.get(f"/api/v1/auth/acquirer/{sandbox.credentials.acquirer_token}",
                      headers={"Authorization": f"Basic {sandbox.credentials.auth_token}"})
    assert (answer.status_code, answer.json()["message"]) == (401, "Acquirer not found")
    sandbox.fail(None, on="logins")
    headers = {"Authorization": f"Bearer {login(sandbox, http)}"}
    sandbox.fail("refuse")
    answer = http.post(CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()},
                       headers=headers)
    assert answer.status_code == 401


def test_lose_fault_does_the_work_but_loses_the_answer(sandbox, http, bearer):
    code = sandbox.mint(fault="lose")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(CHECK, json={"branchId": BRANCH, "barcode": code}, headers=bearer)
    again = http.post(CHECK, json={"branchId": BRANCH, "barcode": code}, headers=bearer)
    assert again.status_code == 400 and "used" in again.json()["message"]


def test_faults_can_be_limited_to_a_number_of_calls(sandbox, http, bearer):
    sandbox.fail("unavailable", times=2)
    statuses = [
        http.post(CHECK, json={"branchId": BRANCH, "barcode": sandbox.mint()},
                  headers=bearer).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]


@pytest.mark.parametrize(
    "fault", ["status:404", "status:5xx", "status", "slow:-1", "lose:1", "bogus", "slow:x"]
)
def test_malformed_faults_are_refused(sandbox: DiiaSandbox, fault):
    with pytest.raises(ValueError):
        sandbox.fail(fault)
    with pytest.raises(ValueError):
        sandbox.mint(fault=fault)


def test_fail_refuses_bad_targets_and_counts(sandbox: DiiaSandbox):
    for kwargs in ({"on": "everything"}, {"times": 0}, {"latency_s": -1.0}):
        with pytest.raises(ValueError):
            sandbox.fail("unavailable", **kwargs)  # type: ignore[arg-type]


# --- its clock, the proxy form, the request log -------------------------------------------------


def test_clock_offset_shows_in_date_header_tokens_and_expiry(sandbox, http, bearer):
    sandbox.clock_offset_s = 3600.0
    token = login(sandbox, http)
    answer = http.get("/api/v1/nothing-here")
    date = parsedate_to_datetime(answer.headers["Date"]).timestamp()
    assert date - time.time() == pytest.approx(3600, abs=2)
    assert claims(token)["iat"] - time.time() == pytest.approx(3600, abs=2)
    # A code minted before the clock moved an hour on has expired by the sandbox's clock.
    sandbox.clock_offset_s = 0.0
    code = sandbox.mint()
    sandbox.clock_offset_s = 3600.0
    answer = http.post(CHECK, json={"branchId": BRANCH, "barcode": code},
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.json()["message"] == "Code has been expired!"


def test_a_proxy_style_request_is_answered_and_marked(sandbox: DiiaSandbox):
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        raw.sendall(b"GET http://api2s.diia.gov.ua/api/v1/nothing HTTP/1.1\r\n"
                    b"Host: api2s.diia.gov.ua\r\nConnection: close\r\n\r\n")
        reply = raw.recv(4096)
    assert reply.startswith(b"HTTP/1.1 404")
    assert sandbox.requests[-1].proxied and sandbox.requests[-1].path == "/api/v1/nothing"


def test_request_log_holds_bodies_agents_and_server_time(sandbox, http, bearer):
    sandbox.fail(None, latency_s=0.05)
    body = {"branchId": BRANCH, "barcode": sandbox.mint()}
    http.post(CHECK, json=body, headers={**bearer, "User-Agent": "pos-test/1"})
    entry = sandbox.requests[-1]
    assert (entry.body, entry.user_agent, entry.proxied) == (body, "pos-test/1", False)
    assert entry.server_ms >= 50


# --- the admin API ----------------------------------------------------------------------------


def test_admin_summary_tells_how_to_log_in(sandbox: DiiaSandbox, http: httpx.Client):
    summary = http.get("/sandbox").json()
    assert summary["branch_id"] == BRANCH
    assert summary["KIOSK_DIIA_AUTH_TOKEN"] == sandbox.credentials.auth_token
    assert "POST /sandbox/codes" in summary["routes"]
    assert sandbox.requests == []  # the admin API is not Diia's: not in the request log


def test_admin_mints_codes_the_api_then_answers(sandbox, http, bearer):
    minted = http.post("/sandbox/codes", json={
        "state": "valid", "age": 17, "name": {"last_name": "Мельник", "first_name": "Ганна"}})
    assert minted.status_code == 201
    code = minted.json()["code"]
    assert is_diia_barcode(code) and minted.json()["valid_for_s"] == 180
    age = http.post(AGE, json={"branchId": BRANCH, "barcode": code, "age": 18}, headers=bearer)
    assert age.json() == {"success": False}
    qr_code = http.post("/sandbox/codes", json={"kind": "qr"}).json()["code"]
    assert is_diia_qr(qr_code)


def test_admin_controls_faults_tokens_and_clock(sandbox, http, bearer):
    assert http.post("/sandbox/faults", json={"fault": "unavailable"}).status_code == 200
    body = {"branchId": BRANCH, "barcode": sandbox.mint()}
    assert http.post(CHECK, json=body, headers=bearer).status_code == 503
    http.post("/sandbox/faults", json={"fault": None})
    assert http.post("/sandbox/tokens/revoke", json={}).json() == {"revoked": 1}
    assert http.post(CHECK, json=body, headers=bearer).status_code == 401
    assert http.post("/sandbox/clock", json={"offset_s": -90}).json() == {"offset_s": -90.0}
    assert sandbox.clock_offset_s == -90.0
    log = http.get("/sandbox/requests", params={"limit": 2}).json()["requests"]
    assert [entry["status"] for entry in log] == [503, 401]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/sandbox/codes", {"state": "lost"}, 400),
        ("POST", "/sandbox/codes", {"age": "old"}, 400),
        ("POST", "/sandbox/codes", {"colour": "red"}, 400),
        ("POST", "/sandbox/codes", {"name": {"last_name": "X"}}, 400),
        ("POST", "/sandbox/faults", {"fault": "explode"}, 400),
        ("POST", "/sandbox/faults", {"fault": "drop", "on": "everything"}, 400),
        ("POST", "/sandbox/clock", {"offset_s": "noon"}, 400),
        ("POST", "/sandbox/clock", [1], 400),
        ("GET", "/sandbox/codes", None, 404),
        ("GET", "/sandbox/requests?limit=-1", None, 400),
    ],
)
def test_admin_refuses_bad_input_clearly(http, method, path, body, status):
    answer = http.request(method, path, json=body)
    assert answer.status_code == status
    assert answer.json()["error"]


def _as_a_background_job() -> None:
    # What `kiosk sandbox &` in a shell script gets: SIGINT and SIGQUIT ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


@pytest.mark.parametrize(("stop_with", "started"), [
    (signal.SIGINT, None), (signal.SIGTERM, None), (signal.SIGTERM, _as_a_background_job),
    (signal.SIGINT, _as_a_background_job),
], ids=["ctrl-c", "kill", "kill-background-job", "ctrl-c-background-job"])
def test_kiosk_sandbox_command_prints_how_to_use_it_and_serves(tmp_path, stop_with, started):
    out = tmp_path / "out.txt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-m", "kiosk", "sandbox", "--port", "0"],
                                   stdout=sink, stderr=subprocess.STDOUT, env=env,
                                   preexec_fn=started)
    try:
        deadline = time.monotonic() + 20
        while "everything" not in out.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, out.read_text()
            time.sleep(0.05)
        text = out.read_text()
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
        assert url, text
        for needle in ("KIOSK_DIIA_ACQUIRER_TOKEN=", "/sandbox/codes", "/sandbox/faults",
                       "/sandbox/clock", "/sandbox/tokens/revoke", "branch_id"):
            assert needle in text
        minted = httpx.post(url.group(1) + "/sandbox/codes", json={"state": "used"}, timeout=5)
        assert minted.status_code == 201 and is_diia_barcode(minted.json()["code"])
    finally:
        process.send_signal(stop_with)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:  # never leave a server behind a failed assertion
                process.kill()
                process.wait()
