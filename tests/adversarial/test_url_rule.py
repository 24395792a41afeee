"""Class 8: https only, plain http only to a loopback address, for every URL the kiosk
fetches, parsed the way httpx (the client that fetches it) parses it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kiosk.config import ConfigError, parse_config
from kiosk.diia.client import DiiaClient
from kiosk.diia.url_rule import is_loopback_host, url_problem
from kiosk.ops.doctor import FAIL, Doctor
from tests.adversarial.conftest import CREDENTIALS

REFUSED = [
    "", "   ", "not a url", "api2.diia.gov.ua", "//api2.diia.gov.ua",
    "http://any-host", "http://api2.diia.gov.ua", "http://10.0.0.5:8080", "http://192.0.2.2",
    "http://192.0.2.2:8080#@127.0.0.1/c.toml", "http://127.0.0.1@192.0.2.2/",
    "http://localhost.example.com/", "http://127.1/", "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0:80/", "ftp://127.0.0.1/", "file:///etc/passwd", "https://",
    "https://user:pw@api2.diia.gov.ua", "https://api2.diia.gov.ua/#x",
    "https://api2.diia.gov.ua:99999", "https://api2.diia.gov.ua\n.evil", "https://a b.test",
]
ACCEPTED = [
    "https://api2.diia.gov.ua", "https://api2s.diia.gov.ua:443/", "http://127.0.0.1:8080",
    "http://127.5.6.7", "http://[::1]:8080", "http://localhost:8080", "HTTP://LOCALHOST/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_base_url_off_the_rule_is_a_config_error_naming_the_key(url: str):
    with pytest.raises(ConfigError) as raised:
        parse_config({"diia": {"base_url": url}})
    assert raised.value.key == "diia.base_url"
    with pytest.raises(ValueError, match=r"diia\.base_url"):
        DiiaClient(url, CREDENTIALS, "b")  # the client holds the same rule


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_anywhere_and_http_to_loopback_are_accepted(url: str):
    assert parse_config({"diia": {"base_url": url}}).diia.base_url == url


@pytest.mark.parametrize("url", REFUSED)
def test_the_remote_url_follows_the_same_rule(url: str):
    remote = {"url": url, "allow_http_loopback": True}
    if not url.strip():
        return  # an empty remote.url means "off"
    with pytest.raises(ConfigError) as raised:
        parse_config({"remote": remote})
    assert raised.value.key == "remote.url"


def test_the_fragment_trick_is_seen_as_httpx_sees_it():
    url = "http://192.0.2.2:8080#@127.0.0.1/c.toml"
    assert httpx.URL(url).host == "192.0.2.2"  # where httpx would really connect
    assert "192.0.2.2" in (url_problem(url) or "")


def test_plain_http_to_loopback_for_the_remote_config_still_needs_its_switch():
    with pytest.raises(ConfigError, match="allow_http_loopback"):
        parse_config({"remote": {"url": "http://127.0.0.1:8080/fleet"}})
    accepted = parse_config({"remote": {"url": "http://127.0.0.1:8080/fleet",
                                        "allow_http_loopback": True}})
    assert accepted.remote.url.endswith("/fleet")
    with pytest.raises(ConfigError, match=r"\?query"):  # a base URL: metadata/ goes after it
        parse_config({"remote": {"url": "https://fleet.example/kiosk?v=1"}})


@pytest.mark.parametrize("url", ACCEPTED + REFUSED)
def test_every_accepted_plain_http_url_connects_to_loopback_as_httpx_parses_it(url: str):
    if url_problem(url) is None and url.lower().startswith("http://"):
        assert is_loopback_host(httpx.URL(url).host)


def test_doctor_reports_a_bad_url_as_config_not_as_dns(tmp_path: Path):
    config = tmp_path / "k.toml"
    config.write_text('[diia]\nbase_url = "not a url"\n')
    got = {f.what: f for f in Doctor({}, dev=tmp_path, sysfs=tmp_path).run(config)}
    assert got["config"].status == FAIL and "diia.base_url" in got["config"].detail
    assert "network" not in got
