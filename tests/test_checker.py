"""DiiaChecker against the real sandbox: every answer, error and fault becomes a verdict."""

from __future__ import annotations

import json
import time

import pytest

from kiosk.checking.checker import DiiaChecker, SeenCodes
from kiosk.checking.names import FixedName, NameFile
from kiosk.config import Credentials
from kiosk.decoding.codes import to_code
from kiosk.diia.client import DiiaClient
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Code, HolderName, Outcome, Verdict


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
    assert (verdict.outcome, str(verdict.reason), verdict.mode) == (outcome, reason, mode)
    assert verdict.ms["diia"] > 0
    assert not verdict.cached


def test_unknown_code_fails_as_not_found(client) -> None:
    verdict = DiiaChecker(client, mode="validate").check(barcode("3559217693026"))
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.FAIL, "not_found")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("unavailable", "diia_unavailable"), ("drop", "network"), ("malformed", "bad_response"),
     ("slow:2", "timeout")],
)
def test_diia_trouble_is_never_green(sandbox, client, fault, reason) -> None:
    code = barcode(sandbox.mint("valid", fault=fault))
    verdict = DiiaChecker(client, mode="validate").check(code)
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, reason)


def test_wrong_credentials_give_unknown_auth_failed(sandbox) -> None:
    from kiosk.config import Credentials

    wrong = Credentials("not-the-token", sandbox.credentials.auth_token)
    with DiiaClient(sandbox.base_url, wrong, sandbox.branch_id, timeout_s=1.0) as bad:
        verdict = DiiaChecker(bad, mode="validate").check(barcode(sandbox.mint("valid")))
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "auth_failed")


def test_a_code_seen_again_is_answered_from_memory(sandbox, client) -> None:
    checker = DiiaChecker(client, mode="age", min_age=18)
    code = barcode(sandbox.mint("valid", age=30))
    first, second = checker.check(code), checker.check(code)
    assert checks(sandbox) == 1
    assert (second.outcome, str(second.reason), second.cached) == (Outcome.PASS, "valid", True)
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
    assert (refused.outcome, str(refused.reason)) == (Outcome.UNKNOWN, "qr_not_supported")
    assert checks(sandbox) == 1


class ExplodingDiia:
    """A client with a bug in it: the checker must still answer amber."""

    def validate(self, code: Code) -> bool:
        raise KeyError("bug")

    def check_age(self, code: Code, min_age: int) -> bool:
        return "yes"  # type: ignore[return-value]  # not a bool: must not pass

    def check_name(self, code: Code, name: HolderName) -> bool:
        return None  # type: ignore[return-value]  # not a bool: must not fail the customer


def test_a_bug_below_the_checker_is_amber_not_a_crash() -> None:
    code = barcode("3559217693026")
    name = FixedName(HolderName("Петренко", "Олена"))
    for mode in ("validate", "age", "name"):
        verdict = DiiaChecker(ExplodingDiia(), mode=mode, names=name).check(code)
        assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "bad_response"), mode


def test_code_id_is_a_keyed_hash_not_the_code() -> None:
    code = barcode("3559217693026")
    a = DiiaChecker(ExplodingDiia(), mode="validate", hash_key=b"k1").code_id(code)
    b = DiiaChecker(ExplodingDiia(), mode="validate", hash_key=b"k2").code_id(code)
    assert a != b and len(a) == 8 and code.text[:8] not in (a, b)


def test_seen_codes_expire_after_three_minutes() -> None:
    now = [1000.0]
    seen = SeenCodes(clock=lambda: now[0])
    from kiosk.model import CodeKind, Reason, Verdict

    verdict = Verdict(Reason.VALID, "age", CodeKind.BARCODE, "abcd1234")
    seen.put("k", verdict)
    now[0] += 179.9
    assert seen.get("k") is verdict
    now[0] += 0.2
    assert seen.get("k") is None
    seen.put("a", verdict)
    now[0] += 200
    seen.put("b", verdict)
    assert len(seen) == 1  # stale entries are dropped, memory stays flat


# --- every row of the error table and every fault, as a verdict -----------------------------

