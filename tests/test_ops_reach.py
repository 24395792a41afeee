"""The network fault: Diia unanswered for a few seconds raises the banner; an answer clears it."""

from __future__ import annotations

import time

from kiosk.bootstrap import Parts
from kiosk.config import Config
from kiosk.diia.client import Exchange
from kiosk.model import Fault, Phase, State
from kiosk.ops.reach import DiiaReach
from kiosk.ops.runtime import Housekeeping, Operations
from tests.fakes.clock import FakeClock

NO_ANSWER = Exchange("age", 0, 3000.0, True)
ANSWER_401 = Exchange("login", 401, 20.0, False)


def test_one_lost_answer_is_a_hiccup_answers_missing_for_seconds_are_a_fault() -> None:
    clock = FakeClock()
    reach = DiiaReach(after_s=5.0, clock=clock)
    reach.observe(NO_ANSWER)
    assert reach.doubtful() and not reach.unreachable()
    clock.sleep(4.9)
    reach.observe(NO_ANSWER)
    assert not reach.unreachable()
    clock.sleep(0.1)
    reach.observe(NO_ANSWER)
    assert reach.unreachable()
    reach.observe(ANSWER_401)  # an error status is still an answer: Diia is there
    assert not reach.doubtful() and not reach.unreachable()


class FaultedKiosk:
    def __init__(self) -> None:
        self.state = State(Phase.IDLE)
        self.changes: list[tuple[Fault, bool]] = []
        self.verdicts_said = "0 verdicts"  # as Kiosk.verdicts_said, for the status line

    def set_fault(self, fault: Fault, active: bool) -> None:
        if fault is Fault.NETWORK:  # the clock's fault comes and goes too: not looked at here
            self.changes.append((fault, active))
        faults = self.state.faults | {fault} if active else self.state.faults - {fault}
        self.state = State(self.state.phase, faults=faults)


class ProbedDiia:
    """The Diia client as the probe sees it: each login reports one exchange."""

    server_clock_offset_s = None  # no Date header seen: the clock trust asks for it

    def __init__(self, ops: Operations) -> None:
        self.ops = ops
        self.up = False
        self.logins = 0

    def login(self) -> None:
        self.logins += 1
        self.ops.observe_exchange(Exchange("login", 200 if self.up else 0, 5.0, True))


def settle(ops: Operations) -> None:
    deadline = time.monotonic() + 5
    while ops.probing and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_housekeeping_probes_diia_raises_the_banner_and_clears_it() -> None:
    clock = FakeClock()
    ops = Operations(Config(), environ={})
    ops.reach = DiiaReach(after_s=5.0, clock=clock)
    kiosk = FaultedKiosk()
    diia = ProbedDiia(ops)
    parts = Parts(kiosk, diia, checker=None)  # type: ignore[arg-type]
    ops._parts = parts
    keeping = Housekeeping(ops, parts, clock=clock)
    ops.observe_exchange(NO_ANSWER)  # a customer's check got no answer
    keeping.update()
    settle(ops)
    assert diia.logins == 1 and kiosk.changes == []  # probed at once; no banner for a hiccup
    clock.sleep(5.0)
    keeping.update()  # the probe's failure makes it 5 s without an answer
    settle(ops)
    keeping.update()
    assert (Fault.NETWORK, True) in kiosk.changes and diia.logins == 2
    assert ops.metrics.registry.get_sample_value("kiosk_fault", {"fault": "network"}) == 1
    diia.up = True
    clock.sleep(5.0)
    keeping.update()
    settle(ops)
    keeping.update()
    assert kiosk.changes[-1] == (Fault.NETWORK, False) and diia.logins == 3


def test_without_trouble_diia_is_never_probed() -> None:
    clock = FakeClock()
    ops = Operations(Config(), environ={})
    ops.reach = DiiaReach(after_s=5.0, clock=clock)
    diia = ProbedDiia(ops)
    parts = Parts(FaultedKiosk(), diia, checker=None)  # type: ignore[arg-type]
    ops._parts = parts
    keeping = Housekeeping(ops, parts, clock=clock)
    for _ in range(3):
        clock.sleep(10)
        keeping.update()
    assert diia.logins == 0
