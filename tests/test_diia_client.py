"""DiiaClient against the real sandbox on loopback: tokens, answers, errors, secrecy."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import certifi
import httpx
import pytest

import kiosk
from kiosk.config import Credentials
from kiosk.decoding.codes import to_code
from kiosk.diia.client import DiiaClient, Exchange
from kiosk.diia.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    CodeExpired,
    CodeNotFound,
    CodeRejected,
    CodeUsed,
    DiiaError,
    DiiaTimeout,
    DiiaUnavailable,
    NetworkError,
    UsedAfterFailedAttempt,
)
from kiosk.diia.redaction import redact
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.diia.tokens import DEFAULT_TOKEN_LIFETIME_S, jwt_claims, token_lifetime
from kiosk.diia.transport import WallTransport, environment_proxy
from kiosk.model import Code, CodeKind, HolderName
from tests.tls import write_tls_files

BRANCH = "sandbox-branch"


class RecordingTransport(httpx.HTTPTransport):
    """A real transport that keeps every request it sends, for assertions on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return super().handle_request(request)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox() -> Iterator[DiiaSandbox]:
    with DiiaSandbox() as running:
        yield running


@pytest.fixture
def make_client(sandbox: DiiaSandbox) -> Iterator[Callable[..., DiiaClient]]:
    clients: list[DiiaClient] = []

    def make(**kwargs: object) -> DiiaClient:
        kwargs.setdefault("timeout_s", 2.0)
        client = DiiaClient(sandbox.base_url, sandbox.credentials, BRANCH, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., DiiaClient]) -> DiiaClient:
    return make_client()


def barcode(sandbox: DiiaSandbox, state: str = "valid", **kwargs: object) -> Code:
    code = to_code(sandbox.mint(state, **kwargs), "typed")  # type: ignore[arg-type]
    assert code is not None, "the sandbox must mint codes the kiosk accepts"
    return code


def qr(sandbox: DiiaSandbox, state: str = "valid") -> Code:
    code = to_code(sandbox.mint(state, kind="qr"), "QRCode")
    assert code is not None
    return code


def check_paths(sandbox: DiiaSandbox) -> list[tuple[str, int]]:
    return [(r.path, r.status) for r in sandbox.requests if "acquirers" in r.path]


# --- answers -----------------------------------------------------------------------------


def test_valid_code_is_true_and_not_valid_is_false(sandbox: DiiaSandbox, client: DiiaClient):
    assert client.validate(barcode(sandbox, "valid")) is True
    assert client.validate(barcode(sandbox, "not_valid")) is False


def test_age_check_passes_adult_and_refuses_minor(sandbox: DiiaSandbox, client: DiiaClient):
    assert client.check_age(barcode(sandbox, age=18), 18) is True
    assert client.check_age(barcode(sandbox, age=17), 18) is False
    assert sandbox.requests[-1].path == "/api/v1/acquirers/document-identification/age"


def test_age_field_name_is_configurable():
    with DiiaSandbox(age_field="minAge") as other:
        agreeing = DiiaClient(other.base_url, other.credentials, BRANCH, age_field="minAge")
        default = DiiaClient(other.base_url, other.credentials, BRANCH)
        with agreeing, default:
            assert agreeing.check_age(barcode(other, age=40), 21) is True
            with pytest.raises(BadRequest, match="minAge"):
                default.check_age(barcode(other, age=40), 21)


def test_barcode_and_qr_bodies_on_the_wire(sandbox: DiiaSandbox, make_client):
    transport = RecordingTransport()
    client = make_client(transport=transport, qr_field="qrText")
    code = barcode(sandbox)
    client.validate(code)
    assert json.loads(transport.sent[-1].content) == {"branchId": BRANCH, "barcode": code.text}
    code = qr(sandbox)
    with pytest.raises(BadRequest, match="barcode"):  # the sandbox expects "qrcode"
        client.validate(code)
    assert json.loads(transport.sent[-1].content) == {"branchId": BRANCH, "qrText": code.text}


