"""Sharing as a check: the share checker's verdicts from Diia's status, the loop's "confirm
in Diia" screen, and its words in both languages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk import messages
from kiosk.checking.share import ShareChecker
from kiosk.decoding.codes import to_code
from kiosk.diia.errors import CodeExpired, DiiaUnavailable
from kiosk.loop import ArmCheck, Reading, Rules, Show, start, step
from kiosk.messages import text_for
from kiosk.model import CheckTerms, Code, Phase, Reason, State

CODE = to_code("3559217693026", "EAN-13")
assert CODE is not None


class RecordingDiia:
    """The two sharing calls the checker makes, answering from a script."""

    def __init__(self, accepted: bool | Exception, statuses: list[str | Exception]) -> None:
        self._accepted = accepted
        self._statuses: Iterator[str | Exception] = iter(statuses)
        self.requests: list[str] = []
        self.polls = 0

    def request_document(self, code: Code, request_id: str) -> bool:
        self.requests.append(request_id)
        if isinstance(self._accepted, Exception):
            raise self._accepted
        return self._accepted

    def document_request_status(self, code: Code, request_id: str) -> str:
        assert request_id == self.requests[-1]
        self.polls += 1
        status = next(self._statuses, "pending")
        if isinstance(status, Exception):
            raise status
        return status


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def share(diia: RecordingDiia) -> tuple[ShareChecker, list[str]]:
    clock, noted = Clock(), []
    checker = ShareChecker(diia, lambda code: "c0de1d00", wait_s=10, poll_s=1,
                           on_request=noted.append, sleep=clock.sleep, clock=clock)
    return checker, noted


@pytest.mark.parametrize(("statuses", "reason"), [
    (["pending", "confirmed"], Reason.SHARED),
    (["refused"], Reason.SHARE_REFUSED),
    (["pending", "expired"], Reason.SHARE_EXPIRED),
    ([DiiaUnavailable("down"), "confirmed"], Reason.SHARED),  # one failed poll is not the end
    ([], Reason.SHARE_TIMEOUT),
])
def test_a_share_ends_as_the_holder_answers_in_diia(statuses: list, reason: Reason) -> None:
    diia = RecordingDiia(True, statuses)
    checker, noted = share(diia)
    verdict = checker.check(CODE)
    assert verdict.reason is reason and verdict.mode == "share"
    assert noted == diia.requests and len(noted[0]) == 36  # a fresh uuid4 per share
    assert diia.polls <= 10


@pytest.mark.parametrize(("accepted", "reason"), [
    (False, Reason.NOT_VALID),
    (CodeExpired("expired"), Reason.EXPIRED),
    (DiiaUnavailable("down"), Reason.DIIA_UNAVAILABLE),
    (RuntimeError("a bug"), Reason.BAD_RESPONSE),
])
def test_a_share_request_diia_refuses_is_never_polled(accepted, reason: Reason) -> None:
    diia = RecordingDiia(accepted, ["confirmed"])
    verdict = share(diia)[0].check(CODE)
    assert verdict.reason is reason and diia.polls == 0


def test_the_screen_asks_to_confirm_in_diia_while_a_share_is_checked() -> None:
    rules = Rules(result_seconds=0, gone_frames=0)
    state, _ = start(rules, 0.0)
    shown: list[State] = []
    for event in (ArmCheck(CheckTerms("s1", mode="share"), 0.0),
                  Reading([CODE], [CODE], 0.1)):
        state, effects = step(state, event, rules)
        shown += [e.state for e in effects if isinstance(e, Show)]
    checking = shown[-1]
    assert checking.phase is Phase.CHECKING and checking.sharing
    assert text_for(checking, "uk") == messages.SHARE_CONFIRM["uk"]
    assert text_for(checking, "en")[0] == "Confirm the request in Diia"
    assert not text_for(State(Phase.CHECKING), "en")[0].startswith("Confirm")
    assert set(messages.SHARE_CONFIRM) == set(messages.LANGUAGES)
