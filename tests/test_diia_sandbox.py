"""The Diia sandbox as a POS developer meets it: raw HTTP on loopback, no kiosk client."""

from __future__ import annotations

import base64
import json
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from kiosk.codes import is_diia_barcode, is_diia_qr
from kiosk.diia.sandbox import DiiaSandbox

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
    body = {"branchId": BRANCH, "barcode": sandbox.mint()}
    times = []
    for _ in range(20):
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
