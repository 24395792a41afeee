"""deploy/fleet/journal/: a real kiosk's verdict events, as systemd would put them in the
journal, uploaded by Debian's systemd-journal-upload reading the shipped config (in a private
mount namespace, so the host's /etc stays untouched) to a real systemd-journal-remote over
HTTPS on loopback; what arrives holds the verdicts and no code or secret."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from kiosk.diia.sandbox import DiiaSandbox
from tests.kiosk_process import RunningKiosk, free_port
from tests.tls import write_tls_files

JOURNAL = Path(__file__).parents[1] / "deploy" / "fleet" / "journal"
LIBEXEC = Path("/lib/systemd")
UPLOAD, REMOTE = LIBEXEC / "systemd-journal-upload", LIBEXEC / "systemd-journal-remote"
HOST_CONF = Path("/etc/systemd/journal-upload.conf")


def read_conf(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(path.read_text())
    return parser


def test_the_upload_key_is_a_credential_of_the_uploader_alone() -> None:
    upload = read_conf(JOURNAL / "journal-upload.conf")["Upload"]
    assert upload["URL"].startswith("https://")
    key = Path(upload["ServerKeyFile"])
    assert key.parent == Path("/run/credentials/systemd-journal-upload.service")
    drop_in = (JOURNAL / "systemd-journal-upload.service.d" / "kiosk.conf").read_text()
    assert f"LoadCredential={key.name}:/etc/kiosk/credentials/{key.name}\n" in drop_in


def journal_of(events: list[str], folder: Path) -> Path:
    """The events as kiosk.service's stdout lands in the journal: one entry a line."""
    entries = "".join(
        f"__REALTIME_TIMESTAMP={1_765_000_000_000_000 + n}\n__MONOTONIC_TIMESTAMP={1000 + n}\n"
        f"_BOOT_ID={'0' * 31}1\n_SYSTEMD_UNIT=kiosk.service\nSYSLOG_IDENTIFIER=kiosk\n"
        f"PRIORITY=6\nMESSAGE={line}\n\n" for n, line in enumerate(events))
    path = folder / "kiosk.journal"
    subprocess.run([str(REMOTE), f"--output={path}", "-"], input=entries, text=True,
                   check=True, capture_output=True)
    return path


def test_verdict_events_reach_the_centre_with_no_code_and_no_secret(
        sandbox: DiiaSandbox, tmp_path: Path) -> None:
    if not UPLOAD.exists() or not HOST_CONF.exists():
        pytest.fail("systemd-journal-remote is missing: ./dev.sh test installs it")
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private mount namespace")
    codes = [sandbox.mint("valid"), sandbox.mint("expired"), sandbox.mint("valid", age=15)]
    with RunningKiosk(sandbox, tmp_path / "kiosk", mode="age") as kiosk:
        for code in codes:
            kiosk.scan(code)
        status, stdout, _ = kiosk.stop()
    assert status == 0
    events = [line for line in stdout.splitlines() if '"event": "verdict"' in line]
    assert len(events) == 3
    local = journal_of(events, tmp_path)

    for folder in ("centre", "kiosk-tls"):
        (tmp_path / folder).mkdir()
    server_ca, server_cert, server_key = write_tls_files(tmp_path / "centre", "127.0.0.1")
    _, client_cert, client_key = write_tls_files(tmp_path / "kiosk-tls", "kyiv-0042-till-1")
    for key in (server_key, client_key):
        key.chmod(0o600)
    port = free_port()
    received = tmp_path / "received"
    received.mkdir()
    centre = subprocess.Popen(
        [str(REMOTE), f"--listen-https=127.0.0.1:{port}", f"--key={server_key}",
         f"--cert={server_cert}", f"--output={received}/", "--split-mode=host"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The shipped config, with the addresses of this test's centre and files: the same
        # keys and nothing else (the command line names none of them).
        conf = read_conf(JOURNAL / "journal-upload.conf")
        shipped = dict(conf["Upload"])
        conf["Upload"].update({"URL": f"https://127.0.0.1:{port}",
                               "ServerKeyFile": str(client_key),
                               "ServerCertificateFile": str(client_cert),
                               "TrustedCertificateFile": str(server_ca)})
        assert set(conf["Upload"]) == set(shipped)
        with (tmp_path / "journal-upload.conf").open("w") as out:
            conf.write(out)
        deadline = time.monotonic() + 10
        while True:  # journal-remote listens within a moment
            upload = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                 f'mount --bind "$1" {HOST_CONF} && exec "$2" --file="$3" --follow=no '
                 f'--save-state="$4"', "sh", str(tmp_path / "journal-upload.conf"),
                 str(UPLOAD), str(local), str(tmp_path / "state")],
                capture_output=True, text=True, timeout=30, check=False)
            if "Operation not permitted" in upload.stderr:
                pytest.skip(f"no private mount namespace here: {upload.stderr.strip()}")
            if upload.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert upload.returncode == 0, upload.stderr
        assert "Unknown key" not in upload.stderr and "Unknown section" not in upload.stderr
    finally:
        centre.terminate()
        centre.wait(timeout=10)
    export = subprocess.run(["journalctl", "-D", str(received), "-o", "export", "--no-pager"],
                            capture_output=True, text=True, check=True).stdout
    arrived = [json.loads(line[len("MESSAGE="):]) for line in export.splitlines()
               if line.startswith("MESSAGE=")]
    assert [(e["outcome"], e["reason"]) for e in arrived] == [
        ("pass", "valid"), ("fail", "expired"), ("fail", "underage")]
    secrets = [*codes, sandbox.credentials.acquirer_token, sandbox.credentials.auth_token]
    assert not [secret for secret in secrets if secret in export]
    assert {"outcome", "reason", "code_id", "ms"} <= set(arrived[0])
