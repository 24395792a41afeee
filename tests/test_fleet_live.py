"""The fleet's rules and dashboard against real parts: `kiosk run` processes with codes
flowing through the Diia sandbox, and Debian's Prometheus scraping them on loopback with the
centre's rule files (evaluated every second, `for:` cut to seconds: a test's minute stands for
the fleet's hours; the expressions are the shipped ones)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Outcome, Phase, Reason, State
from kiosk.ops import dashboard
from kiosk.ops.metrics import Metrics, MetricsServer, MetricsSignals
from kiosk.ops.power import PowerReader
from tests.kiosk_process import RunningKiosk, free_port
from tests.prometheus import Prometheus, short_rules
from tests.test_ops_metrics import pi_sysfs, verdict

ROOT = Path(__file__).parents[1]
KYIV = {"store": "kyiv-0042", "kiosk": "kyiv-0042-till-1", "region": "kyiv"}
LVIV = {"store": "lviv-0007", "kiosk": "lviv-0007-till-1", "region": "lviv"}


def centre_config(rule_files: list[Path], targets: list[tuple[int, dict[str, str]]]
                  ) -> dict[str, Any]:
    """The centre as if each kiosk's agent shipped to it: job `kiosk`, the fleet labels."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms",
                   "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": "kiosk", "static_configs": [
            {"targets": [f"127.0.0.1:{port}"], "labels": labels} for port, labels in targets
        ]}],
    }


def verdicts_counted(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(m) for m in re.findall(r"^kiosk_verdicts_total\{[^}]*\} (\S+)$", text,
                                            re.MULTILINE))


def scan_and_wait(kiosk: RunningKiosk, port: int, code: str, prometheus: Prometheus) -> None:
    """One code, and its verdict scraped by the centre before the next: customers come
    seconds apart, and a counter or histogram series is born with its first verdict (which
    rate() cannot see), so the next ones must land in later scrapes."""
    counted = f'sum(kiosk_verdicts_total{{instance="127.0.0.1:{port}"}})'
    before = verdicts_counted(port)
    kiosk.scan(code)
    prometheus.wait_until(lambda: verdicts_counted(port) > before, 20, "given a verdict")
    prometheus.wait_until(lambda: float(prometheus.query(counted)[0]["value"][1]) > before, 20,
                          "scraping the verdict")


# --- the demonstration ----------------------------------------------------------------


def test_diia_lost_and_a_kiosk_stopped_fire_their_alerts_and_resolve_when_healed(
        sandbox: DiiaSandbox, tmp_path: Path) -> None:
    rules = short_rules(tmp_path / "rules", for_s=3, names=("KioskDown", "KioskDiiaUnreachable"))
    port = free_port()
    kiosk = RunningKiosk(sandbox, tmp_path / "kiosk", metrics_port=port)
    try:
        with Prometheus(tmp_path / "centre", centre_config(rules, [(port, KYIV)])) as centre:
            centre.wait_until(lambda: centre.query("kiosk:up == 1"), 20, "scraping the kiosk")
            scan_and_wait(kiosk, port, sandbox.mint("valid"), centre)
            assert centre.firing() == set()

            sandbox.fail("drop", on="checks")  # Diia answers nothing at all
            sandbox.fail("drop", on="logins")
            kiosk.scan(sandbox.mint("valid"))
            centre.wait_until(lambda: "KioskDiiaUnreachable" in centre.firing(), 45,
                              "alerting that Diia is unreachable")
            (alert,) = centre.alerts()
            assert {k: alert["labels"][k] for k in KYIV} == KYIV
            assert "kyiv-0042" in alert["annotations"]["summary"]

            sandbox.fail(None, on="checks")  # healed: the kiosk's next probe gets an answer
            sandbox.fail(None, on="logins")
            centre.wait_until(lambda: not centre.firing(), 30, "resolved")

            kiosk.stop()
            centre.wait_until(lambda: centre.firing() == {"KioskDown"}, 30, "alerting KioskDown")

            kiosk = RunningKiosk(sandbox, tmp_path / "kiosk-again", metrics_port=port)
            centre.wait_until(lambda: not centre.alerts("firing") and not centre.alerts("pending"),
                              30, "resolved after the restart")
    finally:
        kiosk.stop()


