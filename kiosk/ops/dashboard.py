"""The fleet's Grafana dashboard, generated: `python -m kiosk.ops.dashboard -o FILE`.

deploy/fleet/grafana/kiosk-fleet.json is this module's output and is never edited by hand
(a test regenerates it and compares). Panels read the centre's recording rules where one
exists (deploy/fleet/prometheus/rules/) and the kiosks' raw series otherwise; every query
is run against a real Prometheus holding real kiosk metrics by the tests. The variables
`region` and `store` narrow every panel; "All" is the default.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UID = "diia-kiosk-fleet"
SELECT = 'region=~"$region", store=~"$store"'  # every panel's filter by the two variables
KIOSKS = f'job="kiosk", {SELECT}'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False  # tables and stats: one value per series, now


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # Grafana panel type: timeseries, table, stat, bargauge
    queries: tuple[Query, ...]
    description: str
    width: int = 12
    height: int = 8
    unit: str = "short"
    extra: dict[str, Any] = field(default_factory=dict)


PANELS = (
    Panel("Kiosks reporting, by store", "table", (
        Query(f"sum by (region, store) (kiosk:up{{{SELECT}}})", instant=True),
        Query(f"count by (region, store) (kiosk:up{{{SELECT}}} == 0)"
              f" or sum by (region, store) (kiosk:up{{{SELECT}}}) * 0", instant=True),
    ), "The fleet map: kiosks up and down in each store (Value #A up, Value #B down).",
        width=8, height=10),
    Panel("Alerts firing", "stat", (
        Query(f'count(ALERTS{{alertstate="firing", alertname=~"Kiosk.*", {SELECT}}})'
              " or vector(0)", instant=True),
    ), "Kiosk alerts firing now (deploy/fleet/prometheus/rules/kiosk-alerts.yml).",
        width=4, height=10),
    Panel("Verdicts per minute by outcome", "timeseries", (
        Query(f"sum by (outcome) (store_outcome:kiosk_verdicts:rate5m{{{SELECT}}}) * 60",
              "{{outcome}}"),
    ), "Green (pass), red (fail) and amber (unknown: cannot verify) verdicts shown.",
        extra={"fieldConfig": {"defaults": {"unit": "short"}, "overrides": [
            {"matcher": {"id": "byName", "options": name},
             "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": colour}}]}
            for name, colour in (("pass", "green"), ("fail", "red"), ("unknown", "orange"))
        ]}}),
    Panel("Share of amber verdicts, by store", "timeseries", (
        Query(f"store:kiosk_verdicts_unknown:ratio5m{{{SELECT}}}", "{{store}}"),
    ), "Verdicts that could not be verified (Diia, network, clock), over 5 minutes; high is "
       "bad.", unit="percentunit"),
    Panel("Amber verdicts by reason", "timeseries", (
        Query(f'sum by (reason) (rate(kiosk_verdicts_total{{{KIOSKS}, outcome="unknown"}}'
              "[$__rate_interval])) * 60", "{{reason}}"),
    ), "Why verdicts were amber: timeout and diia_unavailable point at the network or Diia."),
    Panel("Time to verdict (p50, p95, p99)", "timeseries", tuple(
        Query(f"histogram_quantile({q}, sum by (le) (rate(kiosk_stage_seconds_bucket"
              f'{{{KIOSKS}, stage="total"}}[$__rate_interval])))', f"p{round(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ), "From a code seen to its verdict shown, across the selected kiosks.", unit="s"),
    Panel("p95 time to verdict, by store", "timeseries", (
        Query(f"store:kiosk_verdict_seconds:p95_5m{{{SELECT}}}", "{{store}}"),
    ), "The slowest stores: the store's network or Diia's answer time.", unit="s"),
    Panel("Diia request time p95, by call", "timeseries", (
        Query("histogram_quantile(0.95, sum by (call, le) (rate("
              f"kiosk_diia_request_seconds_bucket{{{KIOSKS}}}[$__rate_interval])))", "{{call}}"),
    ), "Diia's answer time as the kiosks see it (login, checks).", unit="s"),
    Panel("Faults shown now", "table", (
        Query(f"sum by (fault) (kiosk_fault{{{KIOSKS}}})", instant=True),
    ), "Kiosks showing each fault banner now: camera, network (no Diia), clock, config, output.",
        width=8),
    Panel("Output failures by output", "timeseries", (
        Query(f"sum by (output) (increase(kiosk_output_errors_total{{{KIOSKS}}}"
              "[$__rate_interval])) or vector(0)", "{{output}}"),
    ), "Failures of the till's events, screen, lights or audit log.", width=8),
    Panel("Under-voltage (polls, last hour)", "table", (
        Query("sum by (store, kiosk) (increase(kiosk_power_flag_polls_total"
              f'{{{KIOSKS}, flag="under_voltage"}}[1h])) > 0 or sum(kiosk_power_flag_seen'
              f'{{{KIOSKS}, flag="under_voltage"}}) * 0', instant=True),
        Query(f"sum by (flag) (kiosk_power_flag_seen{{{KIOSKS}}})", instant=True),
    ), "Kiosks whose power supply sagged in the last hour (once-a-second polls that found "
       "under-voltage), and kiosks per flag seen since start (Pi only).", width=8),
    Panel("Config versions", "bargauge", (
        Query(f"count by (config_version) (count_values(\"config_version\", "
              f"kiosk_config_version{{{KIOSKS}}}))", "v{{config_version}}", instant=True),
    ), "Kiosks per remote config version: a rollout moving from one bar to the next.",
        width=8),
    Panel("Software versions", "bargauge", (
        Query(f"count by (version) (kiosk_build_info{{{KIOSKS}}})", "{{version}}",
              instant=True),
    ), "Kiosks per package version (kiosk_build_info): the apt rollout.", width=8),
    Panel("Kiosks with an untrusted clock", "stat", (
        Query(f"count(kiosk_clock_trusted{{{KIOSKS}}} == 0) or vector(0)", instant=True),
    ), "Every verdict of such a kiosk is amber until NTP or Diia vouches for its clock.",
        width=8),
    Panel("Kiosk memory and CPU", "timeseries", (
        Query(f"max(process_resident_memory_bytes{{{KIOSKS}}})", "most memory"),
        Query(f"avg(rate(process_cpu_seconds_total{{{KIOSKS}}}[$__rate_interval]))",
              "mean CPU (cores)"),
    ), "The kiosk process (the client library's process collector).", width=12,
        unit="bytes"),
    Panel("Restarts (last hour)", "table", (
        Query(f"sum by (store, kiosk) (changes(process_start_time_seconds{{{KIOSKS}}}[1h]))",
              instant=True),
    ), "Starts of each kiosk in the last hour; more than one is worth a look.", width=12),
)


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name, "label": label, "type": "query",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query, "refresh": 2, "includeAll": True, "multi": True,
        "allValue": ".*", "current": {"text": "All", "value": "$__all"}, "sort": 1,
    }


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (schema 39, Grafana 10+)."""
    panels, x, y, row_height = [], 0, 0, 0
    for number, panel in enumerate(PANELS, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        body: dict[str, Any] = {
            "id": number, "type": panel.kind, "title": panel.title,
            "description": panel.description,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
            "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
            "targets": [
                {"refId": chr(ord("A") + i), "expr": q.expr, "legendFormat": q.legend,
                 "instant": q.instant, "range": not q.instant,
                 **({"format": "table"} if panel.kind == "table" else {}),
                 "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                for i, q in enumerate(panel.queries)
            ],
        }
        body.update(panel.extra)
        panels.append(body)
        x, row_height = x + panel.width, max(row_height, panel.height)
    return {
        "uid": UID, "title": "Diia kiosks: fleet", "tags": ["diia-kiosk"],
        "description": "Generated by kiosk/ops/dashboard.py; do not edit by hand.",
        "schemaVersion": 39, "version": 1, "editable": False, "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"}, "timezone": "browser",
        "templating": {"list": [
            {"name": "datasource", "label": "Prometheus", "type": "datasource",
             "query": "prometheus", "current": {}},
            _variable("region", "Region", "label_values(kiosk:up, region)"),
            _variable("store", "Store", 'label_values(kiosk:up{region=~"$region"}, store)'),
        ]},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the fleet's Grafana dashboard JSON.")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    if args.output is None:
        sys.stdout.write(render())
    else:
        args.output.write_text(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
