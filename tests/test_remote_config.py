"""Remote config from a real TUF repository (made by `kiosk.ops.fleet`, served on loopback)
to a running kiosk.

Each attack TUF exists for is refused with its reason logged and counted while the last good
config keeps running: a freeze, a rollback, mix-and-match, a revoked key, a root below its
threshold, a version fast-forward, a target for another kiosk, huge and slow files. A good
config is applied without a restart where it can be; one needing a restart is a trial that
the next start rolls back if it did not come up.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root

from kiosk.bootstrap import bootstrap
from kiosk.config import Config, ConfigError, parse_config
from kiosk.config_files import check_paths
from kiosk.decoding.codes import to_code
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.loop import Reading
from kiosk.model import Fault, Outcome
from kiosk.ops.fleet import Keyring
from kiosk.ops.remote_config import changed_keys, merge, needs_restart
from kiosk.ops.runtime import Operations, RestartRequested
from kiosk.ops.tuf_client import MAX_TARGET_BYTES
from tests.fakes.signals import RecordingSignals
from tests.fleet_repo import ServedRepository, copy_keys


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


# --- a running kiosk and a real repository -----------------------------------------------


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

    def __init__(self, config_path: Path, sandbox: DiiaSandbox, **ops: object) -> None:
        self.ops = Operations.start(config_path, {}, **ops)
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

    def faults(self) -> frozenset[Fault]:
        return self.appliance.kiosk.state.faults

    def rejected(self, reason: str) -> float:
        return self.ops.metrics.registry.get_sample_value(
            "kiosk_config_rejected_total", {"reason": reason}) or 0.0

    def close(self) -> None:
        self.scans.stop.set()
        self.thread.join(10)
        self.ops.close()


def local_config(path: Path, sandbox: DiiaSandbox, fleet: ServedRepository, state: Path,
                 *, timeout_s: float = 5.0, clock: str = "require_sync = false") -> Path:
    path.write_text(f"""
[kiosk]
mode = "age"
min_age = 18
attended = false
result_seconds = 0
state_dir = "{state}"
id = "k1"
store = "s1"

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
url = "{fleet.url}"
root_file = "{fleet.root_file}"
interval_s = 3600
timeout_s = {timeout_s}
allow_http_loopback = true

[metrics]
port = 0