DEADLINE_S = 0.6


def timed_check(checker: DiiaChecker, code: Code) -> tuple[Verdict, float]:
    started = time.monotonic()
    verdict = checker.check(code)
    return verdict, time.monotonic() - started


@pytest.fixture
def quick(sandbox: DiiaSandbox):
    """A client with a short deadline, already logged in (its connection kept alive)."""
    with DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id,
                    timeout_s=DEADLINE_S) as diia:
        diia.login()
        yield diia


@pytest.mark.parametrize(
    ("mode", "state", "outcome", "reason"),
    [
        ("validate", "valid", Outcome.PASS, "valid"),
        ("validate", "not_valid", Outcome.FAIL, "not_valid"),  # 200 {"success": false}
        ("age", "not_valid", Outcome.FAIL, "underage"),  # the age endpoint only says no
        ("name", "not_valid", Outcome.FAIL, "name_mismatch"),
        ("validate", "expired", Outcome.FAIL, "expired"),  # 400 Code has been expired!
        ("validate", "used", Outcome.FAIL, "used"),  # 400 This code has been used already!
    ],
)
def test_diia_answers_in_every_mode(sandbox, quick, mode, state, outcome, reason) -> None:
    holder = HolderName("Петренко", "Олена", "Іванівна")
    checker = DiiaChecker(quick, mode=mode, names=FixedName(holder))
    verdict, took = timed_check(checker, barcode(sandbox.mint(state, age=40, name=holder)))
    assert (verdict.outcome, str(verdict.reason)) == (outcome, reason)
    assert took < DEADLINE_S + 1


def test_row_404_no_record_is_fail_not_found(quick) -> None:
    verdict, took = timed_check(DiiaChecker(quick, mode="age"), barcode("3559217693026"))
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.FAIL, "not_found")
    assert took < DEADLINE_S + 1


def test_row_422_is_unknown_bad_request(sandbox) -> None:
    with DiiaClient(sandbox.base_url, sandbox.credentials, "not-our-branch",
                    timeout_s=DEADLINE_S) as wrong:
        verdict, took = timed_check(DiiaChecker(wrong, mode="validate"),
                                    barcode(sandbox.mint()))
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "bad_request")
    assert took < DEADLINE_S + 1


def test_row_401_unknown_acquirer_is_unknown_auth_failed(sandbox) -> None:
    wrong = Credentials("unknown-acquirer", sandbox.credentials.auth_token)
    with DiiaClient(sandbox.base_url, wrong, sandbox.branch_id, timeout_s=DEADLINE_S) as bad:
        verdict, took = timed_check(DiiaChecker(bad, mode="age"), barcode(sandbox.mint()))
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "auth_failed")
    assert took < DEADLINE_S + 1


@pytest.mark.parametrize(
    ("fault", "scope", "reason"),
    [
        ("unavailable", "checks", "diia_unavailable"),  # 503 ServiceNotAvailableError
        ("status:502", "checks", "diia_unavailable"),
        ("status:500", "logins", "diia_unavailable"),
        ("refuse", "checks", "auth_failed"),  # 401 on the bearer, after a fresh login too
        ("refuse", "logins", "auth_failed"),
        ("drop", "checks", "network"),
        ("reset", "checks", "network"),
        ("reset", "logins", "network"),
        ("malformed", "checks", "bad_response"),
        ("malformed", "logins", "bad_response"),
        ("slow:3", "checks", "timeout"),
        ("slow:3", "logins", "timeout"),
        ("slow:3", "code", "timeout"),
        ("unavailable", "code", "diia_unavailable"),
        ("lose", "checks", "network"),  # every answer lost, the retry's too
        ("lose", "once", "used"),  # done and lost, then "used" on the retry: not red
        ("lose", "code", "used"),
    ],
)
def test_every_fault_is_unknown_within_the_deadline(sandbox, fault, scope, reason) -> None:
    with DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id,
                    timeout_s=DEADLINE_S) as diia:
        if scope != "logins":
            diia.login()
        for mode in ("validate", "age"):
            if scope == "code":
                code = barcode(sandbox.mint(fault=fault))
            else:
                once = scope == "once"
                sandbox.fail(fault, on="checks" if once else scope, times=1 if once else None)
                code = barcode(sandbox.mint())
            verdict, took = timed_check(DiiaChecker(diia, mode=mode), code)
            assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, reason), mode
            assert took < DEADLINE_S + 1


