"""SessionToken's policy with plain values: renewal, backoff after refusals, logged once."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest

from kiosk.diia.errors import AuthFailed, DiiaError, DiiaTimeout, NetworkError
from kiosk.diia.tokens import (
    LOGIN_BACKOFF_MAX_S,
    SessionToken,
    login_backoff_s,
)


def jwt(iat: float, exp: float) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"iat": iat, "exp": exp}).encode())
    return f"eyJhbGciOiJSUzI1NiJ9.{payload.rstrip(b'=').decode()}.sig"


class ScriptedLogin:
    """Diia's login as a list of answers: a token to hand out, or an error to raise."""

    def __init__(self, *answers: str | DiiaError) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, deadline: float) -> str:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, DiiaError):
            raise answer
        return answer


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def session(login: ScriptedLogin, wall: Clock, mono: Clock) -> SessionToken:
    return SessionToken(login, timeout_s=3.0, clock=wall, monotonic=mono)


def soon() -> float:
    return time.monotonic() + 3.0


def test_backoff_doubles_up_to_a_cap():
    assert [login_backoff_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert login_backoff_s(50) == LOGIN_BACKOFF_MAX_S


def test_refused_logins_back_off_and_are_logged_once(caplog):
    caplog.set_level(logging.DEBUG, logger="kiosk.diia.client")
    wall, mono = Clock(), Clock()
    login = ScriptedLogin(AuthFailed("refused"), AuthFailed("refused"), jwt(0, 7200))
    tokens = session(login, wall, mono)
    with pytest.raises(AuthFailed):
        tokens.get(soon())
    assert tokens.failing
    for _ in range(5):  # scans within the first second: no login at all
        with pytest.raises(AuthFailed, match="next attempt in"):
            tokens.get(soon())
    assert login.calls == 1
    mono.now += 1.0
    with pytest.raises(AuthFailed):
        tokens.get(soon())
    assert login.calls == 2
    mono.now += 1.5  # the second wait is 2 s
    with pytest.raises(AuthFailed):
        tokens.get(soon())
    assert login.calls == 2
    mono.now += 0.5
    assert tokens.get(soon()) == jwt(0, 7200)
    assert not tokens.failing
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "login failed" in errors[0].getMessage()
    assert any("works again after 2 failed" in r.getMessage() for r in caplog.records)


def test_network_failures_at_login_are_retried_at_the_next_scan():
    wall, mono = Clock(), Clock()
    login = ScriptedLogin(NetworkError("down"), jwt(0, 7200))
    tokens = session(login, wall, mono)
    with pytest.raises(NetworkError):
        tokens.get(soon())
    assert tokens.get(soon()) == jwt(0, 7200)  # no backoff: the outage is the only pacing
    assert login.calls == 2


def test_token_renews_before_exp_from_diias_own_clock():
    wall, mono = Clock(5_000_000.0), Clock()  # our clock far from Diia's
    login = ScriptedLogin(jwt(100, 7300), jwt(7000, 14200))
    tokens = session(login, wall, mono)
    first = tokens.get(soon())
    wall.now += 7200 - 300 - 1
    assert tokens.get(soon()) == first
    wall.now += 2
    assert tokens.get(soon()) == jwt(7000, 14200)
    assert login.calls == 2


def test_a_failed_renewal_keeps_the_still_valid_token():
    wall, mono = Clock(), Clock()
    login = ScriptedLogin(jwt(0, 7200), NetworkError("login down"), jwt(1, 7201))
    tokens = session(login, wall, mono)
    first = tokens.get(soon())
    wall.now += 7000  # due for renewal, 200 s before exp
    assert tokens.get(soon()) == first
    assert login.calls == 2
    assert tokens.get(soon()) == first  # backing off: no login spent on this scan
    assert login.calls == 2
    mono.now += 1.0
    assert tokens.get(soon()) == jwt(1, 7201)


def test_a_token_past_its_exp_is_never_handed_out():
    wall, mono = Clock(), Clock()
    login = ScriptedLogin(jwt(0, 7200), NetworkError("login down"))
    tokens = session(login, wall, mono)
    tokens.get(soon())
    wall.now += 7199
    with pytest.raises(NetworkError):
        tokens.get(soon())


def test_forget_drops_only_the_token_it_names():
    wall, mono = Clock(), Clock()
    login = ScriptedLogin(jwt(0, 7200), jwt(1, 7201))
    tokens = session(login, wall, mono)
    first = tokens.get(soon())
    tokens.forget("someone-else's")
    assert tokens.get(soon()) == first
    tokens.forget(first)
    assert tokens.get(soon()) == jwt(1, 7201)


def test_renew_logs_in_even_during_backoff():
    wall, mono = Clock(), Clock()
    login = ScriptedLogin(AuthFailed("no"), jwt(0, 7200))
    tokens = session(login, wall, mono)
    with pytest.raises(AuthFailed):
        tokens.get(soon())
    tokens.renew(soon())  # `kiosk doctor` asks now, whatever the backoff
    assert login.calls == 2 and not tokens.failing


def test_waiting_for_another_login_is_bounded_by_the_deadline():
    wall, mono = Clock(), Clock()
    tokens = session(ScriptedLogin(jwt(0, 7200)), wall, mono)
    tokens._lock.acquire()  # another thread's login in progress
    try:
        started = time.monotonic()
        with pytest.raises(DiiaTimeout):
            tokens.get(time.monotonic() + 0.1)
        assert time.monotonic() - started < 0.5
    finally:
        tokens._lock.release()
