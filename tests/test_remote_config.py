"""Signed remote config, served by a real HTTP server on loopback to a running kiosk.

Unsigned, wrongly signed, older, invalid and unreachable configs are each refused while the
last good config keeps running; a good one is applied without a restart where it can be,
and one needing a restart is a trial that the next start rolls back if it did not come up.
"""

from __future__ import annotations

import http.server
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.bootstrap import bootstrap
from kiosk.cli import main
from kiosk.config import Config, ConfigError, parse_config
from kiosk.decoding.codes import to_code
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.loop import Reading
from kiosk.model import Fault, Outcome
from kiosk.ops.remote_config import ConfigStore, changed_keys, merge, needs_restart
from kiosk.ops.runtime import Operations, RestartRequested
from kiosk.ops.signing import RemoteConfigError, generate_keypair, sign_text, verify_text
from tests.fakes.signals import RecordingSignals

PRIVATE, PUBLIC = generate_keypair()
OTHER_PRIVATE, _ = generate_keypair()


def signed(version: int, body: str, key: bytes = PRIVATE) -> str:
    return sign_text(f"version = {version}\n{body}", key)


# --- the signature and the format --------------------------------------------------------


def test_a_signed_config_verifies_and_reads_as_toml() -> None:
    text = signed(4, "[kiosk]\nmin_age = 21\n")
    config = verify_text(text, PUBLIC)
    assert config.version == 4
    assert config.overlay == {"kiosk": {"min_age": 21}}
    assert text.startswith("#kiosk-signature: ed25519 ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("version = 4\n[kiosk]\nmin_age = 21\n", "unsigned"),
        (signed(4, "[kiosk]\nmin_age = 21\n", OTHER_PRIVATE), "bad_signature"),
        (signed(4, "[kiosk]\nmin_age = 21\n").replace("21", "12"), "bad_signature"),
        (signed(4, "[kiosk]\nmin_age = 21\n").replace("ed25519 ", "ed25519 x ", 1), "unsigned"),
        (sign_text("version = 4\n", PRIVATE).replace("version = 4", "version = 5"),
         "bad_signature"),
    ],
    ids=["unsigned", "other key", "tampered", "garbled line", "version bumped"],
)
def test_anything_but_our_signature_over_these_bytes_is_refused(text: str, reason: str) -> None:
    with pytest.raises(RemoteConfigError) as err:
        verify_text(text, PUBLIC)
    assert err.value.reason == reason


def test_signing_refuses_what_the_kiosk_would_refuse() -> None:
    with pytest.raises(RemoteConfigError, match="version"):
        sign_text("[kiosk]\nmin_age = 21\n", PRIVATE)
    with pytest.raises(RemoteConfigError, match=r"\[remote\]"):
        sign_text("version = 2\n[remote]\nurl = 'https://evil.example'\n", PRIVATE)


def test_the_overlay_replaces_keys_not_whole_sections() -> None:
    local = {"kiosk": {"mode": "validate", "min_age": 18}, "diia": {"branch_id": "b"}}
    assert merge(local, {"kiosk": {"min_age": 21}}) == {
        "kiosk": {"mode": "validate", "min_age": 21}, "diia": {"branch_id": "b"}}
    assert local["kiosk"]["min_age"] == 18  # the local dict is not touched


def test_which_changes_need_a_restart() -> None:
    old = Config()
    live = parse_config({"kiosk": {"min_age": 21}, "diia": {"timeout_s": 2}})
    assert changed_keys(old, live) == {"kiosk.min_age", "diia.timeout_s"}
    assert not needs_restart(changed_keys(old, live))
    assert needs_restart(changed_keys(old, parse_config({"signals": {"screen": "off"}})))
    assert needs_restart({"diia.auth_token_file"})  # a secret is read once, at start


# --- the state directory -----------------------------------------------------------------


