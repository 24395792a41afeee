"""Class 4: a secret with a line break or control character is a config error naming the
key; no library's error text, which can quote a header, ever reaches a log or an error."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from kiosk.config import ConfigError, DiiaSection, load_credentials
from kiosk.diia.sandbox import DiiaSandbox
from kiosk.ops.doctor import Doctor, report
from tests.adversarial.conftest import ask
from tests.adversarial.hostile import HostileServer, response

WRAPPED = "YWNxdWlyZXJfMTIzNDU2Nzg5MDpzZWNyZXQtdGhhdC1pcy1sb25n\nZW5vdWdoLXRvLXdyYXA="


@pytest.mark.parametrize("value", [
    WRAPPED, "abc\rdef", "abc\tdef", "abc\x00def", "abc\x7fdef", "abc def", "секрет",
])
@pytest.mark.parametrize("source", ["file", "environment"])
def test_a_secret_that_cannot_be_a_header_is_a_config_error_naming_the_key(
        tmp_path: Path, value: str, source: str):
    if source == "file":
        secret = tmp_path / "auth"
        secret.write_text(value + "\n")
        secret.chmod(0o600)
        diia = DiiaSection(auth_token_file=str(secret))
        environ = {"KIOSK_DIIA_ACQUIRER_TOKEN": "acquirer-ok"}
    else:
        diia = DiiaSection()
        environ = {"KIOSK_DIIA_ACQUIRER_TOKEN": "acquirer-ok", "KIOSK_DIIA_AUTH_TOKEN": value}
    with pytest.raises(ConfigError) as raised:
        load_credentials(diia, environ)
    # A file is named by its key; a value from the environment by its variable.
    named = "diia.auth_token_file" if source == "file" else "$KIOSK_DIIA_AUTH_TOKEN"
    assert raised.value.key == named
    for part in value.replace("\r", "\n").replace("\t", "\n").split("\n"):
        assert len(part) < 5 or part not in str(raised.value)


def test_a_wrapped_acquirer_token_is_named_too():
    with pytest.raises(ConfigError) as raised:
        load_credentials(DiiaSection(), {"KIOSK_DIIA_ACQUIRER_TOKEN": WRAPPED,
                                          "KIOSK_DIIA_AUTH_TOKEN": "auth-ok"})
    assert raised.value.key == "$KIOSK_DIIA_ACQUIRER_TOKEN" and "line break" in str(raised.value)


def test_doctor_names_the_variable_and_never_prints_the_wrapped_secret(tmp_path: Path):
    with DiiaSandbox() as sandbox:
        config = tmp_path / "k.toml"
        config.write_text(f'[diia]\nbase_url = "{sandbox.base_url}"\n'
                          f'branch_id = "{sandbox.branch_id}"\n')
        environ = {"KIOSK_DIIA_ACQUIRER_TOKEN": sandbox.credentials.acquirer_token,
                   "KIOSK_DIIA_AUTH_TOKEN": WRAPPED}
        out = io.StringIO()
        status = report(Doctor(environ, dev=tmp_path, sysfs=tmp_path).run(config), out)
    printed = out.getvalue()
    assert status != 0 and "KIOSK_DIIA_AUTH_TOKEN" in printed and "line break" in printed
    assert not any(part in printed for part in WRAPPED.split("\n"))


def test_a_header_the_http_library_refuses_leaves_no_secret_in_errors_or_logs(
        make_client, caplog):
    # The client used without the config's check: h11 refuses the header and says why, with
    # the header's value in its text. That text must go nowhere.
    from kiosk.config import Credentials
    from kiosk.diia.client import DiiaClient

    caplog.set_level(logging.DEBUG)
    with HostileServer(lambda peer, request: peer.send(response(200, {"success": True}))
                       ) as server:
        client = DiiaClient(server.url, Credentials("acq-ok", WRAPPED), "b", timeout_s=0.5)
        try:
            verdict = ask(client, attack="secrets")
        finally:
            client.close()
    assert verdict.reason == "network"
    seen = str(verdict.error) + "\n" + caplog.text
    assert "LocalProtocolError" in str(verdict.error)  # the kind of failure, not its text
    assert not any(part in seen for part in WRAPPED.split("\n"))
    assert not server.requests  # nothing went out