def test_qr_code_is_checked_through_qr_field(sandbox: DiiaSandbox, client: DiiaClient):
    assert client.validate(qr(sandbox, "valid")) is True
    assert client.validate(qr(sandbox, "not_valid")) is False


def test_headers_identify_the_kiosk_and_carry_the_tokens(sandbox: DiiaSandbox, make_client):
    transport = RecordingTransport()
    client = make_client(transport=transport)
    client.validate(barcode(sandbox))
    login, check = transport.sent
    for request in (login, check):
        assert request.headers["User-Agent"] == f"diia-kiosk/{kiosk.__version__}"
        assert request.headers["Accept"] == "application/json"
    assert login.headers["Authorization"] == f"Basic {sandbox.credentials.auth_token}"
    assert check.headers["Authorization"].startswith("Bearer ey")


# --- the session token -------------------------------------------------------------------


def test_one_login_serves_many_checks(sandbox: DiiaSandbox, client: DiiaClient):
    for _ in range(10):
        assert client.validate(barcode(sandbox)) is True
    assert sandbox.logins == 1


def test_one_tcp_connection_serves_logins_and_checks(sandbox: DiiaSandbox, client: DiiaClient):
    for _ in range(25):
        assert client.validate(barcode(sandbox)) is True
    client.login()
    assert client.connections_opened == 1
    assert sandbox.connections == 1  # the server agrees: the count is not a guess


def test_token_is_renewed_300_s_before_exp(sandbox: DiiaSandbox, make_client):
    clock = FakeClock(time.time())
    client = make_client(clock=clock)
    client.validate(barcode(sandbox))
    clock.now += 7200 - 300 - 1
    client.validate(barcode(sandbox))
    assert sandbox.logins == 1
    clock.now += 2
    client.validate(barcode(sandbox))
    assert sandbox.logins == 2
    assert all(status == 200 for _, status in check_paths(sandbox))  # renewed before any 401


def test_short_lived_token_is_renewed_before_it_expires():
    with DiiaSandbox(token_lifetime_s=0.4) as short:
        client = DiiaClient(short.base_url, short.credentials, BRANCH)
        with client:
            client.validate(barcode(short))
            time.sleep(0.25)  # past half life: renew, rather than wait for the 401
            assert client.validate(barcode(short)) is True
        assert short.logins == 2
        assert all(status == 200 for _, status in check_paths(short))


def test_revoked_token_means_one_login_and_one_retry(sandbox: DiiaSandbox, client: DiiaClient):
    client.validate(barcode(sandbox))
    sandbox.revoke_tokens()
    assert client.validate(barcode(sandbox)) is True  # the code is not used by the 401
    assert sandbox.logins == 2
    assert [status for _, status in check_paths(sandbox)] == [200, 401, 200]


def test_401_after_a_fresh_login_is_auth_failed():
    with DiiaSandbox(token_lifetime_s=0) as broken:  # every token is born expired
        with (
            DiiaClient(broken.base_url, broken.credentials, BRANCH) as client,
            pytest.raises(AuthFailed) as caught,
        ):
            client.validate(barcode(broken))
        assert broken.logins == 2  # retried exactly once
        assert caught.value.reason == "auth_failed"
        assert not caught.value.outcome_is_fail


def test_concurrent_checks_share_one_login(sandbox: DiiaSandbox, client: DiiaClient):
    codes = [barcode(sandbox) for _ in range(8)]
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(client.validate(c))) for c in codes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
    assert sandbox.logins == 1


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials("wrong-acquirer-token", "ignored"),
        Credentials("sandbox-acquirer-token", "d3JvbmctYmFzaWM="),
    ],
    ids=["acquirer_token", "auth_token"],
)
def test_wrong_credentials_are_auth_failed(sandbox: DiiaSandbox, credentials: Credentials):
    with DiiaClient(sandbox.base_url, credentials, BRANCH) as client:
        with pytest.raises(AuthFailed):
            client.login()
        with pytest.raises(AuthFailed):
            client.validate(barcode(sandbox))
    assert sandbox.logins == 0


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "error", "reason"),
    [("expired", CodeExpired, "expired"), ("used", CodeUsed, "used")],
)
def test_rejected_codes(sandbox: DiiaSandbox, client: DiiaClient, state, error, reason):
    with pytest.raises(error) as caught:
        client.validate(barcode(sandbox, state))
    assert isinstance(caught.value, CodeRejected)
    assert caught.value.reason == reason
    assert caught.value.outcome_is_fail


