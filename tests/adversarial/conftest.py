"""The hostile-server tests' shared parts: a client with a short deadline, and a timer that
asserts every verdict came within the deadline plus the stated margin."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from kiosk.config import Credentials
from kiosk.diia.client import DiiaClient
from kiosk.diia.errors import DiiaError
from kiosk.diia.transport import DEADLINE_MARGIN_S
from kiosk.model import Code, CodeKind

DEADLINE_S = 0.5  # short, so the suite stays fast; the wall scales with it
WALL_S = DEADLINE_S + DEADLINE_MARGIN_S
# Secrets that must never show up in any output the tests look at.
ACQUIRER_SECRET = "acq-SECRET-7f3a9c"
AUTH_SECRET = "auth-SECRET-51d2e8"
CREDENTIALS = Credentials(ACQUIRER_SECRET, AUTH_SECRET)
CODES = ("3559217693026", "4006381333931", "5901234123457")

# The longest verdict time per kind of attack, printed after the run (SECURITY.md's table).
LONGEST: dict[str, float] = {}


def code(text: str = CODES[0]) -> Code:
    return Code(text, CodeKind.BARCODE, "typed")


@dataclass(frozen=True)
class Verdict:
    answer: bool | None  # True/False from Diia, None for an error
    reason: str  # "pass", "fail" or the error's reason
    seconds: float
    error: DiiaError | None = None


def ask(client: DiiaClient, which: Code | None = None, *, attack: str = "") -> Verdict:
    """One validation, timed; asserts it ended within the wall."""
    started = time.monotonic()
    try:
        answer = client.validate(which or code())
    except DiiaError as error:
        verdict = Verdict(None, error.reason, time.monotonic() - started, error)
    else:
        verdict = Verdict(answer, "pass" if answer else "fail", time.monotonic() - started)
    if attack:
        LONGEST[attack] = max(LONGEST.get(attack, 0.0), verdict.seconds)
    assert verdict.seconds <= WALL_S, f"verdict after {verdict.seconds:.2f} s"
    return verdict


@pytest.fixture
def make_client() -> Iterator[Callable[..., DiiaClient]]:
    made: list[DiiaClient] = []

    def make(base_url: str, **kwargs: object) -> DiiaClient:
        kwargs.setdefault("timeout_s", DEADLINE_S)
        client = DiiaClient(base_url, CREDENTIALS, "branch-1", **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if LONGEST:
        worst = ", ".join(f"{k} {v:.2f} s" for k, v in sorted(LONGEST.items()))
        terminalreporter.write_line(
            f"hostile Diia, longest verdict (deadline {DEADLINE_S:g} s): {worst}")