[clock]
{clock}
""")
    return path


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[ServedRepository]:
    served = ServedRepository(tmp_path / "fleet")
    served.publish("fleet.toml", "[kiosk]\nmin_age = 21\n")  # before the kiosk starts
    yield served
    served.stop()


@pytest.fixture
def live(tmp_path: Path, sandbox: DiiaSandbox, fleet: ServedRepository) -> Iterator[LiveKiosk]:
    path = local_config(tmp_path / "kiosk.toml", sandbox, fleet, tmp_path / "state",
                        timeout_s=1.0)
    kiosk = LiveKiosk(path, sandbox)
    yield kiosk
    kiosk.close()


def wait_for(live: LiveKiosk, min_age: int) -> None:
    deadline = time.monotonic() + 5
    while live.ops.config.kiosk.min_age != min_age and time.monotonic() < deadline:
        time.sleep(0.01)
    assert live.ops.config.kiosk.min_age == min_age


def refresh(live: LiveKiosk) -> None:
    assert live.ops.poller is not None
    live.ops.poller.fetch_once()
    live.settle()


def test_a_good_config_is_applied_without_a_restart(live: LiveKiosk, fleet) -> None:
    wait_for(live, 21)  # fetched at start, applied live: min_age 18 → 21
    assert live.verdict_for_age(19) == (Outcome.FAIL, "underage")
    assert live.thread.is_alive() and live.error is None
    first = live.ops.version
    assert live.ops.metrics.registry.get_sample_value("kiosk_config_version") == first > 0
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 16\n")
    refresh(live)
    wait_for(live, 16)
    assert live.verdict_for_age(17) == (Outcome.PASS, "valid")
    assert live.ops.version > first
    stored = (live.ops.state_dir / "remote" / "accepted.json").read_text()
    assert "min_age = 16" in stored  # kept for the next start
    assert not any(live.rejected(r) for r in ("expired", "rollback", "bad_signature"))


def test_layers_merge_broadest_first_and_another_kiosks_file_is_not_ours(
    live: LiveKiosk, fleet: ServedRepository
) -> None:
    wait_for(live, 21)
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 21\nresult_seconds = 2\n")
    fleet.publish("stores/s1.toml", "[kiosk]\nmin_age = 25\n")
    fleet.publish("stores/s2.toml", "[kiosk]\nmin_age = 60\n")  # another store
    fleet.publish("kiosks/k2.toml", "[kiosk]\nmin_age = 99\n")  # another kiosk
    refresh(live)
    wait_for(live, 25)  # the store's key wins over the fleet's
    assert live.ops.config.kiosk.result_seconds == 2  # the fleet's other keys stay
    fleet.publish("kiosks/k1.toml", "[kiosk]\nmin_age = 19\n")
    refresh(live)
    wait_for(live, 19)  # and this kiosk's own over both
    assert live.ops.remote is not None
    assert [layer.path for layer in live.ops.remote.layers] == [
        "fleet.toml", "stores/s1.toml", "kiosks/k1.toml"]
    assert not any("k2" in r or "s2" in r for r in fleet.requests)  # never even fetched


def expired_timestamp(fleet: ServedRepository) -> None:
    fleet.repo.renew_timestamp(expires=timedelta(seconds=-1))


def expired_snapshot(fleet: ServedRepository) -> None:
    fleet.repo._publish_snapshot(fleet.repo.snapshot(), expires=timedelta(seconds=-1))


def newest(old: dict[str, bytes], role: str) -> bytes:
    versions = [int(path.split("/")[-1].split(".")[0]) for path in old
                if path.endswith(f".{role}.json")]
    return old[f"/metadata/{max(versions)}.{role}.json"]


def old_timestamp(fleet: ServedRepository, old: dict[str, bytes]) -> None:
    fleet.serve_old(old, "timestamp.json")


def old_snapshot_under_the_new_name(fleet: ServedRepository, old: dict[str, bytes]) -> None:
    version = fleet.repo.timestamp().signed.snapshot_meta.version
    fleet.replace[f"/metadata/{version}.snapshot.json"] = newest(old, "snapshot")


def old_targets_under_the_new_name(fleet: ServedRepository, old: dict[str, bytes]) -> None:
    version = fleet.repo.snapshot().signed.meta["targets.json"].version
    fleet.replace[f"/metadata/{version}.targets.json"] = newest(old, "targets")


def another_kiosks_file_at_our_url(fleet: ServedRepository, old: dict[str, bytes]) -> None:
    info = fleet.repo.targets().signed.targets["kiosks/k1.toml"]
    url = f"/targets/kiosks/{info.hashes['sha256']}.k1.toml"
    other = fleet.repo.targets().signed.targets["kiosks/k2.toml"]
    fleet.replace[url] = fleet.files()[f"/targets/kiosks/{other.hashes['sha256']}.k2.toml"]


ATTACKS = {
    # name: (what the attacker or the mirror does, the reason counted, the banner shown)
    "expired timestamp": (lambda f, old: expired_timestamp(f), "expired", Fault.CONFIG_STALE),
    "expired snapshot": (lambda f, old: expired_snapshot(f), "expired", Fault.CONFIG_STALE),
    "old timestamp": (old_timestamp, "rollback", Fault.CONFIG),
    "old snapshot, new name": (old_snapshot_under_the_new_name, "rollback", Fault.CONFIG),
    "old targets, new name": (old_targets_under_the_new_name, "rollback", Fault.CONFIG),
    "another kiosk's file": (another_kiosks_file_at_our_url, "mismatch", Fault.CONFIG),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_an_attack_is_refused_and_the_last_good_config_keeps_running(
    live: LiveKiosk, fleet: ServedRepository, attack, caplog
) -> None:
    act, reason, banner = attack
    wait_for(live, 21)
    old = fleet.files()  # an older state of the repository, every file still unexpired
    fleet.publish("kiosks/k2.toml", "[kiosk]\nmin_age = 12\n")
    fleet.publish("kiosks/k1.toml", "[kiosk]\nmin_age = 22\n")
    refresh(live)
    wait_for(live, 22)
    fleet.publish("kiosks/k1.toml", "[kiosk]\nmin_age = 23\n")
    with caplog.at_level(logging.WARNING, logger="kiosk"):
        act(fleet, old)
        refresh(live)
    assert live.ops.config.kiosk.min_age == 22
    assert live.verdict_for_age(21) == (Outcome.FAIL, "underage")  # min_age 22 still rules
    assert live.ops.poller.last_rejection == reason
    assert live.rejected(reason) == 1
    assert banner in live.faults()
    assert f"remote config refused ({reason})" in caplog.text
    assert live.thread.is_alive()
    fleet.replace.clear()  # the attack ends (the real repository signs a fresh timestamp)
    fleet.repo.renew_timestamp()
    refresh(live)
    wait_for(live, 23)
    assert banner not in live.faults()


def test_a_frozen_mirror_is_noticed_once_the_timestamp_expires(
    live: LiveKiosk, fleet: ServedRepository
) -> None:
    """The mirror serves the very files the kiosk already has, for ever: nothing looks
    wrong until the timestamp's expiry passes, and then the next refresh says so."""
    wait_for(live, 21)
    fleet.repo.renew_timestamp(expires=timedelta(seconds=1))
    refresh(live)
    assert live.ops.poller.last_rejection is None
    frozen = fleet.files()
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 30\n")  # what the mirror holds back
    for path, data in frozen.items():
        fleet.replace[path] = data
    time.sleep(1.1)  # the timestamp's expiry passes
    refresh(live)
    assert live.ops.poller.last_rejection == "expired"
    assert Fault.CONFIG_STALE in live.faults() and live.ops.config.kiosk.min_age == 21