def test_unknown_code_is_not_found(client: DiiaClient):
    with pytest.raises(CodeNotFound) as caught:
        client.validate(Code("3559217693026", CodeKind.BARCODE, "EAN-13"))
    assert caught.value.reason == "not_found"
    assert caught.value.outcome_is_fail


def test_wrong_branch_is_bad_request_naming_the_field(sandbox: DiiaSandbox):
    with (
        DiiaClient(sandbox.base_url, sandbox.credentials, "other-branch") as client,
        pytest.raises(BadRequest, match="branchId") as caught,
    ):
        client.validate(barcode(sandbox))
    assert caught.value.reason == "bad_request"
    assert not caught.value.outcome_is_fail


def test_404_of_a_wrong_base_url_is_not_a_rejected_code(sandbox: DiiaSandbox):
    with (
        DiiaClient(sandbox.base_url + "/v9", sandbox.credentials, BRANCH) as client,
        pytest.raises(BadResponse),  # login itself 404s: never a red verdict
    ):
        client.validate(barcode(sandbox))


@pytest.mark.parametrize(
    ("fault", "error", "reason"),
    [
        ("unavailable", DiiaUnavailable, "diia_unavailable"),
        ("drop", NetworkError, "network"),
        ("malformed", BadResponse, "bad_response"),
    ],
)
@pytest.mark.parametrize("scope", ["global", "per_code"])
def test_faults_are_unknown_outcomes(sandbox, client, fault, error, reason, scope):
    if scope == "global":
        sandbox.fail(fault)
        code = barcode(sandbox)
    else:
        code = barcode(sandbox, fault=fault)
    with pytest.raises(error) as caught:
        client.validate(code)
    assert caught.value.reason == reason
    assert not caught.value.outcome_is_fail
    sandbox.fail(None)
    assert client.validate(barcode(sandbox)) is True  # the client recovers


def test_slow_answer_is_a_timeout_within_the_deadline(sandbox: DiiaSandbox, make_client):
    client = make_client(timeout_s=0.3)
    client.login()
    started = time.monotonic()
    with pytest.raises(DiiaTimeout) as caught:
        client.validate(barcode(sandbox, fault="slow:5"))
    assert time.monotonic() - started < 1.0
    assert caught.value.reason == "timeout"


