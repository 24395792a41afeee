"""The health endpoint: a real HTTP server on loopback, scraped as Prometheus would, and
the Pi's power flags read from a sysfs tree laid out as the kernel lays it out."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import kiosk
from kiosk.diia.client import Exchange
from kiosk.model import CodeKind, Fault, Frame, Outcome, Phase, Reason, State, Verdict
from kiosk.ops.metrics import Metrics, MetricsServer, MetricsSignals, TimedDecoder, serve_metrics
from kiosk.ops.power import PowerReader


def verdict(outcome: Outcome, reason: Reason, cached: bool = False) -> Verdict:
    assert reason.outcome is outcome
    return Verdict(reason, "age", CodeKind.BARCODE, "ab12cd34", cached,
                   ms={"decode": 4.0, "diia": 120.0, "total": 130.0})


def value(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float | None:
    return metrics.registry.get_sample_value(name, labels or {})


def test_each_verdict_shown_is_counted_once_by_outcome_and_reason() -> None:
    metrics = Metrics()
    signals = MetricsSignals(metrics)
    passed = verdict(Outcome.PASS, Reason.VALID)
    down = verdict(Outcome.UNKNOWN, Reason.DIIA_UNAVAILABLE)
    for state in (State(Phase.CHECKING), State(Phase.PASS, passed), State(Phase.PASS, passed),
                  State(Phase.UNKNOWN, down), State(Phase.IDLE)):
        signals.show(state)
    labels = {"outcome": "pass", "reason": "valid", "cached": "false"}
    assert value(metrics, "kiosk_verdicts_total", labels) == 1
    assert value(metrics, "kiosk_diia_errors_total", {"reason": "diia_unavailable"}) == 1
    assert value(metrics, "kiosk_stage_seconds_count", {"stage": "diia"}) == 2
    assert value(metrics, "kiosk_stage_seconds_sum", {"stage": "total"}) == pytest.approx(0.26)


def test_faults_shown_are_exported() -> None:
    metrics = Metrics()
    MetricsSignals(metrics).show(State(Phase.IDLE, faults=frozenset({Fault.CLOCK})))
    assert value(metrics, "kiosk_fault", {"fault": "clock"}) == 1
    assert value(metrics, "kiosk_fault", {"fault": "camera"}) == 0


def test_frames_are_timed_and_counted_with_no_rate_gauge_beside_them() -> None:
    metrics = Metrics()

    class Instant:
        def decode(self, frame: Frame) -> list:
            return []

    decoder = TimedDecoder(Instant(), metrics)
    for i in range(31):
        decoder.decode(Frame(None, i / 15))  # type: ignore[arg-type]
    assert value(metrics, "kiosk_frames_total") == 31
    assert value(metrics, "kiosk_decode_seconds_count") == 31
    names = {m.name for m in metrics.registry.collect()}
    assert "kiosk_frames_per_second" not in names  # rate(kiosk_frames_total[1m]) says it


def test_build_info_names_the_version_and_process_metrics_share_the_registry() -> None:
    metrics = Metrics()
    assert value(metrics, "kiosk_build_info", {"version": kiosk.__version__}) == 1
    assert value(metrics, "process_start_time_seconds") > 1.7e9  # this process, in Unix time
    assert value(metrics, "process_resident_memory_bytes") > 0
    assert value(metrics, "process_cpu_seconds_total") > 0
    names = {m.name for m in Metrics(process=False).registry.collect()}
    assert "process_start_time_seconds" not in names and "kiosk_build_info" in names


def test_every_verdict_is_exported_at_zero_before_it_first_happens() -> None:
    # A series born at 1 hides its first verdict from the centre's rate() and increase().
    metrics = Metrics()
    for reason in Reason:
        labels = {"outcome": str(reason.outcome), "reason": str(reason), "cached": "false"}
        assert value(metrics, "kiosk_verdicts_total", labels) == 0, reason
    assert value(metrics, "kiosk_diia_errors_total", {"reason": "timeout"}) == 0
    samples = [s.name for family in metrics.registry.collect() for s in family.samples]
    assert not [name for name in samples if name.endswith("_created")]


def test_every_exported_name_is_in_the_readme_table() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for family in Metrics().registry.collect():
        if family.name.startswith("kiosk_"):
            shown = family.name + ("_total" if family.type == "counter" else "")
            assert f"`{shown}" in readme, shown


def test_diia_exchanges_count_token_renewals() -> None:
    metrics = Metrics()
    metrics.observe_exchange(Exchange("login", 200, 80.0, True))
    metrics.observe_exchange(Exchange("login", 401, 50.0, False))
    metrics.observe_exchange(Exchange("age", 200, 120.0, False))
    assert value(metrics, "kiosk_diia_logins_total") == 1
    assert value(metrics, "kiosk_diia_request_seconds_count", {"call": "login"}) == 2


def test_the_endpoint_serves_prometheus_text_on_loopback_only() -> None:
    now = [100.0]
    metrics = Metrics(clock=lambda: now[0])
    metrics.config_version.set(7)
    metrics.clock_trusted.set(1)
    now[0] = 160.0
    server = MetricsServer(metrics, 0)
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        assert response.status_code == 200
        text = response.text
        assert "kiosk_config_version 7.0" in text
        assert "kiosk_clock_trusted 1.0" in text
        assert "kiosk_uptime_seconds 60.0" in text
        assert f'kiosk_build_info{{version="{kiosk.__version__}"}} 1.0' in text
        assert "process_resident_memory_bytes " in text
        assert server._server.server_address[0] == "127.0.0.1"
    finally:
        server.close()


def test_a_taken_port_costs_the_endpoint_not_the_kiosk() -> None:
    first = MetricsServer(Metrics(), 0)
    try:
        assert serve_metrics(Metrics(), first.port) is None
        assert serve_metrics(Metrics(), 0) is None  # 0 in the config means off
    finally:
        first.close()


# --- power flags -------------------------------------------------------------------------


def pi_sysfs(root: Path, throttled: str | None = "0", alarm: str | None = "0") -> Path:
    if alarm is not None:
        hwmon = root / "class/hwmon/hwmon1"
        hwmon.mkdir(parents=True)
        (hwmon / "name").write_text("rpi_volt\n")
        (hwmon / "in0_lcrit_alarm").write_text(alarm + "\n")
        other = root / "class/hwmon/hwmon0"
        other.mkdir(parents=True)
        (other / "name").write_text("cpu_thermal\n")
    if throttled is not None:
        firmware = root / "bus/platform/drivers/raspberrypi-firmware/soc:firmware"
        firmware.mkdir(parents=True)
        (firmware / "get_throttled").write_text(throttled + "\n")
    return root


def test_no_flags_off_a_pi(tmp_path: Path) -> None:
    assert PowerReader(tmp_path).read() is None


def test_get_throttled_bits_now_and_latched_where_there_is_no_hwmon(tmp_path: Path) -> None:
    root = pi_sysfs(tmp_path, throttled="50005", alarm=None)  # under-voltage + throttled
    reader = PowerReader(root)
    flags = reader.read()
    assert flags.raw == 0x50005
    assert flags.now["under_voltage"] and flags.now["throttled"]
    assert not flags.now["frequency_capped"]
    (root / "bus/platform/drivers/raspberrypi-firmware/soc:firmware/get_throttled").write_text(
        "0\n")  # the driver's poll cleared the sticky bits
    flags = reader.read()
    assert not flags.now["under_voltage"]
    assert flags.seen["under_voltage"] and flags.seen["throttled"]  # latched by us


def test_sticky_bits_alone_count_as_seen(tmp_path: Path) -> None:
    flags = PowerReader(pi_sysfs(tmp_path, throttled="80000", alarm=None)).read()  # soft temp
    assert flags.seen["soft_temperature_limit"] and not flags.now["soft_temperature_limit"]


def test_the_hwmon_alarm_is_under_voltage_in_the_last_poll_not_now(tmp_path: Path) -> None:
    root = pi_sysfs(tmp_path, throttled=None, alarm="1")
    reader = PowerReader(root)
    flags = reader.read()
    assert flags.raw is None and flags.recent_under_voltage
    assert flags.seen["under_voltage"] and not flags.now["under_voltage"]
    (root / "class/hwmon/hwmon1/in0_lcrit_alarm").write_text("0\n")  # the next poll
    flags = reader.read()
    assert not flags.recent_under_voltage and flags.seen["under_voltage"]  # latched


def test_under_voltage_now_comes_from_get_throttled_bit_0_only(tmp_path: Path) -> None:
    # Occurred (bit 16) but not now (bit 0 clear).
    flags = PowerReader(pi_sysfs(tmp_path, throttled="10000", alarm=None)).read()
    assert not flags.now["under_voltage"] and flags.seen["under_voltage"]


def test_hwmon_is_preferred_and_get_throttled_never_read_where_both_exist(
    tmp_path: Path,
) -> None:
    # The first read of get_throttled logs a one-time kernel WARNING and taints the kernel
    # (drivers/firmware/raspberrypi.c, "deprecated, use hwmon sysfs instead").
    root = pi_sysfs(tmp_path, throttled="50005", alarm="0")
    flags = PowerReader(root).read()
    assert flags.raw is None and not any(flags.now.values()) and not any(flags.seen.values())
    (root / "class/hwmon/hwmon1/in0_lcrit_alarm").write_text("1\n")
    assert PowerReader(root).read().seen == {"under_voltage": True, "frequency_capped": False,
                                              "throttled": False,
                                              "soft_temperature_limit": False}


def test_each_power_poll_that_finds_under_voltage_is_counted_for_the_centre(
        tmp_path: Path) -> None:
    root = pi_sysfs(tmp_path, throttled=None, alarm="0")  # a Pi that reads hwmon
    reader, metrics = PowerReader(root), Metrics()
    polls = {"flag": "under_voltage"}
    metrics.observe_power(reader.read())
    assert value(metrics, "kiosk_power_flag_polls_total", polls) == 0  # there, at 0
    (root / "class/hwmon/hwmon1/in0_lcrit_alarm").write_text("1\n")  # a dip
    metrics.observe_power(reader.read())
    metrics.observe_power(reader.read())
    (root / "class/hwmon/hwmon1/in0_lcrit_alarm").write_text("0\n")
    metrics.observe_power(reader.read())
    assert value(metrics, "kiosk_power_flag_polls_total", polls) == 2
    assert value(metrics, "kiosk_power_flag", polls) == 0  # never "now" from hwmon
    assert value(metrics, "kiosk_power_flag_seen", polls) == 1


def test_kiosk_run_wiring_feeds_metrics_and_the_audit_log(sandbox, tmp_path: Path) -> None:
    """The composition root with ops: frames timed, verdicts counted, the audit log written."""
    from kiosk.bootstrap import bootstrap
    from kiosk.decoding import code_images
    from kiosk.ops.runtime import Operations

    folder = tmp_path / "codes"
    folder.mkdir()
    codes = [sandbox.mint("valid", age=30), sandbox.mint("expired")]
    for i, code in enumerate(codes):
        code_images.render_ean13(code).save(folder / f"{i}.png")
    config_file = tmp_path / "kiosk.toml"
    config_file.write_text(f"""