def forge(fleet: ServedRepository, md: Metadata, keys: Path, keyid: str) -> bytes:
    """`md` signed with only the private key `keyid` from `keys` (a thief's copy)."""
    key = Metadata[Root].from_file(str(fleet.root_file)).signed.keys.get(keyid) or (
        fleet.repo.root().signed.keys[keyid])
    signer = Keyring(keys).signer(keyid, key)
    assert signer is not None
    md.signatures.clear()
    md.sign(signer)
    return md.to_bytes()


def test_a_revoked_key_signs_nothing(live: LiveKiosk, fleet: ServedRepository,
                                     tmp_path: Path) -> None:
    wait_for(live, 21)
    copy_keys(fleet, "targets", tmp_path / "stolen")
    old_keyid = fleet.repo.root().signed.roles["targets"].keyids[0]
    fleet.repo.rotate("targets", old_keyid)  # the leak is found: the key is replaced
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 24\n")
    refresh(live)
    wait_for(live, 24)  # the new key's work applies: the kiosk followed the new root
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 25\n")
    # The thief, in the middle, serves targets of its own signed with the old key.
    md = fleet.repo.targets()
    md.signed.targets.pop("fleet.toml")
    fleet.replace[f"/metadata/{md.signed.version}.targets.json"] = forge(
        fleet, md, tmp_path / "stolen", old_keyid)
    refresh(live)
    assert live.ops.poller.last_rejection == "bad_signature"
    assert live.rejected("bad_signature") == 1 and Fault.CONFIG in live.faults()
    assert live.ops.config.kiosk.min_age == 24


def test_a_new_root_needs_the_old_roots_threshold(live: LiveKiosk, fleet: ServedRepository,
                                                  tmp_path: Path) -> None:
    wait_for(live, 21)
    root_keys = fleet.repo.root().signed.roles["root"].keyids
    fleet.repo.rotate("root", root_keys[0])  # signed by 2 of the old 3 and the new threshold
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 26\n")
    refresh(live)
    wait_for(live, 26)
    assert "/metadata/2.root.json" in fleet.requests
    # One stolen root key makes a root 3 trusting the thief's own timestamp key: refused.
    md = fleet.repo.root()
    stolen = md.signed.roles["root"].keyids[0]  # a key the current root trusts
    (tmp_path / "one").mkdir()
    shutil.copy(next(fleet.keys.glob(f"root.{stolen[:16]}.pem")), tmp_path / "one")
    thief = CryptoSigner.generate_ed25519()
    md.signed.version += 1
    for keyid in list(md.signed.roles["timestamp"].keyids):
        md.signed.revoke_key(keyid, "timestamp")
    md.signed.add_key(thief.public_key, "timestamp")
    fleet.replace["/metadata/3.root.json"] = forge(fleet, md, tmp_path / "one", stolen)
    refresh(live)
    assert live.ops.poller.last_rejection == "bad_signature"
    assert live.ops.config.kiosk.min_age == 26


