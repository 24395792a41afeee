"""The kiosk's agent as shipped (deploy/fleet/prometheus/kiosk-agent.yml): Prometheus in agent
mode scraping a kiosk's metrics on loopback and writing them to the centre (the shipped
centre-web.yml: HTTPS and a bcrypt password) with the store/kiosk/region labels from its
environment; the centre goes away for a while and the agent fills the gap when it is back."""

from __future__ import annotations

import ssl
import time
import warnings
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from kiosk.ops.metrics import Metrics, MetricsServer
from tests.kiosk_process import free_port
from tests.prometheus import FLEET_PROMETHEUS, Prometheus, write_request
from tests.tls import write_tls_files

with warnings.catch_warnings():  # deprecated, still the standard library's bcrypt in 3.11/3.12
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt

LABELS = {"KIOSK_STORE": "kyiv-0042", "KIOSK_ID": "kyiv-0042-till-1", "KIOSK_REGION": "kyiv"}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def kiosk_metrics() -> Iterator[int]:
    metrics = Metrics()
    metrics.config_version.set(8)
    server = MetricsServer(metrics, 0)
    try:
        yield server.port
    finally:
        server.close()


def centre(folder: Path, port: int, ca: Path, cert: Path, key: Path) -> Prometheus:
    """The centre with the shipped web config: its TLS files and a known password swapped in."""
    web = yaml.safe_load((FLEET_PROMETHEUS / "centre-web.yml").read_text())
    web["tls_server_config"].update({"cert_file": str(cert), "key_file": str(key)})
    web["basic_auth_users"] = {"kiosk": crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "web.yml").write_text(yaml.safe_dump(web))
    return Prometheus(folder, {"global": {"scrape_interval": "1m"}},
                      "--web.enable-remote-write-receiver",
                      f"--web.config.file={folder / 'web.yml'}", port=port, scheme="https",
                      verify=ssl.create_default_context(cafile=ca), auth=("kiosk", PASSWORD))


def widest_gap(prometheus: Prometheus, selector: str) -> tuple[float, float]:
    """The widest gap between consecutive samples of `selector` in the last minute, and the
    newest sample's time."""
    (series,) = prometheus.query(f"{selector}[1m]")
    times = [float(t) for t, _ in series["values"]]
    return max(b - a for a, b in pairwise(times)), times[-1]


def test_the_shipped_agent_ships_over_https_with_its_labels_and_fills_an_outage(
        tmp_path: Path, kiosk_metrics: int, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tls").mkdir()
    ca, cert, key = write_tls_files(tmp_path / "tls", "127.0.0.1")
    port = free_port()
    the_centre = centre(tmp_path / "centre", port, ca, cert, key)
    password = tmp_path / "metrics-password"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)
    # The shipped file with this test's addresses, files and a 1 s scrape; nothing else.
    shipped = (FLEET_PROMETHEUS / "kiosk-agent.yml").read_text()
    config = yaml.safe_load(shipped)
    config["global"]["scrape_interval"] = "1s"
    config["global"]["scrape_timeout"] = "900ms"
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{kiosk_metrics}"]
    write = config["remote_write"][0]
    write["url"] = f"https://127.0.0.1:{port}/api/v1/write"
    write["basic_auth"]["password_file"] = str(password)
    write["tls_config"]["ca_file"] = str(ca)
    assert config["global"]["external_labels"] == {
        "store": "${KIOSK_STORE}", "kiosk": "${KIOSK_ID}", "region": "${KIOSK_REGION}"}
    for name, value in LABELS.items():
        monkeypatch.setenv(name, value)
    series = 'kiosk_build_info{store="kyiv-0042", kiosk="kyiv-0042-till-1", region="kyiv", ' \
             'job="kiosk"}'
    with Prometheus(tmp_path / "agent", config, "--enable-feature=expand-external-labels",
                    agent=True):
        try:
            the_centre.wait_until(lambda: the_centre.query(f"count_over_time({series}[1m]) > 3"),
                                  30, "receiving")
            the_centre.close()  # gone for a while; the agent keeps scraping into its WAL
            time.sleep(8)
            back = time.time()
            the_centre = centre(tmp_path / "centre", port, ca, cert, key)

            def filled() -> bool:
                gap, newest = widest_gap(the_centre, series)
                return newest > back + 2 and gap < 3  # scraped every 1 s: no hole left

            the_centre.wait_until(filled, 40, "filling the outage")
        finally:
            the_centre.close()


@pytest.mark.parametrize("window", [True, False])
def test_the_centre_takes_a_kiosks_backlog_from_a_day_offline(tmp_path: Path,
                                                              window: bool) -> None:
    """A kiosk back after 20 hours sends 20-hour-old samples while the rest of the fleet sends
    today's: the shipped centre.yml's out-of-order window takes them; without it they are
    refused as out of bounds (the control)."""
    shipped = yaml.safe_load((FLEET_PROMETHEUS / "centre.yml").read_text())
    config = {"global": shipped["global"], **({"storage": shipped["storage"]} if window else {})}
    now_ms = int(time.time() * 1000)
    fleet = {"__name__": "kiosk_uptime_seconds", "job": "kiosk", "store": "kyiv-0001",
             "kiosk": "kyiv-0001-till-1", "region": "kyiv"}
    back = {**fleet, "store": "lviv-0007", "kiosk": "lviv-0007-till-1", "region": "lviv"}
    with Prometheus(tmp_path / "centre", config, "--web.enable-remote-write-receiver") as centre:
        def send(series: dict[str, str], samples: list[tuple[int, float]]) -> int:
            return centre.http.post("/api/v1/write", content=write_request([(series, samples)]),
                                    headers={"Content-Encoding": "snappy",
                                             "Content-Type": "application/x-protobuf"}
                                    ).status_code

        assert send(fleet, [(now_ms, 3600.0)]) == 204
        day_old = [(now_ms - hours * 3_600_000, 100.0 + hours) for hours in (20, 12, 2)]
        status = send(back, day_old)
        if window:
            assert status == 204
            kept = centre.query('count_over_time(kiosk_uptime_seconds{store="lviv-0007"}[21h])')
            assert float(kept[0]["value"][1]) == 3
        else:
            assert status == 400  # "out of bounds": the backlog would be lost