def test_writes_are_atomic_and_private(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path / "remote", PUBLIC)
    store.accept(verify_text(signed(1, ""), PUBLIC))
    files = sorted(p.name for p in (tmp_path / "remote").iterdir())
    assert files == ["accepted.toml"]  # no temporary file left behind
    assert (tmp_path / "remote" / "accepted.toml").stat().st_mode & 0o777 == 0o600
    assert store.accepted().version == 1


def test_a_trial_that_did_not_come_up_is_rolled_back_for_good(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path, PUBLIC)
    store.accept(verify_text(signed(1, ""), PUBLIC))
    store.stage_trial(verify_text(signed(2, ""), PUBLIC))
    assert store.begin_start().version == 2  # its one start
    again = ConfigStore(tmp_path, PUBLIC)  # the next process: the trial never confirmed
    assert again.begin_start().version == 1
    assert again.rolled_back == 2
    assert again.is_rejected(2) and not again.is_rejected(1)


def test_a_trial_that_came_up_becomes_the_accepted_config(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path, PUBLIC)
    store.stage_trial(verify_text(signed(2, ""), PUBLIC))
    assert store.begin_start().version == 2
    assert store.confirm_start()
    assert ConfigStore(tmp_path, PUBLIC).begin_start().version == 2


def test_a_stored_config_signed_by_a_key_no_longer_trusted_is_ignored(tmp_path: Path) -> None:
    ConfigStore(tmp_path, PUBLIC).accept(verify_text(signed(3, ""), PUBLIC))
    _, new_public = generate_keypair()
    assert ConfigStore(tmp_path, new_public).accepted() is None


# --- a running kiosk and a real server ---------------------------------------------------