def test_added_latency_within_the_deadline_still_passes(sandbox, quick) -> None:
    sandbox.fail(None, latency_s=DEADLINE_S / 3)
    verdict, took = timed_check(DiiaChecker(quick, mode="validate"), barcode(sandbox.mint()))
    assert verdict.outcome is Outcome.PASS
    assert DEADLINE_S / 3 <= took < DEADLINE_S


def test_diia_down_entirely_is_unknown_network(sandbox, quick) -> None:
    code = barcode(sandbox.mint())
    sandbox.stop()
    verdict, took = timed_check(DiiaChecker(quick, mode="validate"), code)
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "network")
    assert took < DEADLINE_S + 1


def test_a_clock_offset_at_diia_changes_nothing(quick) -> None:
    with DiiaSandbox(clock_offset_s=-3 * 3600) as behind:
        with DiiaClient(behind.base_url, behind.credentials, behind.branch_id) as diia:
            checker = DiiaChecker(diia, mode="validate")
            assert [checker.check(barcode(behind.mint())).outcome for _ in range(3)] == [
                Outcome.PASS] * 3
        assert behind.logins == 1


# --- the session token mid-run --------------------------------------------------------------


def test_token_expiring_mid_run_is_renewed_without_a_wrong_verdict() -> None:
    with DiiaSandbox(token_lifetime_s=0.6) as short:
        with DiiaClient(short.base_url, short.credentials, short.branch_id) as diia:
            checker = DiiaChecker(diia, mode="age", min_age=18)
            verdicts = []
            for i in range(12):
                verdicts.append(checker.check(barcode(short.mint(age=17 if i % 3 else 30))))
                time.sleep(0.1)
        assert [(v.outcome, str(v.reason)) for v in verdicts] == [
            (Outcome.PASS, "valid") if i % 3 == 0 else (Outcome.FAIL, "underage")
            for i in range(12)]
        assert short.logins >= 3  # renewed at half life, before the token died
        assert all(r.status == 200 for r in short.requests)


def test_token_revoked_mid_run_is_renewed_without_a_wrong_verdict(sandbox, client) -> None:
    checker = DiiaChecker(client, mode="validate")
    outcomes = []
    for i in range(6):
        if i in (2, 4):
            sandbox.revoke_tokens()
        outcomes.append(checker.check(barcode(sandbox.mint())).outcome)
    outcomes.append(checker.check(barcode(sandbox.mint("not_valid"))).outcome)
    assert outcomes == [Outcome.PASS] * 6 + [Outcome.FAIL]
    assert sandbox.logins == 3
    assert [r.status for r in sandbox.requests if "acquirers" in r.path].count(401) == 2


# --- the same code again ----------------------------------------------------------------------


def test_the_same_code_shown_twice_asks_diia_once(sandbox, client) -> None:
    checker = DiiaChecker(client, mode="validate")
    code = barcode(sandbox.mint("not_valid"))
    first, second = checker.check(code), checker.check(code)
    assert checks(sandbox) == 1
    assert (first.cached, second.cached) == (False, True)
    assert (second.outcome, str(second.reason), second.code_id) == (
        first.outcome, str(first.reason), first.code_id)


def test_cached_verdicts_expire_with_the_code(sandbox, client) -> None:
    now = [0.0]
    checker = DiiaChecker(client, mode="validate", seen=SeenCodes(clock=lambda: now[0]))
    code = barcode(sandbox.mint())
    checker.check(code)
    now[0] += 181
    again = checker.check(code)
    assert (again.outcome, str(again.reason), again.cached) == (Outcome.FAIL, "used", False)
    assert checks(sandbox) == 2