def test_deadline_covers_login_and_call_together(sandbox: DiiaSandbox, make_client):
    sandbox.fail(None, latency_s=0.3)  # each answer alone fits, login plus call does not
    client = make_client(timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(DiiaTimeout):
        client.validate(barcode(sandbox))
    assert time.monotonic() - started < 0.9


def test_refused_connection_is_network_error(sandbox: DiiaSandbox, client: DiiaClient):
    code = barcode(sandbox)
    sandbox.stop()
    with pytest.raises(NetworkError) as caught:
        client.validate(code)
    assert caught.value.reason == "network"


def _mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> DiiaClient:
    credentials = Credentials("acq-token", "basic")
    return DiiaClient(
        "https://diia.test", credentials, BRANCH, transport=httpx.MockTransport(handler)
    )


def _jwt(claims: dict[str, object]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{payload}.sig"


@pytest.mark.parametrize(
    ("login", "check", "error"),
    [  # answers the sandbox, being well-behaved, never gives
        (httpx.Response(502, text="<html>"), None, DiiaUnavailable),
        (httpx.Response(200, json={"jwt": "x"}), None, BadResponse),
        (httpx.Response(200, text="not json"), None, BadResponse),
        (None, httpx.Response(200, json={"success": "yes"}), BadResponse),
        (None, httpx.Response(200, json=[True]), BadResponse),
        (None, httpx.Response(204), BadResponse),
        (None, httpx.Response(400, json={"message": "Request refused"}), BadResponse),
        (None, httpx.Response(404, text="<html>Not Found</html>"), BadResponse),
        (None, httpx.Response(500, text="oops"), DiiaUnavailable),
    ],
)
def test_unexpected_answers(login, check, error):
    def handler(request: httpx.Request) -> httpx.Response:
        if "/auth/" in request.url.path:
            return login or httpx.Response(200, json={"token": _jwt({"exp": 1})})
        return check

    with _mock_client(handler) as client, pytest.raises(error):
        client.validate(Code("3559217693026", CodeKind.BARCODE, "typed"))


def test_no_sockets_no_connections_counted():
    with _mock_client(
        lambda r: httpx.Response(200, json={"token": "t", "success": True})
    ) as client:
        assert client.validate(Code("3559217693026", CodeKind.BARCODE, "typed")) is True
        assert client.connections_opened == 0


# --- pure parts --------------------------------------------------------------------------


def test_token_lifetime_prefers_diia_clock_over_ours():
    assert token_lifetime(_jwt({"iat": 1000, "exp": 8200}), now=5_000_000) == 7200
    assert token_lifetime(_jwt({"exp": 1600}), now=1000) == 600
    assert token_lifetime(_jwt({"exp": 10}), now=1000) == DEFAULT_TOKEN_LIFETIME_S
    assert token_lifetime("not-a-jwt", now=0) == DEFAULT_TOKEN_LIFETIME_S
    assert jwt_claims("a.!!!.c") == {}
    assert jwt_claims(_jwt({"exp": 5})) == {"exp": 5}


def test_ca_file_adds_to_verification_and_must_exist(tmp_path):
    with DiiaClient("https://diia.test", Credentials("a", "b"), BRANCH, ca_file=certifi.where()):
        pass
    with pytest.raises(OSError):
        DiiaClient("https://diia.test", Credentials("a", "b"), BRANCH, ca_file=str(tmp_path / "no"))


def test_redact_masks_the_login_path_token():
    line = 'GET https://api2.diia.gov.ua/api/v1/auth/acquirer/s3cr%2Ft "HTTP/1.1 200 OK"'
    assert redact(line) == 'GET https://api2.diia.gov.ua/api/v1/auth/acquirer/*** "HTTP/1.1 200 OK"'


# --- secrecy -----------------------------------------------------------------------------


def test_httpx_request_log_line_has_no_acquirer_token(sandbox, client, caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    client.login()
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/auth/acquirer/*** " in line for line in lines), lines
    assert not any(sandbox.credentials.acquirer_token in line for line in lines)


def test_no_secret_or_code_in_logs_or_errors(sandbox: DiiaSandbox, make_client, caplog):
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore and kiosk loggers alike
    transport = RecordingTransport()
    client = make_client(transport=transport, timeout_s=0.5)
    codes = [barcode(sandbox), qr(sandbox)]
    errors: list[DiiaError] = []
    client.validate(codes[0])
    client.validate(codes[1])
    sandbox.revoke_tokens()
    codes.append(barcode(sandbox))
    client.check_age(codes[-1], 18)
    for state in ("expired", "used"):
        codes.append(barcode(sandbox, state))
    codes.append(Code("3559217693026", CodeKind.BARCODE, "typed"))
    for fault in ("unavailable", "drop", "malformed", "slow:2"):
        codes.append(barcode(sandbox, fault=fault))
    for code in codes[3:]:
        with pytest.raises(DiiaError) as caught:
            client.validate(code)
        errors.append(caught.value)
    with (
        DiiaClient(sandbox.base_url, sandbox.credentials, "nope") as wrong_branch,
        pytest.raises(BadRequest) as caught_422,
    ):
        wrong_branch.validate(codes[0])
    errors.append(caught_422.value)
    with (
        DiiaClient(sandbox.base_url, Credentials("acq-bad", "basic-bad"), BRANCH) as wrong,
        pytest.raises(AuthFailed) as caught_auth,
    ):
        wrong.login()
    errors.append(caught_auth.value)
    sandbox.stop()
    with pytest.raises(NetworkError) as caught_net:
        client.validate(codes[0])
    errors.append(caught_net.value)

    bearers = {
        r.headers["Authorization"].removeprefix("Bearer ")
        for r in transport.sent
        if r.headers["Authorization"].startswith("Bearer ")
    }
    assert len(bearers) == 2  # before and after the revocation
    secrets = [
        sandbox.credentials.acquirer_token,
        sandbox.credentials.auth_token,
        "acq-bad",
        "basic-bad",
        *bearers,
        *(code.text for code in codes),
    ]
    texts = [r.getMessage() for r in caplog.records]
    assert any(r.name == "httpx" for r in caplog.records)
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    for error in errors:
        assert error.__cause__ is None and error.__context__ is None
        texts += [str(error), repr(error), "".join(traceback.format_exception(error))]
        assert "http://" not in str(error) and "127.0.0.1" not in str(error)
    assert {type(e) for e in errors} >= {CodeExpired, DiiaTimeout, NetworkError, AuthFailed}
    for secret in secrets:
        for text in texts:
            assert secret not in text


# --- retries that cannot turn a good code into a false answer ----------------------------


def test_a_dead_kept_alive_connection_is_retried_once_on_a_new_one(sandbox, client):
    client.login()
    sandbox.fail("drop", times=1)  # as when the server closes an idle connection under us
    assert client.validate(barcode(sandbox)) is True
    assert client.connections_opened == 2
    assert [status for _, status in check_paths(sandbox)] == [0, 200]


def test_used_after_our_own_lost_attempt_is_not_the_customers_fault(sandbox, client):
    client.login()
    sandbox.fail("lose", times=1)  # Diia did the check and used the code; the answer was lost
    with pytest.raises(UsedAfterFailedAttempt) as caught:
        client.validate(barcode(sandbox))
    assert [status for _, status in check_paths(sandbox)] == [0, 400]
    assert caught.value.reason == "used"
    assert not caught.value.outcome_is_fail  # amber, never red
    assert caught.value.code_may_be_used


def test_a_drop_on_a_fresh_connection_is_not_retried(sandbox, client):
    sandbox.fail("drop", on="logins", times=1)
    with pytest.raises(NetworkError):
        client.validate(barcode(sandbox))
    assert [r.path for r in sandbox.requests] == ["/api/v1/auth/acquirer/***"]


@pytest.mark.parametrize(
    ("fault", "error", "may_be_used"),
    [
        ("reset", NetworkError, True),
        ("status:502", DiiaUnavailable, True),
        ("refuse", AuthFailed, False),
        ("malformed", BadResponse, True),
    ],
)
def test_more_faults(sandbox, client, fault, error, may_be_used):
    client.login()
    sandbox.fail(fault)
    with pytest.raises(error) as caught:
        client.validate(barcode(sandbox))
    assert caught.value.code_may_be_used is may_be_used
    assert not caught.value.outcome_is_fail


def test_refused_token_after_a_fresh_login_is_tried_exactly_twice(sandbox, client):
    sandbox.fail("refuse")
    with pytest.raises(AuthFailed):
        client.validate(barcode(sandbox))
    assert [status for _, status in check_paths(sandbox)] == [401, 401]
    assert sandbox.logins == 2


def test_timeout_after_sending_may_have_used_the_code(sandbox, make_client):
    client = make_client(timeout_s=0.3)
    client.login()
    with pytest.raises(DiiaTimeout) as caught:
        client.validate(barcode(sandbox, fault="slow:2"))
    assert caught.value.code_may_be_used


def test_login_trouble_never_marks_the_code(sandbox, make_client):
    client = make_client(timeout_s=0.3)
    sandbox.fail("slow:2", on="logins")
    with pytest.raises(DiiaTimeout) as caught:
        client.validate(barcode(sandbox))
    assert not caught.value.code_may_be_used
    assert check_paths(sandbox) == []  # the code never left the kiosk


def test_every_phase_shares_one_deadline(sandbox, make_client):
    sandbox.fail(None, latency_s=0.25)  # login, 401, login again, retry: 1 s of answers
    client = make_client(timeout_s=0.6)
    client.login()
    sandbox.revoke_tokens()
    started = time.monotonic()
    with pytest.raises(DiiaTimeout):
        client.validate(barcode(sandbox))
    assert time.monotonic() - started < 0.6 + 0.2


# --- the name check, login backoff, 422 ----------------------------------------------------


def test_name_check_matches_the_holder(sandbox: DiiaSandbox, client: DiiaClient):
    holder = HolderName("Шевченко", "Тарас", "Григорович")
    assert client.check_name(barcode(sandbox, name=holder), holder) is True
    assert sandbox.requests[-1].body == {
        "branchId": BRANCH, "barcode": sandbox.requests[-1].body["barcode"],
        "lastName": "Шевченко", "firstName": "Тарас", "middleName": "Григорович",
    }
    other = HolderName("Шевченко", "Тарас", "Іванович")
    assert client.check_name(barcode(sandbox, name=holder), other) is False


def test_name_check_leaves_out_an_empty_middle_name(sandbox: DiiaSandbox, client: DiiaClient):
    holder = HolderName("O'Connor", "Anna")
    assert client.check_name(barcode(sandbox, name=holder), HolderName("O’CONNOR", "anna"))
    assert "middleName" not in sandbox.requests[-1].body


def test_name_field_names_are_configurable():
    with DiiaSandbox(last_name_field="prizvyshche", first_name_field="imia",
                     middle_name_field="po_batkovi") as other:
        holder = HolderName("Коваль", "Ірина", "Петрівна")
        with DiiaClient(other.base_url, other.credentials, BRANCH, last_name_field="prizvyshche",
                        first_name_field="imia", middle_name_field="po_batkovi") as agreeing:
            assert agreeing.check_name(barcode(other, name=holder), holder) is True
        with DiiaClient(other.base_url, other.credentials, BRANCH) as default:
            # The sandbox knows no "lastName": a plain validation, not a name check.
            assert default.check_name(barcode(other, name=holder), holder) is True
        assert set(other.requests[-1].body) >= {"lastName", "firstName", "middleName"}


def test_a_422_is_logged_with_the_field_and_the_setting(sandbox, make_client, caplog):
    caplog.set_level(logging.ERROR, logger="kiosk.diia.client")
    client = make_client(age_field="minimumAge")
    with pytest.raises(BadRequest) as caught:
        client.check_age(barcode(sandbox), 18)
    assert caught.value.fields == ("age",)
    (line,) = [r.getMessage() for r in caplog.records]
    assert "fields age" in line


def test_a_422_names_the_setting_when_it_knows_it(sandbox, caplog):
    caplog.set_level(logging.ERROR, logger="kiosk.diia.client")
    with (
        DiiaClient(sandbox.base_url, sandbox.credentials, "other-branch") as client,
        pytest.raises(BadRequest),
    ):
        client.validate(barcode(sandbox))
    assert any("diia.branch_id" in r.getMessage() for r in caplog.records)


def test_wrong_secrets_are_not_retried_on_every_scan(sandbox, caplog):
    caplog.set_level(logging.DEBUG, logger="kiosk.diia.client")
    with DiiaClient(sandbox.base_url, Credentials("wrong", "wrong"), BRANCH) as client:
        for _ in range(5):
            with pytest.raises(AuthFailed):
                client.validate(barcode(sandbox))
        assert client.login_failing
    assert len(sandbox.requests) == 1  # one login tried; the rest waited for the backoff
    assert sum(r.levelno >= logging.ERROR for r in caplog.records) == 1


def test_a_login_refused_then_healed_comes_back(sandbox: DiiaSandbox, client: DiiaClient):
    sandbox.fail("refuse", on="logins", times=1)
    with pytest.raises(AuthFailed):
        client.validate(barcode(sandbox))
    time.sleep(1.05)  # the first backoff
    assert client.validate(barcode(sandbox)) is True
    assert not client.login_failing


# --- HTTP: identity, proxies, the server's clock, timings ----------------------------------


def test_every_request_names_the_kiosk_and_its_version(sandbox, client):
    client.validate(barcode(sandbox))
    assert {r.user_agent for r in sandbox.requests} == {f"diia-kiosk/{kiosk.__version__}"}


def test_proxy_from_the_environment_carries_the_calls_but_never_to_loopback(
        sandbox: DiiaSandbox, monkeypatch):
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", sandbox.base_url)  # the sandbox stands in for the proxy
    assert environment_proxy("https://api2.diia.gov.ua") == sandbox.base_url
    assert environment_proxy("https://localhost:9") is None  # loopback: never proxied
    # The transport the client builds from it: port 9 has no server, so only the proxy can
    # answer (the sandbox takes plain http, so the call goes to it in absolute form).
    transport = WallTransport(proxy=environment_proxy("https://api2.diia.gov.ua"))
    with DiiaClient("http://localhost:9", sandbox.credentials, BRANCH,
                    transport=transport) as client:
        assert client.validate(barcode(sandbox)) is True
    assert [r.proxied for r in sandbox.requests] == [True, True]


def test_server_clock_offset_comes_from_the_date_header():
    with DiiaSandbox(clock_offset_s=120) as ahead:
        with DiiaClient(ahead.base_url, ahead.credentials, BRANCH) as client:
            assert client.server_clock_offset_s is None
            client.login()
            assert client.server_clock_offset_s == pytest.approx(120, abs=1.0)
        kiosk_clock = FakeClock(time.time() - 300)  # and our own clock 5 minutes behind
        with DiiaClient(ahead.base_url, ahead.credentials, BRANCH, clock=kiosk_clock) as client:
            for _ in range(3):
                assert client.validate(barcode(ahead)) is True
            assert client.server_clock_offset_s == pytest.approx(420, abs=1.0)
        assert ahead.logins == 2  # Diia's iat/exp from its own clock: no needless renewals


def test_no_date_header_no_offset():
    with _mock_client(lambda r: httpx.Response(200, json={"token": "t", "success": True})) as c:
        c.validate(Code("3559217693026", CodeKind.BARCODE, "typed"))
        assert c.server_clock_offset_s is None


def test_exchanges_report_each_request(sandbox: DiiaSandbox, make_client):
    seen: list[Exchange] = []
    client = make_client(on_exchange=seen.append)
    client.check_age(barcode(sandbox), 18)
    client.validate(barcode(sandbox))
    assert [(x.call, x.status, x.new_connection) for x in seen] == [
        ("login", 200, True), ("age", 200, False), ("validate", 200, False)]
    assert all(x.ms > 0 for x in seen)


# --- TLS: verification always on, a CA file added ------------------------------------------


def test_tls_is_verified_and_a_ca_file_is_trusted_on_top(tmp_path: Path):
    ca, cert, key = write_tls_files(tmp_path, "127.0.0.1")
    with DiiaSandbox(tls=(str(cert), str(key))) as https:
        assert https.base_url.startswith("https://")
        with (
            DiiaClient(https.base_url, https.credentials, BRANCH, timeout_s=2.0) as strict,
            pytest.raises(NetworkError, match=r"(?i)certificate"),
        ):
            strict.validate(barcode(https))
        assert https.logins == 0  # nothing was sent to a server we could not verify
        with DiiaClient(https.base_url, https.credentials, BRANCH, ca_file=str(ca)) as trusting:
            assert trusting.validate(barcode(https)) is True
            assert trusting.connections_opened == 1
