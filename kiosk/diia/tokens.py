"""The Diia session token: when to log in, one login at a time, backoff after refusals.

Diia has no refresh call: a session token (a JWT, 7200 s) is replaced by logging in again.
`SessionToken` logs in when there is no token or it is due for renewal a few minutes before
its `exp`, lets only one thread log in at a time, keeps using a still-valid token when a
renewal fails, and after a refused login (wrong secrets, acquirer blocked) waits with
exponential backoff instead of hammering Diia's login on every scan. A streak of failed
logins is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeGuard

from kiosk.diia.errors import AuthFailed, DiiaError, DiiaTimeout

_log = logging.getLogger("kiosk.diia.client")  # the client's lines, under one name

RENEW_MARGIN_S = 300.0  # log in again this long before the token's exp
DEFAULT_TOKEN_LIFETIME_S = 7200.0  # Diia's documented lifetime, used when exp is unreadable
EXPIRY_GRACE_S = 5.0  # an old token is not used this close to its estimated exp
LOGIN_BACKOFF_FIRST_S = 1.0  # after a refused login, wait this long before the next try…
LOGIN_BACKOFF_MAX_S = 60.0  # …doubling each time up to this


def jwt_claims(token: str) -> dict[str, Any]:
    """The JWT's payload, unverified (only `exp`/`iat` are read); {} if unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError, RecursionError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_lifetime(token: str, now: float) -> float:
    """Seconds the token lives from `now`.

    `exp - iat` comes first: both are Diia's clock, so a kiosk whose own clock is off (a Pi
    has no RTC) still renews on time. Then `exp - now`, then Diia's documented default.
    """
    claims = jwt_claims(token)
    exp, iat = claims.get("exp"), claims.get("iat")
    if _is_number(exp) and _is_number(iat) and exp > iat:
        return float(exp - iat)
    if _is_number(exp) and exp > now:
        return float(exp - now)
    return DEFAULT_TOKEN_LIFETIME_S


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def login_backoff_s(failures: int) -> float:
    """How long to wait after `failures` refused logins in a row (1 s, 2 s, 4 s … 60 s)."""
    return min(LOGIN_BACKOFF_FIRST_S * 2 ** max(failures - 1, 0), LOGIN_BACKOFF_MAX_S)


class SessionToken:
    """Holds the session token for one client; safe to share between threads.

    `login(deadline)` is the HTTP login: it returns a fresh token or raises a `DiiaError`.
    `clock` is wall-clock seconds (a token's life is measured against it); `monotonic` paces
    the backoff, so a clock step at boot cannot stretch it. `timeout_s` only words errors.
    """

    def __init__(
        self,
        login: Callable[[float], str],
        *,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._login = login
        self._timeout_s = timeout_s
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()  # one login at a time
        self._token: str | None = None
        self._renew_at = 0.0  # wall clock
        self._expires_at = 0.0  # wall clock, our estimate of exp
        self._failures = 0  # logins failed in a row
        self._retry_at = 0.0  # monotonic; no login before this after a refusal

    @property
    def failing(self) -> bool:
        """Whether the last login attempt failed."""
        return self._failures > 0

    def get(self, deadline: float) -> str:
        """A token good for now, logging in first when there is none or it is due."""
        self._acquire(deadline)
        try:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            return self._renew(deadline)
        finally:
            self._lock.release()

    def renew(self, deadline: float) -> None:
        """Log in now, whatever the state of the current token (warm-up, `kiosk doctor`)."""
        self._acquire(deadline)
        try:
            self._retry_at = 0.0
            self._token = None
            self._renew(deadline)
        finally:
            self._lock.release()

    def forget(self, token: str) -> None:
        """Drop `token` after Diia refused it, unless another thread has replaced it already,
        so one 401 costs one login however many threads saw it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _acquire(self, deadline: float) -> None:
        # Another thread's login may be slow; wait no longer than our own deadline.
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise DiiaTimeout(f"no answer from Diia within {self._timeout_s:g} s")

    def _renew(self, deadline: float) -> str:
        """Log in (the caller holds the lock); on failure keep a still-valid old token."""
        old = self._token if self._clock() < self._expires_at - EXPIRY_GRACE_S else None
        waiting = self._retry_at - self._monotonic()
        if waiting > 0:
            if old is not None:
                return old
            raise AuthFailed(f"Diia refused the login; next attempt in {waiting:.0f} s")
        try:
            token = self._login(deadline)
        except DiiaError as error:
            self._failed(error, keep_old=old is not None)
            if old is not None:
                return old  # a renewal that fails early costs nothing yet
            raise
        if self._failures:
            _log.info("Diia login works again after %d failed attempt(s)", self._failures)
        self._failures, self._retry_at = 0, 0.0
        now = self._clock()
        lifetime = token_lifetime(token, now)
        # Short-lived tokens (the sandbox's) renew at half life rather than never being fresh.
        self._renew_at = now + lifetime - min(RENEW_MARGIN_S, lifetime / 2)
        self._expires_at = now + lifetime
        self._token = token
        _log.debug("logged in to Diia; session token renews in %.0f s", self._renew_at - now)
        return token

    def _failed(self, error: DiiaError, *, keep_old: bool) -> None:
        self._failures += 1
        if isinstance(error, AuthFailed) or keep_old:
            # Refused: the secrets are wrong or the acquirer is blocked, and hammering the login
            # on every scan may get the acquirer locked out. Or the old token still works, and
            # each scan should not spend its deadline on a login first.
            self._retry_at = self._monotonic() + login_backoff_s(self._failures)
        if self._failures == 1:
            _log.error("Diia login failed: %s (%s); retrying with backoff", error, error.reason)
        else:
            _log.debug("Diia login failed again (%d in a row): %s", self._failures, error)
