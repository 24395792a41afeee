"""Online sharing (the till's mode "share_online"): the loop starts it without a code, the
share asks the real sandbox for a deeplink, renews it and polls it, the screen shows it as a
QR that the project's decoder reads back, and a running kiosk reports it to the till."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kiosk import messages
from kiosk.checking.share import OnlineShare, offer_otp
from kiosk.decoding.decode import ZxingDecoder
from kiosk.diia.client import DiiaClient
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.loop import (
    ArmCheck,
    CancelCheck,
    Checked,
    CheckStatus,
    CheckUpdate,
    OfferLink,
    Rules,
    Show,
    StartCheck,
    StartOffer,
    Tick,
    start,
    step,
)
from kiosk.messages import text_for
from kiosk.model import CheckTerms, CodeKind, Phase, Reason, State, Verdict
from tests.kiosk_process import RunningKiosk

OFFER = "offer-42"
LINK = ("https://diia.app/acquirers/offer-request/dynamic/0123456789abcdef0123456789abcdef/"
        "6f1c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f")


@pytest.fixture
def client(sandbox: DiiaSandbox) -> Iterator[DiiaClient]:
    with DiiaClient(sandbox.base_url, sandbox.credentials, sandbox.branch_id,
                    timeout_s=2.0) as diia:
        yield diia


def online(client: DiiaClient, noted: list[str], **timing: float) -> OnlineShare:
    return OnlineShare(client, OFFER, on_request=noted.append,
                       **{"wait_s": 5.0, "poll_s": 0.05, **timing})


# --- the share against the real sandbox ---------------------------------------------------


@pytest.mark.parametrize(("answer", "reason"), [
    ("confirm", Reason.SHARED), ("refuse", Reason.SHARE_REFUSED)])
def test_an_online_share_shows_a_deeplink_and_ends_as_the_customer_answers(
    sandbox: DiiaSandbox, client: DiiaClient, answer: str, reason: Reason,
) -> None:
    sandbox.share.set_policy(answer, after_s=0.2)
    noted: list[str] = []
    shown: list[str] = []
    verdict = online(client, noted).run(shown.append, threading.Event())
    assert verdict.reason is reason and verdict.mode == "share_online"
    assert len(shown) == 1 and shown[0].startswith("https://diia.app/")
    assert len(noted) == 1 and shown[0].endswith(noted[0])  # the requestId Diia delivers with
    offers = [r.body for r in sandbox.requests if "offer-request/dynamic" in r.path]
    assert offers == [{"offerId": OFFER, "requestId": noted[0]}]
    polls = [r for r in sandbox.requests if r.path.endswith("offer-request/status")]
    assert polls  # by the deeplink's one-time id: the sandbox answers 404 to any other
    assert len(offer_otp(shown[0])) == 32


def test_a_deeplink_is_renewed_before_it_expires_until_the_wait_ends(
    sandbox: DiiaSandbox, client: DiiaClient,
) -> None:
    sandbox.share.set_policy("ignore")  # the customer never scans
    noted: list[str] = []
    shown: list[str] = []
    verdict = online(client, noted, wait_s=0.7, renew_s=0.2).run(shown.append,
                                                                  threading.Event())
    assert verdict.reason is Reason.SHARE_TIMEOUT  # amber: nobody answered, nothing failed
    assert 3 <= len(shown) <= 5 and len(set(shown)) == len(shown)
    assert len(set(noted)) == len(noted) == len(shown)  # a fresh requestId for each


def test_diia_unreachable_is_amber_and_a_stop_ends_the_share_at_once(
    sandbox: DiiaSandbox, client: DiiaClient,
) -> None:
    down = OnlineShare(DiiaClient("http://127.0.0.1:9", sandbox.credentials,
                                  sandbox.branch_id, timeout_s=0.5), OFFER)
    refused = down.run(lambda link: None, threading.Event())
    assert refused.reason.diia_failed and refused.outcome.value == "unknown"
    sandbox.share.set_policy("ignore")
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    began = time.monotonic()
    online(client, [], wait_s=30.0, poll_s=0.5).run(lambda link: None, stop)
    assert time.monotonic() - began < 1.5


# --- the loop: pure -------------------------------------------------------------------------


TERMS = CheckTerms("o1", mode="share_online", reference="R-9")
VERDICT = Verdict(Reason.SHARED, "share_online", CodeKind.QR, "")


def test_the_loop_starts_an_online_share_at_once_and_shows_each_deeplink() -> None:
    rules = Rules(result_seconds=3.0)
    state, _ = start(rules, 0.0)
    state, effects = step(state, ArmCheck(TERMS, 1.0), rules)
    assert state.phase is Phase.CHECKING and state.shown.sharing and not state.shown.offer_link
    assert StartOffer(TERMS, 1.0) in effects and not any(
        isinstance(e, StartCheck) for e in effects)
    assert CheckUpdate("o1", CheckStatus.CHECKING, "R-9") in effects
    state, effects = step(state, OfferLink("o1", LINK, 1.5), rules)
    assert effects == [Show(state.shown)] and state.shown.offer_link == LINK
    state, effects = step(state, OfferLink("other", "https://diia.app/x", 1.6), rules)
    assert effects == [] and state.shown.offer_link == LINK  # not this share's link
    state, effects = step(state, Checked(VERDICT, 2.0), rules)
    assert state.phase is Phase.PASS and not state.shown.offer_link
    assert CheckUpdate("o1", CheckStatus.DONE, "R-9", VERDICT) in effects


def test_a_cancelled_online_share_takes_the_qr_away() -> None:
    rules = Rules(require_arming=True)
    state, _ = start(rules, 0.0)
    state, _ = step(state, ArmCheck(TERMS, 1.0), rules)
    state, _ = step(state, OfferLink("o1", LINK, 1.5), rules)
    state, effects = step(state, CancelCheck("o1", 2.0), rules)
    assert CheckUpdate("o1", CheckStatus.CANCELLED, "R-9") in effects
    assert state.phase is Phase.ATTENDED_WAIT and not state.shown.offer_link
    state, effects = step(state, Checked(VERDICT, 2.5), rules)  # the stopped share's answer
    assert effects == [] and state.phase is Phase.ATTENDED_WAIT


def test_an_online_share_armed_during_a_verdict_starts_when_the_verdict_goes() -> None:
    rules = Rules(result_seconds=3.0)
    state, _ = start(rules, 0.0)
    state, _ = step(state, ArmCheck(TERMS, 0.0), rules)
    state, _ = step(state, Checked(VERDICT, 1.0), rules)  # a verdict on screen until 4.0
    second = CheckTerms("o2", mode="share_online")
    state, effects = step(state, ArmCheck(second, 2.0), rules)
    assert state.phase is Phase.PASS and not any(isinstance(e, StartOffer) for e in effects)
    state, effects = step(state, Tick(4.0), rules)
    assert state.phase is Phase.CHECKING and StartOffer(second, 4.0) in effects


def test_the_scan_instruction_in_both_languages() -> None:
    shown = State(Phase.CHECKING, sharing=True, offer_link=LINK)
    assert text_for(shown, "uk")[0] == "Скануйте телефоном у Дії"
    assert text_for(shown, "en")[0] == "Scan with your phone in Diia"
    assert set(messages.SHARE_SCAN) == {"uk", "en"}
    assert text_for(State(Phase.CHECKING, sharing=True), "en") == messages.SHARE_CONFIRM["en"]


# --- the screen: the QR is read back from the pixels --------------------------------------


@pytest.mark.parametrize("size", [(480, 320), (800, 480)])
def test_the_screen_shows_a_qr_the_decoder_reads_at_each_panel_size(
    tmp_path: Path, size: tuple[int, int],
) -> None:
    import pygame

    from kiosk.signals.screen import PygameScreen

    screen = PygameScreen(size)
    try:
        state = State(Phase.CHECKING, sharing=True, offer_link=LINK)
        path = tmp_path / "offer.png"
        layout = screen.render_state_png(state, size, path)
        screen.show(state)
        screen.tick(5.0)  # no animation draws over the QR
        on_screen = pygame.surfarray.array3d(pygame.display.get_surface())
    finally:
        screen.close()
    _, _, side, _ = layout.icon
    assert side >= 0.8 * min(size)  # most of the screen's height: readable from a step away
    assert "Скануйте" in [line.text for line in layout.lines]
    grey = on_screen.mean(axis=2).T.astype(np.uint8)  # surfarray is (x, y)
    assert ZxingDecoder().read_qr(np.ascontiguousarray(grey)) == [(LINK, "QRCode")]
    assert path.stat().st_size > 0


# --- a running kiosk, its API and the sandbox -----------------------------------------------


def test_the_till_arms_an_online_share_and_hears_the_outcome_and_request_id(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    sandbox.share.set_policy("confirm", after_s=0.3)
    extra = f'[share]\noffer_id = "{OFFER}"\nwait_s = 10.0\npoll_s = 0.2\n'
    with RunningKiosk(sandbox, tmp_path, extra=extra) as kiosk:
        check = kiosk.arm(mode="share_online", reference="O-1")
        done = kiosk.wait_state(check["id"])
        status, stdout, _ = kiosk.stop()
    verdict = done["verdict"]
    assert (verdict["outcome"], verdict["reason"], verdict["mode"]) == (
        "pass", "shared", "share_online")
    assert verdict["reference"] == "O-1" and done["request_id"] == verdict["request_id"]
    offers = [r.body for r in sandbox.requests if "offer-request/dynamic" in r.path]
    assert offers[-1]["requestId"] == done["request_id"]
    assert status == 0 and '"mode": "share_online"' in stdout


def test_without_an_offer_id_the_till_is_told_which_field(
    sandbox: DiiaSandbox, tmp_path: Path,
) -> None:
    with RunningKiosk(sandbox, tmp_path) as kiosk:
        answer = kiosk.http.post("/v1/checks", json={"mode": "share_online"})
        kiosk.stop()
    assert answer.status_code == 400 and answer.json()["field"] == "mode"
    assert "offer_id" in answer.json()["message"]