def test_a_fast_forwarded_timestamp_is_undone_by_rotating_its_key(
    live: LiveKiosk, fleet: ServedRepository, tmp_path: Path
) -> None:
    """The version lock-out: a thief of the online timestamp key signs version 2**31. The
    kiosk trusts it (it is validly signed), then refuses the real, lower ones; rotating the
    timestamp key in the root discards the stolen one's work and the kiosk follows again."""
    wait_for(live, 21)
    copy_keys(fleet, "timestamp", tmp_path / "stolen")
    md = fleet.repo.timestamp()
    md.signed.version = 2**31
    keyid = fleet.repo.root().signed.roles["timestamp"].keyids[0]
    fleet.replace["/metadata/timestamp.json"] = forge(fleet, md, tmp_path / "stolen", keyid)
    refresh(live)
    fleet.replace.clear()
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 27\n")
    refresh(live)
    assert live.ops.poller.last_rejection == "rollback"  # locked out, as with any such key
    fleet.repo.rotate("timestamp", keyid)
    refresh(live)
    wait_for(live, 27)
    assert live.ops.poller.last_rejection is None


def test_a_target_larger_than_a_config_is_not_fetched(live: LiveKiosk,
                                                      fleet: ServedRepository) -> None:
    wait_for(live, 21)
    fleet.publish("kiosks/k1.toml", "#" * (MAX_TARGET_BYTES + 1) + "\n")
    before = len(fleet.requests)
    refresh(live)
    assert live.ops.poller.last_rejection == "too_large"
    assert not any(r.startswith("/targets/kiosks/") for r in fleet.requests[before:])
    assert live.ops.config.kiosk.min_age == 21


def test_a_served_file_longer_than_signed_is_cut_off(live: LiveKiosk,
                                                     fleet: ServedRepository) -> None:
    wait_for(live, 21)
    fleet.publish("kiosks/k1.toml", "[kiosk]\nmin_age = 22\n")
    info = fleet.repo.targets().signed.targets["kiosks/k1.toml"]
    fleet.replace[f"/targets/kiosks/{info.hashes['sha256']}.k1.toml"] = b"#" * 50_000_000
    refresh(live)
    assert live.ops.poller.last_rejection == "mismatch"
    assert live.ops.config.kiosk.min_age == 21


def test_a_slow_repository_is_given_one_deadline(live: LiveKiosk,
                                                 fleet: ServedRepository) -> None:
    wait_for(live, 21)
    fleet.publish("fleet.toml", "[kiosk]\nmin_age = 22\n" + "#" * 4000 + "\n")
    fleet.delay_s = 0.05  # 64 bytes every 50 ms: each read is quick, the whole is not
    started = time.monotonic()
    refresh(live)
    assert time.monotonic() - started < 1.0 + 1.0  # the 1 s deadline, and the settle
    assert live.ops.poller.last_rejection == "unreachable"
    assert live.ops.config.kiosk.min_age == 21
    assert Fault.CONFIG not in live.faults()


@pytest.mark.parametrize(
    ("layer", "message"),
    [("[remote]\nurl = 'https://evil.example'\n", "cannot change [remote]"),
     ("[kiosk]\nmin_age = 'twelve'\n", "kiosk.min_age"),
     ("kiosk = 5\n", "expected a table"),
     ("[kiosk]\nx = " + "[" * 3000 + "]" * 3000 + "\n", "nested too deeply")],
    ids=["remote", "wrong type", "not a table", "deep"])
def test_an_invalid_layer_is_refused(live: LiveKiosk, fleet: ServedRepository, layer: str,
                                     message: str, caplog) -> None:
    wait_for(live, 21)
    fleet.repo.add_target("kiosks/k1.toml", layer.encode())  # the API signs what it is given
    with caplog.at_level(logging.DEBUG, logger="kiosk"):
        refresh(live)
    assert live.ops.poller.last_rejection == "invalid"
    assert message in caplog.text and "Traceback" not in caplog.text
    assert Fault.CONFIG in live.faults() and live.ops.config.kiosk.min_age == 21


def test_an_unreachable_repository_is_no_banner(live: LiveKiosk,
                                                fleet: ServedRepository) -> None:
    wait_for(live, 21)
    fleet.stop()
    refresh(live)
    assert live.ops.poller.last_rejection == "unreachable"
    assert live.rejected("unreachable") == 1
    assert not {Fault.CONFIG, Fault.CONFIG_STALE} & live.faults()
    assert live.verdict_for_age(19) == (Outcome.FAIL, "underage")