def test_used_after_our_own_timeout_is_unknown_not_fail(sandbox, quick) -> None:
    checker = DiiaChecker(quick, mode="validate")
    code = barcode(sandbox.mint(fault=f"slow:{DEADLINE_S + 0.3}"))  # Diia is late, then uses it
    first = checker.check(code)
    assert (first.outcome, str(first.reason)) == (Outcome.UNKNOWN, "timeout")
    deadline = time.monotonic() + 3
    while checks(sandbox) < 1 and time.monotonic() < deadline:  # Diia finishes the late check
        time.sleep(0.02)
    again = checker.check(code)  # the customer shows the same code again
    assert (again.outcome, str(again.reason), again.cached) == (Outcome.UNKNOWN, "used", False)
    other = barcode(sandbox.mint("used"))
    assert checker.check(other).outcome is Outcome.FAIL  # a code we never failed on: red


# --- mode "name" ------------------------------------------------------------------------------


def test_name_mode_without_a_name_never_asks_diia(sandbox, client) -> None:
    verdict = DiiaChecker(client, mode="name").check(barcode(sandbox.mint()))
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "name_missing")
    assert sandbox.requests == []


def test_name_mode_passes_the_holder_and_fails_anyone_else(sandbox, client) -> None:
    holder = HolderName("Бондаренко", "Марія", "Олегівна")
    checker = DiiaChecker(client, mode="name", names=FixedName(holder))
    ok = checker.check(barcode(sandbox.mint(name=holder)))
    other = checker.check(barcode(sandbox.mint(name=HolderName("Бондаренко", "Марія", "Ігорівна"))))
    assert (ok.outcome, str(ok.reason), ok.mode) == (Outcome.PASS, "valid", "name")
    assert (other.outcome, str(other.reason)) == (Outcome.FAIL, "name_mismatch")


def test_name_mode_remembers_a_verdict_per_code_and_name(sandbox, client, tmp_path) -> None:
    path = tmp_path / "order.json"
    holder = {"last_name": "Бондаренко", "first_name": "Марія"}
    checker = DiiaChecker(client, mode="name", names=NameFile(path))
    code = barcode(sandbox.mint(name=HolderName("Бондаренко", "Марія")))
    path.write_text(json.dumps(holder))
    assert checker.check(code).outcome is Outcome.PASS
    assert not path.exists()  # one order's name serves one verdict
    assert str(checker.check(code).reason) == "name_missing"
    path.write_text(json.dumps(holder))
    assert checker.check(code).cached
    path.write_text(json.dumps({**holder, "first_name": "Ганна"}))
    different = checker.check(code)
    assert not different.cached and str(different.reason) == "used"  # asked Diia, not the cache
    assert checks(sandbox) == 2


# --- a check the till armed, with its own terms -----------------------------------------------


def test_the_till_s_terms_set_the_question_for_that_check(sandbox, client) -> None:
    from kiosk.model import CheckTerms

    checker = DiiaChecker(client, mode="validate", min_age=18)
    adult_of_19 = barcode(sandbox.mint("valid", age=19))
    verdict = checker.check(adult_of_19, CheckTerms("c1", mode="age", min_age=21))
    assert (verdict.outcome, str(verdict.reason), verdict.mode) == (
        Outcome.FAIL, "underage", "age")
    holder = HolderName("Бондаренко", "Марія")
    named = barcode(sandbox.mint(name=holder))
    by_name = checker.check(named, CheckTerms("c2", mode="name", names=holder))
    assert (by_name.outcome, by_name.mode) == (Outcome.PASS, "name")
    assert checker.check(barcode(sandbox.mint())).mode == "validate"  # no terms: the config's


def test_a_remembered_verdict_answers_only_the_same_question(sandbox, client) -> None:
    from kiosk.model import CheckTerms

    checker = DiiaChecker(client, mode="age", min_age=18)
    code = barcode(sandbox.mint("valid", age=19))
    assert checker.check(code).outcome is Outcome.PASS
    assert checker.check(code).cached
    stricter = checker.check(code, CheckTerms("c1", min_age=21))
    assert not stricter.cached  # a pass at 18 says nothing about 21: Diia is asked
    assert checks(sandbox) == 2
