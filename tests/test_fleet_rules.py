"""deploy/fleet/: the Prometheus configs, the centre's rules and Alertmanager's routing, checked
by the real engines (Debian's promtool and amtool, installed by `./dev.sh test`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[1]
FLEET = ROOT / "deploy" / "fleet"
PROM = FLEET / "prometheus"
ALERTS = PROM / "rules" / "kiosk-alerts.yml"
UNIT_TESTS = PROM / "tests" / "kiosk-alerts.test.yml"
CONTRACT_ALERTS = [  # DESIGN.md, "Fleet (contract)"
    "KioskDown", "KioskDiiaUnreachable", "KioskUnknownVerdictsHigh", "KioskCameraLost",
    "KioskClockUntrusted", "KioskUndervoltage", "KioskRestarting", "KioskConfigRejected",
    "KioskOutputFailing", "KioskConfigRolloutStuck",
]


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: ./dev.sh test installs it (Debian's prometheus packages)"
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=PROM)


def alert_rules() -> dict[str, dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


@pytest.mark.parametrize("config, agent", [
    ("centre.yml", False), ("pull-over-vpn/centre-pull.yml", False), ("kiosk-agent.yml", True),
])
def test_promtool_accepts_each_prometheus_config(config: str, agent: bool) -> None:
    result = run(tool("promtool"), "check", "config", *(["--agent"] if agent else []), config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_rules() -> None:
    result = run(tool("promtool"), "check", "rules", "rules/kiosk-recording.yml",
                 "rules/kiosk-alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_promtool_rule_tests_pass() -> None:
    result = run(tool("promtool"), "test", "rules", str(UNIT_TESTS.relative_to(PROM)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_contracts_alerts_are_all_there_each_explained() -> None:
    rules = alert_rules()
    assert sorted(rules) == sorted(CONTRACT_ALERTS)
    for name, rule in rules.items():
        notes = rule["annotations"]
        assert set(notes) == {"summary", "summary_en", "runbook"}, name
        assert re.search("[а-яіїєґ]", notes["summary"]), f"{name}: summary in Ukrainian"
        assert "{{ $labels.store }}" in notes["summary_en"], f"{name}: names the store"
        assert rule["labels"]["severity"] in {"page", "ticket"}, name


def test_each_alert_has_a_test_that_fires_and_one_that_stays_quiet() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(UNIT_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
            for alert in check["exp_alerts"]:  # only the faulty kiosks, never the healthy k1
                assert alert["exp_labels"]["kiosk"] not in {"k1", "k2"}, case["name"]
    assert fired == quiet == set(CONTRACT_ALERTS)


def test_every_alert_selects_the_contracts_scrape_job() -> None:
    recording = yaml.safe_load((PROM / "rules" / "kiosk-recording.yml").read_text())
    for rule in [*alert_rules().values(), *recording["groups"][0]["rules"]]:
        for selector in re.findall(r"\b(kiosk_\w+|process_\w+|up)\{([^}]*)\}", rule["expr"]):
            assert 'job="kiosk"' in selector[1], rule


def test_the_agent_ships_with_the_fleet_labels_and_a_password_from_a_file() -> None:
    agent = yaml.safe_load((PROM / "kiosk-agent.yml").read_text())
    assert set(agent["global"]["external_labels"]) == {"store", "kiosk", "region"}
    assert [job["job_name"] for job in agent["scrape_configs"]] == ["kiosk"]
    assert agent["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9110"]
    (write,) = agent["remote_write"]
    assert write["url"].startswith("https://")
    assert "password" not in write["basic_auth"] and "password_file" in write["basic_auth"]
    unit = (PROM / "kiosk-metrics-agent.service").read_text()
    credential = Path(write["basic_auth"]["password_file"]).name
    assert f"LoadCredential={credential}:" in unit
    assert "--enable-feature=agent,expand-external-labels" in unit


def test_alertmanager_accepts_the_example_and_routes_by_region_and_store() -> None:
    amtool = tool("amtool")
    config = str(FLEET / "alertmanager" / "alertmanager.yml")
    result = run(amtool, "check-config", config)
    assert result.returncode == 0, result.stdout + result.stderr

    def receivers(*labels: str) -> str:
        routed = run(amtool, "config", "routes", "test", f"--config.file={config}", *labels)
        assert routed.returncode == 0, routed.stderr
        return routed.stdout.strip()

    assert receivers("alertname=KioskDown", "severity=page", "region=kyiv",
                     "store=kyiv-0042") == "store-kyiv-0042,ops-kyiv"
    assert receivers("alertname=KioskDown", "severity=page", "region=kyiv",
                     "store=kyiv-0001") == "ops-kyiv"
    assert receivers("alertname=KioskCameraLost", "severity=page", "region=lviv",
                     "store=lviv-0007") == "ops-lviv"
    assert receivers("alertname=KioskConfigRejected", "severity=ticket", "region=kyiv",
                     "store=kyiv-0042") == "fleet-team"


def test_the_readme_tables_every_alert() -> None:
    readme = (ROOT / "README.md").read_text()
    fleet = readme[readme.index("\n## Fleet"):]
    for name in CONTRACT_ALERTS:
        assert re.search(rf"^\| `{name}` \|", fleet, re.MULTILINE), name


def test_the_metrics_playbook_installs_the_shipped_files_and_fills_their_placeholders() -> None:
    (play,) = yaml.safe_load((FLEET / "metrics.yml").read_text())
    sources = [task["ansible.builtin.copy"]["src"] for task in play["tasks"]
               if "src" in task.get("ansible.builtin.copy", {})]
    looked_up = re.findall(r"lookup\('file', '([^']+)'\)\s*\|\s*replace\('([^']+)'",
                           (FLEET / "metrics.yml").read_text())
    assert {path for path, _ in looked_up} == {"prometheus/kiosk-agent.yml",
                                               "journal/journal-upload.conf"}
    for path, placeholder in looked_up:
        assert placeholder in (FLEET / path).read_text(), (path, placeholder)
    shipped = [s for s in sources if not s.startswith("files/")]
    assert shipped == ["prometheus/kiosk-metrics-agent.service",
                       "journal/systemd-journal-upload.service.d/kiosk.conf"]
    for path in shipped:
        assert (FLEET / path).is_file(), path
    env = (PROM / "metrics-agent.env.example").read_text()
    agent = (PROM / "kiosk-agent.yml").read_text()
    for name in ("KIOSK_STORE", "KIOSK_ID", "KIOSK_REGION"):
        assert f"${{{name}}}" in agent and f"{name}=" in env and f"{name}=" in str(play)


@pytest.mark.parametrize("units", [
    ["prometheus/kiosk-metrics-agent.service"],
    ["prometheus/pull-over-vpn/kiosk-metrics-proxy.socket",
     "prometheus/pull-over-vpn/kiosk-metrics-proxy.service"],
])
def test_the_fleet_units_verify_clean(units: list[str]) -> None:
    analyze = tool("systemd-analyze")
    result = subprocess.run([analyze, "verify", "--man=no", *(str(FLEET / u) for u in units)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