def test_a_config_needing_a_restart_is_a_trial_rolled_back_if_it_fails(
    live: LiveKiosk, fleet: ServedRepository, tmp_path: Path
) -> None:
    wait_for(live, 21)
    fleet.publish("kiosks/k1.toml", "[kiosk]\nmin_age = 30\n[signals]\nevents = 'stdout'\n")
    refresh(live)
    live.thread.join(5)
    assert isinstance(live.error, RestartRequested)  # the loop ended for systemd to restart
    config_path = tmp_path / "kiosk.toml"
    first = Operations.start(config_path, {})  # the restart: runs the trial once
    assert first.config.kiosk.min_age == 30 and first.config.signals.events == "stdout"
    second = Operations.start(config_path, {})  # it died before confirming: roll back
    assert second.config.kiosk.min_age == 21 and second.config.signals.events == "off"
    assert second.metrics.registry.get_sample_value(
        "kiosk_config_rejected_total", {"reason": "failed_start"}) == 1
    assert second.remote is not None and first.remote is not None
    assert second.store is not None and second.store.is_rejected(first.remote)
    # The same content is never tried again, even at a newer repository version.
    fleet.repo.renew_timestamp()
    poller = second.new_poller()
    assert poller.fetch_once() is None and poller.last_rejection == "failed_start"


def test_the_repository_is_not_asked_until_the_clock_is_trusted(
    tmp_path: Path, sandbox: DiiaSandbox, fleet: ServedRepository, caplog
) -> None:
    """TUF's expiry checks read the clock: one behind would hide a freeze, one ahead would
    refuse every honest repository. So an untrusted clock means no refresh (said once)."""
    synced = tmp_path / "synchronized"
    path = local_config(tmp_path / "kiosk.toml", sandbox, fleet, tmp_path / "state",
                        clock=f'require_sync = true\nsync_file = "{synced}"')
    sandbox.clock_offset_s = 3600.0  # Diia's Date header cannot vouch for our clock either
    kiosk = LiveKiosk(path, sandbox, kernel_synced=lambda: False)
    try:
        with caplog.at_level(logging.WARNING, logger="kiosk.ops"):
            for _ in range(3):
                refresh(kiosk)
        assert fleet.requests == [] and kiosk.ops.remote is None
        assert caplog.text.count("until the clock is trusted") == 1
        assert kiosk.ops.config.kiosk.min_age == 18 and Fault.CLOCK in kiosk.faults()
        synced.touch()  # NTP synchronised
        refresh(kiosk)
        wait_for(kiosk, 21)
    finally:
        kiosk.close()


def test_a_new_root_file_disowns_stored_configs(live: LiveKiosk, tmp_path: Path) -> None:
    wait_for(live, 21)
    live.close()
    other = ServedRepository(tmp_path / "other")
    try:
        config_path = tmp_path / "kiosk.toml"
        text = config_path.read_text()
        config_path.write_text(text.replace(str(live.ops.config.remote.root_file),
                                            str(other.root_file)))
        again = Operations.start(config_path, {})
        assert again.remote is None and again.config.kiosk.min_age == 18
    finally:
        other.stop()


def test_the_remote_settings_are_checked_at_start(tmp_path: Path) -> None:
    base = {"url": "https://fleet.example/kiosk", "root_file": str(tmp_path / "root.json")}
    parse_config({"remote": base})  # the file itself: checked with the paths (below)
    with pytest.raises(ConfigError, match="https"):
        parse_config({"remote": {**base, "url": "http://fleet.example/kiosk"}})
    with pytest.raises(ConfigError, match="https"):  # loopback, but nobody opted in
        parse_config({"remote": {**base, "url": "http://127.0.0.1:8000/kiosk"}})
    with pytest.raises(ConfigError, match=r"remote\.root_file"):
        check_paths(parse_config({"remote": base}))
    (tmp_path / "root.json").write_text('{"signed": {"_type": "targets"}}')
    with pytest.raises(ConfigError, match="not TUF root metadata"):
        check_paths(parse_config({"remote": base}))
    with pytest.raises(ConfigError, match=r"remote\.public_key: retired"):
        parse_config({"remote": {**base, "public_key": "AAAA"}})
    with pytest.raises(ConfigError, match=r"kiosk\.id"):
        parse_config({"kiosk": {"id": "../fleet"}})
    with pytest.raises(ConfigError, match=r"kiosk\.store"):
        parse_config({"kiosk": {"store": "a/b"}})
