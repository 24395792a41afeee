"""The till's API against a running `kiosk run` (codes typed on stdin), the Diia sandbox
beside it, driven by a real HTTP client as a till would."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import HolderName
from tests.kiosk_process import EventReader, RunningKiosk

MARKERS = ("Маркерзоненко", "Тестоміра", "Zqxmarkerovna")
HOLDER = HolderName(*MARKERS)
SHARE = "[share]\nwait_s = 10.0\npoll_s = 0.2\n"


def diia_calls(sandbox: DiiaSandbox) -> list[str]:
    return [r.path for r in sandbox.requests if "/auth/" not in r.path]


def test_arm_scan_verdict_in_every_mode_with_the_events_on_the_stream(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    sandbox.share.set_policy("confirm", after_s=0.3)
    with RunningKiosk(sandbox, tmp_path, extra=SHARE) as kiosk:
        stream = EventReader(kiosk.url)
        cases = [
            ({"mode": "validate", "reference": "V-1"}, sandbox.mint("valid"), "pass", "valid"),
            ({"mode": "age", "min_age": 21}, sandbox.mint("valid", age=20), "fail", "underage"),
            ({"mode": "name", "last_name": MARKERS[0], "first_name": MARKERS[1],
              "middle_name": MARKERS[2]}, sandbox.mint(name=HOLDER), "pass", "valid"),
            ({"mode": "name", "last_name": "Інший", "first_name": MARKERS[1]},
             sandbox.mint(name=HOLDER), "fail", "name_mismatch"),
            ({"mode": "share", "reference": "S-1"}, sandbox.mint("valid"), "pass", "shared"),
        ]
        for terms, code, outcome, reason in cases:
            check = kiosk.arm(**terms)
            kiosk.scan(code)
            done = kiosk.wait_state(check["id"])
            verdict = done["verdict"]
            assert (verdict["outcome"], verdict["reason"]) == (outcome, reason), terms
            assert verdict["mode"] == terms["mode"] and verdict["id"] == check["id"]
            _, event = stream.wait_for(lambda e, i=check["id"]: e.get("id") == i
                                       and e["event"] == "verdict")
            assert event == verdict
            assert event.get("reference") == terms.get("reference")
        shared = kiosk.http.get(f"/v1/checks/{check['id']}").json()
        request_id = shared["verdict"]["request_id"]
        assert shared["request_id"] == request_id and len(request_id) == 36
        status, stdout, _ = kiosk.stop()
        stream.close()
    assert status == 0
    assert stdout.count('"event": "verdict"') == len(cases)  # the JSON lines go on as before
    shared_line = json.loads(stdout.strip().splitlines()[-1])
    assert shared_line["reason"] == "shared" and shared_line["request_id"] == request_id
    bodies = [r.body for r in sandbox.requests if r.body]
    assert {"lastName": MARKERS[0], "firstName": MARKERS[1], "middleName": MARKERS[2]}.items() \
        <= bodies[2].items()  # the names did reach Diia: the only place they may go
    assert bodies[-1]["requestId"] == request_id  # what Diia tags its delivery with


def test_a_cancelled_or_expired_check_is_not_used_and_says_so_on_the_stream(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    with RunningKiosk(sandbox, tmp_path, mode="validate") as kiosk:
        stream = EventReader(kiosk.url)
        cancelled = kiosk.arm(mode="age", min_age=99)
        assert kiosk.http.delete(f"/v1/checks/{cancelled['id']}").json()["state"] == "cancelled"
        replaced = kiosk.arm(mode="age", min_age=99)
        expiring = kiosk.arm(mode="age", min_age=99, expires_s=1, reference="E-1")
        # One check is armed at a time: arming another cancels the one before.
        assert kiosk.wait_state(replaced["id"], ("cancelled",))["state"] == "cancelled"
        _, event = stream.wait_for(lambda e: e.get("state") == "expired", timeout_s=5)
        assert event["id"] == expiring["id"] and event["reference"] == "E-1"
        assert kiosk.http.get(f"/v1/checks/{expiring['id']}").json()["state"] == "expired"
        kiosk.scan(sandbox.mint("valid", age=30))  # nothing armed: the configured mode
        _, verdict = stream.wait_for(lambda e: e["event"] == "verdict")
        assert (verdict["mode"], verdict["outcome"]) == ("validate", "pass")
        assert "id" not in verdict
        late = kiosk.http.delete(f"/v1/checks/{expiring['id']}")
        assert late.status_code == 409 and late.json()["field"] == "id"
        stream.close()


def test_require_arming_keeps_an_unarmed_code_from_diia(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    with RunningKiosk(sandbox, tmp_path, kiosk_extra="require_arming = true") as kiosk:
        stream = EventReader(kiosk.url)
        kiosk.scan(sandbox.mint("valid"))  # a product EAN-13 looks just like this
        kiosk.scan(sandbox.mint("not_valid"))
        time.sleep(0.5)
        assert diia_calls(sandbox) == [] and stream.events == []
        assert kiosk.http.get("/v1/health").json()["state"] == "attended_wait"  # never red
        check = kiosk.arm(mode="validate")
        valid = sandbox.mint("valid")
        kiosk.scan(valid)
        assert kiosk.wait_state(check["id"])["verdict"]["outcome"] == "pass"
        assert [r.body["barcode"] for r in sandbox.requests if r.body] == [valid]
        status, stdout, _ = kiosk.stop()
        stream.close()
    assert status == 0 and stdout.count('"event": "verdict"') == 1


def test_a_lan_address_needs_a_token(sandbox: DiiaSandbox, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"exited 2: .*api\.token_file"):
        RunningKiosk(sandbox, tmp_path / "none", listen_host="0.0.0.0")
    token = "lan-token-" + "7" * 24
    with RunningKiosk(sandbox, tmp_path / "lan", listen_host="0.0.0.0", token=token) as kiosk:
        bare = httpx.post(f"{kiosk.url}/v1/checks", json={"mode": "validate"})
        assert bare.status_code == 401 and bare.json()["field"] == "Authorization"
        assert kiosk.arm(mode="validate")["state"] == "armed"  # with the token
        _, _, stderr = kiosk.stop()
    assert token not in stderr


def test_planted_names_never_reach_logs_events_files_or_errors(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    names = {"last_name": MARKERS[0], "first_name": MARKERS[1], "middle_name": MARKERS[2]}
    seen_text: list[str] = []
    with RunningKiosk(sandbox, tmp_path, verbose=True) as kiosk:
        stream = EventReader(kiosk.url)
        bad = [
            {"mode": "validate", **names},  # names where they do not belong
            {"mode": "name", "last_name": MARKERS[0]},  # first name missing
            {"mode": "name", **names, "middle_name": MARKERS[2] * 9},  # too long
            {"mode": "name", **names, "first_name": MARKERS[1] + "\x07"},  # control character
            {"mode": "name", **names, "min_age": 18},
        ]
        for body in bad:
            answer = kiosk.http.post("/v1/checks", json=body)
            assert answer.status_code == 400 and answer.json()["field"]
            seen_text.append(answer.text)
        for code in (sandbox.mint(name=HOLDER), sandbox.mint(name=HolderName("Ні", "Ні"))):
            check = kiosk.arm(mode="name", reference="P-1", **names)
            seen_text.append(kiosk.http.get(f"/v1/checks/{check['id']}").text)
            kiosk.scan(code)
            seen_text.append(kiosk.http.get(f"/v1/checks/{kiosk.wait_state(check['id'])['id']}")
                             .text)
        cancelled = kiosk.arm(mode="name", **names)
        seen_text.append(kiosk.http.delete(f"/v1/checks/{cancelled['id']}").text)
        seen_text.append(kiosk.http.get("/v1/health").text)
        stream.wait_for(lambda e: e.get("state") == "cancelled")
        kiosk.stop()
        stream.close()
    seen_text += [str(event) for _, event in stream.events]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".jsonl") for p in files)  # the audit log is there to search
    for path in files:
        seen_text.append(path.read_bytes().decode("utf-8", "replace"))
    for marker in MARKERS:
        for text in seen_text:
            assert marker not in text


def test_with_no_staff_button_the_till_is_the_staff_step_of_attended_age_checks(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    # gpio = "off": no button anywhere; the till arms and acknowledges over its API.
    with RunningKiosk(sandbox, tmp_path, mode="age", attended=True) as kiosk:
        kiosk.wait_health("attended_wait")
        refused = kiosk.http.post("/v1/staff/ack")
        assert refused.status_code == 409 and refused.json()["error"] == "nothing_to_acknowledge"
        assert kiosk.http.post("/v1/staff/arm").status_code == 202
        kiosk.wait_health("armed")
        kiosk.scan(sandbox.mint("valid", age=30))
        kiosk.wait_health("pass")  # held for staff: the verdict stays
        waiting = kiosk.http.post("/v1/staff/arm")
        assert waiting.status_code == 409 and waiting.json()["error"] == "verdict_waiting"
        assert kiosk.http.post("/v1/staff/ack").status_code == 202
        kiosk.wait_health("attended_wait")
        status, stdout, stderr = kiosk.stop()
    assert status == 0, stderr
    verdict = json.loads(stdout.strip().splitlines()[-1])
    assert (verdict["outcome"], verdict["mode"]) == ("pass", "age")