[kiosk]
mode = "validate"
result_seconds = 0
state_dir = "{tmp_path / 'state'}"
[diia]
base_url = "{sandbox.base_url}"
branch_id = "{sandbox.branch_id}"
[source]
kind = "images"
path = "{folder}"
hold_frames = 3
[signals]
gpio = "off"
screen = "off"
events = "off"
[metrics]
port = 0
""")
    ops = Operations.start(config_file, {})
    appliance = bootstrap(ops.config, credentials=sandbox.credentials, ops=ops)
    ops.attach(appliance)
    try:
        appliance.run()
    finally:
        ops.close()
    metrics = ops.metrics
    assert value(metrics, "kiosk_frames_total") == 6
    assert value(metrics, "kiosk_decode_seconds_count") == 6
    assert value(metrics, "kiosk_verdicts_total",
                 {"outcome": "pass", "reason": "valid", "cached": "false"}) == 1
    assert value(metrics, "kiosk_verdicts_total",
                 {"outcome": "fail", "reason": "expired", "cached": "false"}) == 1
    assert value(metrics, "kiosk_diia_logins_total") == 1
    ops.housekeeping.update()  # as the next loop turn would
    assert value(metrics, "kiosk_clock_trusted") == 1  # Diia's Date header agreed
    audit = (tmp_path / "state" / "audit" / "verdicts.jsonl").read_text()
    assert [line.count('"event": "verdict"') for line in audit.splitlines()] == [1, 1]
    assert not any(code in audit for code in codes)
