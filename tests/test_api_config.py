"""[api] and [share] settings: off by default, a LAN address only with a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_api_token, parse_config, parse_listen

TOKEN = "a-till-token-of-enough-length"


def test_the_api_is_off_by_default() -> None:
    config = parse_config({})
    assert config.api.listen == "" and not config.kiosk.require_arming
    assert load_api_token(config.api, {}) is None


@pytest.mark.parametrize(("listen", "expected"), [
    ("127.0.0.1:8765", ("127.0.0.1", 8765)), ("[::1]:8765", ("::1", 8765)),
    ("localhost:8765", ("127.0.0.1", 8765)), ("0.0.0.0:80", ("0.0.0.0", 80)),
])
def test_listen_addresses(listen: str, expected: tuple[str, int]) -> None:
    assert parse_listen(listen) == expected


@pytest.mark.parametrize("listen", ["8765", "kiosk.local:8765", "127.0.0.1:0", "1.2.3.4:x",
                                    "127.0.0.1:²", "127.0.0.1:٨٠"])
def test_a_bad_listen_address_names_the_key(listen: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"api": {"listen": listen}})
    assert caught.value.key == "api.listen"


def test_a_lan_address_without_a_token_is_a_config_error_naming_the_key() -> None:
    api = parse_config({"api": {"listen": "192.168.1.20:8765"}}).api
    with pytest.raises(ConfigError) as caught:
        load_api_token(api, {})
    assert caught.value.key == "api.token_file"


def test_the_token_comes_from_its_file_or_the_systemd_credential(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    api = parse_config({"api": {"listen": "0.0.0.0:8765", "token_file": str(token_file)}}).api
    assert load_api_token(api, {}) == TOKEN
    token_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600") as caught:
        load_api_token(api, {})
    assert caught.value.key == "api.token_file" and TOKEN not in str(caught.value)
    (tmp_path / "kiosk-api-token").write_text(TOKEN)
    lan = parse_config({"api": {"listen": "0.0.0.0:8765"}}).api
    assert load_api_token(lan, {"CREDENTIALS_DIRECTORY": str(tmp_path)}) == TOKEN


def test_require_arming_needs_the_api() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"kiosk": {"require_arming": True}})
    assert caught.value.key == "kiosk.require_arming"
