"""Clock trust: NTP's marker file, the kernel's flag, or Diia's Date header vouch for it;
until one does, verdicts are unknown (never green) and the clock banner shows."""

from __future__ import annotations

from pathlib import Path

from kiosk.bootstrap import build_checker, build_client
from kiosk.checking.checker import DiiaChecker
from kiosk.config import parse_config
from kiosk.decoding.codes import to_code
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.model import Code, Outcome
from kiosk.ops.clock import ClockTrust, kernel_clock_synced


def trust(tmp_path: Path, **kwargs) -> ClockTrust:
    kwargs.setdefault("kernel_synced", lambda: False)
    return ClockTrust(sync_file=tmp_path / "synchronized", **kwargs)


def test_untrusted_until_something_vouches(tmp_path: Path) -> None:
    state = trust(tmp_path).state()
    assert not state.trusted and state.source == "none"


def test_timesyncd_marker_file_vouches(tmp_path: Path) -> None:
    clock = trust(tmp_path)
    (tmp_path / "synchronized").touch()
    assert clock.state().source == "ntp" and clock.trusted()
    (tmp_path / "synchronized").unlink()  # timesyncd restarted: trust goes with the file
    assert not clock.trusted()


def test_the_kernel_flag_vouches_for_chrony(tmp_path: Path) -> None:
    assert trust(tmp_path, kernel_synced=lambda: True).state().source == "kernel"
    assert not trust(tmp_path, kernel_synced=lambda: None).trusted()  # cannot ask: no vouch


def test_diia_vouches_only_within_the_allowed_offset(tmp_path: Path) -> None:
    offset: list[float | None] = [None]
    clock = trust(tmp_path, max_offset_s=60, server_offset=lambda: offset[0])
    assert not clock.trusted()
    offset[0] = -59.0
    assert clock.state().source == "diia"
    offset[0] = 3600.0  # a Pi that booted offline an hour behind
    state = clock.state()
    assert not state.trusted and state.diia_offset_s == 3600.0


def test_not_required_means_trusted(tmp_path: Path) -> None:
    assert trust(tmp_path, required=False).state().source == "not_required"


def test_the_kernel_can_be_asked_here_without_crashing() -> None:
    assert kernel_clock_synced() in (True, False, None)


class YesDiia:
    def validate(self, code: Code) -> bool:
        return True

    def check_age(self, code: Code, min_age: int) -> bool:
        return True


def test_an_untrusted_clock_turns_a_pass_amber() -> None:
    code = to_code("3559217693026", "EAN-13")
    trusted = [False]
    checker = DiiaChecker(YesDiia(), mode="validate", clock_trusted=lambda: trusted[0])
    verdict = checker.check(code)
    assert (verdict.outcome, str(verdict.reason)) == (Outcome.UNKNOWN, "clock_untrusted")
    trusted[0] = True
    assert checker.check(code).outcome is Outcome.PASS  # doubt was not remembered


def test_diias_date_header_from_the_very_call_vouches(tmp_path: Path) -> None:
    """End to end: the sandbox's clock agrees, so the first answer makes the clock trusted;
    a sandbox an hour ahead leaves it untrusted and the verdict amber."""
    for offset_s, expected in ((0.0, Outcome.PASS), (3600.0, Outcome.UNKNOWN)):
        with DiiaSandbox(clock_offset_s=offset_s) as sandbox:
            config = parse_config({"kiosk": {"mode": "validate"}, "diia": {
                "base_url": sandbox.base_url, "branch_id": sandbox.branch_id}})
            with build_client(config, sandbox.credentials) as client:
                clock = trust(tmp_path, server_offset=lambda c=client: c.server_clock_offset_s)
                checker = build_checker(config, client, clock_trusted=clock.trusted)
                verdict = checker.check(to_code(sandbox.mint("valid"), "EAN-13"))
        assert verdict.outcome is expected, (offset_s, verdict)
