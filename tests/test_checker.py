from __future__ import annotations

import pytest

from kiosk.checker import DiiaChecker, SeenCodes
from kiosk.codes import to_code
from kiosk.diia.client import DiiaClient
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Code, Outcome


def barcode(text: str) -> Code:
    code = to_code(text, "EAN-13")
    assert code is not None
    return code


def qr(text: str) -> Code:
    code = to_code(text, "QRCode")
    assert code is not None
    return code


@pytest.fixture
def client(sandbox: DiiaSandbox):
    with DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id,
                    timeout_s=1.0) as diia:
        yield diia


def checks(sandbox: DiiaSandbox) -> int:
    return sum(1 for r in sandbox.requests if "document-identification" in r.path)


@pytest.mark.parametrize(
    ("mode", "state", "age", "outcome", "reason"),
    [
        ("validate", "valid", 30, Outcome.PASS, "valid"),
        ("validate", "not_valid", 30, Outcome.FAIL, "not_valid"),
        ("validate", "expired", 30, Outcome.FAIL, "expired"),
        ("validate", "used", 30, Outcome.FAIL, "used"),
        ("age", "valid", 18, Outcome.PASS, "valid"),
        ("age", "valid", 17, Outcome.FAIL, "underage"),
        ("age", "expired", 40, Outcome.FAIL, "expired"),
    ],
)
def test_diia_answers_become_verdicts(sandbox, client, mode, state, age, outcome, reason) -> None:
    checker = DiiaChecker(client, mode=mode, min_age=18)
    verdict = checker.check(barcode(sandbox.mint(state, age=age)))
    assert (verdict.outcome, verdict.reason, verdict.mode) == (outcome, reason, mode)
    assert verdict.ms["diia"] > 0
    assert not verdict.cached


def test_unknown_code_fails_as_not_found(client) -> None:
    verdict = DiiaChecker(client, mode="validate").check(barcode("3559217693026"))
    assert (verdict.outcome, verdict.reason) == (Outcome.FAIL, "not_found")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("unavailable", "diia_unavailable"), ("drop", "network"), ("malformed", "bad_response"),
     ("slow:2", "timeout")],
)
def test_diia_trouble_is_never_green(sandbox, client, fault, reason) -> None:
    code = barcode(sandbox.mint("valid", fault=fault))
    verdict = DiiaChecker(client, mode="validate").check(code)
    assert (verdict.outcome, verdict.reason) == (Outcome.UNKNOWN, reason)


def test_wrong_credentials_give_unknown_auth_failed(sandbox) -> None:
    from kiosk.config import Credentials

    wrong = Credentials("not-the-token", sandbox.credentials.auth_token)
    with DiiaClient(sandbox.base_url, wrong, sandbox.branch_id, timeout_s=1.0) as bad:
        verdict = DiiaChecker(bad, mode="validate").check(barcode(sandbox.mint("valid")))
    assert (verdict.outcome, verdict.reason) == (Outcome.UNKNOWN, "auth_failed")


def test_a_code_seen_again_is_answered_from_memory(sandbox, client) -> None:
    checker = DiiaChecker(client, mode="age", min_age=18)
    code = barcode(sandbox.mint("valid", age=30))
    first, second = checker.check(code), checker.check(code)
    assert checks(sandbox) == 1
    assert (second.outcome, second.reason, second.cached) == (Outcome.PASS, "valid", True)
    assert first.code_id == second.code_id and not first.cached


def test_unknown_verdicts_are_asked_again(sandbox, client) -> None:
    checker = DiiaChecker(client, mode="validate")
    code = barcode(sandbox.mint("valid"))
    sandbox.fail("unavailable")
    assert checker.check(code).outcome is Outcome.UNKNOWN
    sandbox.fail(None)
    again = checker.check(code)
    assert (again.outcome, again.cached) == (Outcome.PASS, False)
    assert checks(sandbox) == 2


def test_qr_is_sent_when_allowed_and_refused_when_not(sandbox, client) -> None:
    code = qr(sandbox.mint("valid", kind="qr"))
    assert DiiaChecker(client, mode="validate").check(code).outcome is Outcome.PASS
    refused = DiiaChecker(client, mode="validate", send_qr=False).check(code)
    assert (refused.outcome, refused.reason) == (Outcome.UNKNOWN, "qr_not_supported")
    assert checks(sandbox) == 1


class ExplodingDiia:
    """A client with a bug in it: the checker must still answer amber."""

    def validate(self, code: Code) -> bool:
        raise KeyError("bug")

    def check_age(self, code: Code, min_age: int) -> bool:
        return "yes"  # type: ignore[return-value]  # not a bool: must not pass


def test_a_bug_below_the_checker_is_amber_not_a_crash() -> None:
    code = barcode("3559217693026")
    assert DiiaChecker(ExplodingDiia(), mode="validate").check(code).outcome is Outcome.UNKNOWN
    assert DiiaChecker(ExplodingDiia(), mode="age").check(code).outcome is Outcome.FAIL


def test_code_id_is_a_keyed_hash_not_the_code() -> None:
    code = barcode("3559217693026")
    a = DiiaChecker(ExplodingDiia(), mode="validate", hash_key=b"k1").code_id(code)
    b = DiiaChecker(ExplodingDiia(), mode="validate", hash_key=b"k2").code_id(code)
    assert a != b and len(a) == 8 and code.text[:8] not in (a, b)


def test_seen_codes_expire_after_three_minutes() -> None:
    now = [1000.0]
    seen = SeenCodes(clock=lambda: now[0])
    from kiosk.model import CodeKind, Verdict

    verdict = Verdict(Outcome.PASS, "valid", "age", CodeKind.BARCODE, "abcd1234")
    seen.put("k", verdict)
    now[0] += 179.9
    assert seen.get("k") is verdict
    now[0] += 0.2
    assert seen.get("k") is None
    seen.put("a", verdict)
    now[0] += 200
    seen.put("b", verdict)
    assert len(seen) == 1  # stale entries are dropped, memory stays flat