class ConfigServer:
    """Serves one file at /kiosk.toml over plain HTTP on loopback; `stop()` for unreachable."""

    def __init__(self) -> None:
        self.body = ""
        self.status = 200
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = owner.body.encode()
                self.send_response(owner.status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/kiosk.toml"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Scans:
    """Readings for a live kiosk: an empty one every 5 ms, a code when the test sends one."""

    def __init__(self) -> None:
        self.codes: queue.Queue = queue.Queue()
        self.stop = threading.Event()

    def __iter__(self) -> Iterator[Reading]:
        while not self.stop.is_set():
            try:
                code = self.codes.get(timeout=0.005)
            except queue.Empty:
                yield Reading([], [], time.monotonic())
                continue
            yield Reading([code], [code], time.monotonic())


class LiveKiosk:
    """A kiosk with Operations attached, running on a thread against the sandbox."""

    def __init__(self, config_path: Path, sandbox: DiiaSandbox) -> None:
        self.ops = Operations.start(config_path, {})
        self.credentials = sandbox.credentials
        self.sandbox = sandbox
        config = self.ops.config
        self.signals = RecordingSignals()
        self.scans = Scans()
        self.appliance = bootstrap(config, credentials=self.credentials,
                                   readings=iter(self.scans), gone_frames=0,
                                   outputs=[self.signals], ops=self.ops)
        self.ops.attach(self.appliance, every_s=0.0)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.appliance.run()
        except BaseException as exc:  # RestartRequested, for the test to see
            self.error = exc

    def verdict_for_age(self, age: int) -> tuple[Outcome, str]:
        """A customer of `age` shows a fresh valid code: what does the kiosk say?"""
        before = len(self.signals.verdicts)
        code = to_code(self.sandbox.mint("valid", age=age), "EAN-13")
        self.scans.codes.put(code)
        deadline = time.monotonic() + 5
        while len(self.signals.verdicts) == before and time.monotonic() < deadline:
            time.sleep(0.01)
        verdict = self.signals.verdicts[-1]
        return verdict.outcome, str(verdict.reason)

    def settle(self) -> None:
        """Let the loop turn a few times so housekeeping sees what the poller fetched."""
        time.sleep(0.1)

    def rejected(self, reason: str) -> float:
        return self.ops.metrics.registry.get_sample_value(
            "kiosk_config_rejected_total", {"reason": reason}) or 0.0

    def close(self) -> None:
        self.scans.stop.set()
        self.thread.join(10)
        self.ops.close()


def local_config(path: Path, sandbox: DiiaSandbox, server: ConfigServer, state: Path) -> Path:
    path.write_text(f"""
[kiosk]
mode = "age"
min_age = 18
attended = false
result_seconds = 0
state_dir = "{state}"

[diia]
base_url = "{sandbox.base_url}"
branch_id = "{sandbox.branch_id}"
timeout_s = 2.0

[source]
kind = "stdin"

[signals]
gpio = "off"
screen = "off"
events = "off"

[remote]
url = "{server.url}"
interval_s = 3600
public_key = "{PUBLIC}"
allow_http_loopback = true

[metrics]
port = 0

[clock]
require_sync = false
""")
    return path


@pytest.fixture
def server() -> Iterator[ConfigServer]:
    running = ConfigServer()
    yield running
    running.stop()


@pytest.fixture
def live(tmp_path: Path, sandbox: DiiaSandbox, server: ConfigServer) -> Iterator[LiveKiosk]:
    server.body = signed(1, "[kiosk]\nmin_age = 21\n")  # served before the kiosk starts
    path = local_config(tmp_path / "kiosk.toml", sandbox, server, tmp_path / "state")
    kiosk = LiveKiosk(path, sandbox)
    yield kiosk
    kiosk.close()


def wait_for_version(live: LiveKiosk, version: int) -> None:
    deadline = time.monotonic() + 5
    while live.ops.version != version and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.ops.version == version


def test_a_good_config_is_applied_without_a_restart(live: LiveKiosk, server) -> None:
    wait_for_version(live, 1)  # fetched at start, applied live: min_age 18 → 21
    assert live.verdict_for_age(19) == (Outcome.FAIL, "underage")
    assert live.thread.is_alive() and live.error is None
    assert live.ops.metrics.registry.get_sample_value("kiosk_config_version") == 1
    server.body = signed(2, "[kiosk]\nmin_age = 16\n")
    assert live.ops.poller.fetch_once() is not None
    wait_for_version(live, 2)
    assert live.verdict_for_age(17) == (Outcome.PASS, "valid")
    stored = (live.ops.state_dir / "remote" / "accepted.toml").read_text()
    assert stored == server.body  # kept for the next start, exactly as signed


@pytest.mark.parametrize(
    ("serve", "reason", "banner"),
    [
        (lambda s: s.__setattr__("body", "version = 9\n[kiosk]\nmin_age = 12\n"),
         "unsigned", True),
        (lambda s: s.__setattr__("body", signed(9, "[kiosk]\nmin_age = 12\n", OTHER_PRIVATE)),
         "bad_signature", True),
        (lambda s: s.__setattr__("body", signed(0 + 1, "[kiosk]\nmin_age = 12\n")),
         None, False),  # the running version again: nothing to do, nothing wrong
        (lambda s: s.__setattr__("body", signed(9, "[kiosk]\nmin_age = 'twelve'\n")),
         "invalid", True),
        (lambda s: s.__setattr__("status", 503), "unreachable", False),
        (lambda s: s.stop(), "unreachable", False),
    ],
    ids=["unsigned", "wrongly signed", "same version", "invalid", "HTTP 503", "server gone"],
)
def test_a_bad_config_is_refused_and_the_last_good_one_keeps_running(
    live: LiveKiosk, server: ConfigServer, serve, reason: str | None, banner: bool
) -> None:
    wait_for_version(live, 1)
    serve(server)
    assert live.ops.poller.fetch_once() is None
    live.settle()
    assert live.ops.version == 1
    assert live.verdict_for_age(19) == (Outcome.FAIL, "underage")  # min_age 21 still rules
    assert live.ops.poller.last_rejection == reason
    if reason:
        assert live.rejected(reason) == 1
    assert (Fault.CONFIG in live.appliance.kiosk.state.faults) is banner
    assert live.thread.is_alive()


def test_an_older_config_is_refused_no_rollback(live: LiveKiosk, server: ConfigServer) -> None:
    wait_for_version(live, 1)
    server.body = signed(3, "[kiosk]\nmin_age = 25\n")
    live.ops.poller.fetch_once()
    wait_for_version(live, 3)
    server.body = signed(2, "[kiosk]\nmin_age = 12\n")  # an old file put back on the server
    assert live.ops.poller.fetch_once() is None
    live.settle()
    assert live.ops.version == 3
    assert live.rejected("not_newer") == 1
    assert live.verdict_for_age(24) == (Outcome.FAIL, "underage")


def test_a_config_needing_a_restart_is_a_trial_rolled_back_if_it_fails(
    live: LiveKiosk, server: ConfigServer, tmp_path: Path, sandbox: DiiaSandbox
) -> None:
    wait_for_version(live, 1)
    server.body = signed(2, "[kiosk]\nmin_age = 30\n[signals]\nevents = 'stdout'\n")
    live.ops.poller.fetch_once()
    live.thread.join(5)
    assert isinstance(live.error, RestartRequested)  # the loop ended for systemd to restart
    config_path = tmp_path / "kiosk.toml"
    first = Operations.start(config_path, {})  # the restart: runs the trial once
    assert first.version == 2 and first.config.signals.events == "stdout"
    second = Operations.start(config_path, {})  # it died before confirming: roll back
    assert second.version == 1 and second.config.kiosk.min_age == 21
    assert second.metrics.registry.get_sample_value(
        "kiosk_config_rejected_total", {"reason": "failed_start"}) == 1
    assert second.store.is_rejected(2)


# --- the operator's commands -------------------------------------------------------------


def test_operator_commands_keygen_sign_verify_validate(tmp_path: Path, capsys) -> None:
    key = tmp_path / "signing.pem"
    assert main(["config", "keygen", str(key)]) == 0
    public = capsys.readouterr().out.split('public_key = "')[1].split('"')[0]
    assert key.stat().st_mode & 0o777 == 0o600
    assert main(["config", "keygen", str(key)]) == 2  # never overwrites a key
    plain = tmp_path / "fleet.toml"
    plain.write_text("version = 5\n[kiosk]\nmin_age = 21\n")
    out = tmp_path / "fleet.signed.toml"
    assert main(["config", "sign", "--key", str(key), str(plain), "-o", str(out)]) == 0
    assert verify_text(out.read_text(), public).version == 5
    capsys.readouterr()
    assert main(["config", "verify", "--public-key", public, str(out)]) == 0
    assert "version 5, sets kiosk.min_age" in capsys.readouterr().out
    out.write_text(out.read_text().replace("21", "12"))
    assert main(["config", "verify", "--public-key", public, str(out)]) == 2
    assert "bad_signature" in capsys.readouterr().err
    assert main(["config", "validate", str(plain)]) == 0
    plain.write_text("version = 6\n[kiosk]\nmin_agee = 21\n")
    assert main(["config", "validate", str(plain)]) == 2
    assert 'did you mean "min_age"' in capsys.readouterr().err
    assert main(["config", "sign", "--key", str(key), str(plain)]) == 2


def test_production_fetches_over_https_only() -> None:
    key = {"public_key": PUBLIC}
    parse_config({"remote": {"url": "https://fleet.example/k.toml", **key}})
    with pytest.raises(ConfigError, match="https"):
        parse_config({"remote": {"url": "http://fleet.example/k.toml", **key}})
    with pytest.raises(ConfigError, match="https"):  # loopback, but nobody opted in
        parse_config({"remote": {"url": "http://127.0.0.1:8000/k.toml", **key}})
    with pytest.raises(ConfigError, match="https"):  # opted in, but not loopback
        parse_config({"remote": {"url": "http://10.0.0.1/k.toml", "allow_http_loopback": True,
                                 **key}})
    parse_config({"remote": {"url": "http://127.0.0.1:8000/k.toml", "allow_http_loopback": True,
                             **key}})
    with pytest.raises(ConfigError, match="public_key"):
        parse_config({"remote": {"url": "https://fleet.example/k.toml"}})