# --- the dashboard --------------------------------------------------------------------


def test_the_committed_dashboard_is_the_generated_one() -> None:
    committed = (ROOT / "deploy" / "fleet" / "grafana" / "kiosk-fleet.json").read_text()
    assert committed == dashboard.render(), "run: python -m kiosk.ops.dashboard -o " \
        "deploy/fleet/grafana/kiosk-fleet.json"


def panel_queries() -> list[tuple[str, str]]:
    model = json.loads(dashboard.render())
    return [(panel["title"], target["expr"]) for panel in model["panels"]
            for target in panel["targets"]]


def as_grafana_sends(expr: str) -> str:
    """The query as Grafana sends it with "All" chosen for both variables."""
    expr = expr.replace("$region", ".*").replace("$store", ".*")
    expr = expr.replace("$__rate_interval", "1m")
    assert "$" not in expr, expr
    return expr


@pytest.fixture
def pi_kiosk(tmp_path: Path) -> Iterator[int]:
    """A second kiosk's metrics as a Pi's would read: power flags from a Pi-like sysfs tree
    (a `kiosk run` off a Pi has none), a remote config version, verdicts shown."""
    metrics = Metrics()
    flags = PowerReader(pi_sysfs(tmp_path / "sys", throttled=None, alarm="1")).read()
    assert flags is not None
    metrics.observe_power(flags)  # a dip, as the housekeeping's poll finds it
    metrics.config_version.set(8)
    metrics.clock_trusted.set(1)
    signals = MetricsSignals(metrics)
    signals.show(State(Phase.PASS, verdict(Outcome.PASS, Reason.VALID)))
    server = MetricsServer(metrics, 0)
    try:
        yield server.port
    finally:
        server.close()


def test_every_panel_query_answers_from_real_kiosk_metrics(
        sandbox: DiiaSandbox, tmp_path: Path, pi_kiosk: int) -> None:
    rules = short_rules(tmp_path / "rules")
    port = free_port()
    with RunningKiosk(sandbox, tmp_path / "kiosk", metrics_port=port) as kiosk, Prometheus(
            tmp_path / "centre", centre_config(rules, [(port, KYIV), (pi_kiosk, LVIV)])) as centre:
        centre.wait_until(lambda: len(centre.query("kiosk:up == 1")) == 2, 20, "scraping both")
        scan_and_wait(kiosk, port, sandbox.mint("valid"), centre)
        scan_and_wait(kiosk, port, sandbox.mint("expired"), centre)
        sandbox.fail("unavailable", on="checks")
        scan_and_wait(kiosk, port, sandbox.mint("valid"), centre)
        sandbox.fail(None, on="checks")
        scan_and_wait(kiosk, port, sandbox.mint("valid"), centre)

        def unanswered() -> list[str]:
            """Panels whose query gives no series, or only NaN (an error raises at once)."""
            titles = []
            for title, expr in panel_queries():
                values = [float(series["value"][1])
                          for series in centre.query(as_grafana_sends(expr))]
                if not any(math.isfinite(value) for value in values):
                    titles.append(title)
            return titles

        try:  # a scrape or two after the last verdict, every panel has its answer
            centre.wait_until(lambda: not unanswered(), 30, "answering every panel")
        except TimeoutError:
            pytest.fail(f"panels with no data: {unanswered()}")
        versions = {s["metric"]["config_version"] for s in centre.query(
            "fleet:kiosk_config_version:count")}
        assert versions == {"0", "8"}  # the rollout view sees both kiosks' versions
