from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.config import Config, ConfigError, config_path, load_credentials, parse_config
from kiosk.config_files import load_config

EXAMPLE = Path(__file__).parents[1] / "config" / "kiosk.example.toml"


def test_example_config_is_valid_and_lists_every_key() -> None:
    config = load_config(EXAMPLE)
    assert config == Config()  # the example shows every default
    text = EXAMPLE.read_text()
    for section in config.__dataclass_fields__:
        for key in getattr(config, section).__dataclass_fields__:
            assert f"\n{key} = " in text, f"{section}.{key} missing from the example"


def test_demo_config_is_valid() -> None:
    config = load_config(EXAMPLE.with_name("demo.toml"))
    assert config.source.kind == "stdin"


def test_contract_keys_are_accepted() -> None:
    config = parse_config({
        "kiosk": {"mode": "name", "min_age": 21, "attended": False, "language": "en",
                  "result_seconds": 0},
        "diia": {"base_url": "https://api2.diia.gov.ua", "branch_id": "b1", "timeout_s": 2},
        "source": {"kind": "images", "path": "/tmp", "hold_frames": 2, "fps": 10},
        "decode": {"backend": "pyzbar"},
        "signals": {"gpio": "off", "screen": "off", "events": "/var/log/k.jsonl"},
    })
    assert config.kiosk.result_seconds == 0.0 and isinstance(config.kiosk.result_seconds, float)
    assert config.diia.timeout_s == 2.0
    assert config.decode.backend == "pyzbar"


def test_unknown_key_names_its_path_and_suggests() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"diia": {"timeout": 3}})
    assert err.value.key == "diia.timeout"
    assert 'did you mean "timeout_s"' in str(err.value)


def test_unknown_section_is_refused() -> None:
    with pytest.raises(ConfigError, match='did you mean "signals"'):
        parse_config({"signal": {}})


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"kiosk": {"mode": "adult"}}, "kiosk.mode"),
        ({"kiosk": {"min_age": "18"}}, "kiosk.min_age"),
        ({"kiosk": {"min_age": True}}, "kiosk.min_age"),
        ({"kiosk": {"result_seconds": -1}}, "kiosk.result_seconds"),
        ({"diia": {"timeout_s": 0}}, "diia.timeout_s"),
        ({"source": {"kind": "images"}}, "source.path"),
        ({"signals": {"screen_size": "big"}}, "signals.screen_size"),
        ({"kiosk": 5}, "kiosk"),
    ],
)
def test_bad_values_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert err.value.key == key


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text("[kiosk\nmode = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_config(path)
    assert err.value.key == str(path)


def test_config_path_order() -> None:
    assert config_path("a.toml", {"KIOSK_CONFIG": "b.toml"}) == Path("a.toml")
    assert config_path(None, {"KIOSK_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_path(None, {}) == Path("/etc/kiosk/kiosk.toml")


def test_credentials_from_environment_are_hidden_from_repr() -> None:
    creds = load_credentials(
        Config().diia,
        {"KIOSK_DIIA_ACQUIRER_TOKEN": "acq-secret", "KIOSK_DIIA_AUTH_TOKEN": "auth-secret"},
    )
    assert creds.acquirer_token == "acq-secret"
    assert "secret" not in repr(creds)


def test_missing_secret_names_the_variable_not_a_value() -> None:
    with pytest.raises(ConfigError) as err:
        load_credentials(Config().diia, {"KIOSK_DIIA_ACQUIRER_TOKEN": "acq-secret"})
    assert "KIOSK_DIIA_AUTH_TOKEN" in str(err.value)
    assert "acq-secret" not in str(err.value)


def test_secret_files_must_be_private(tmp_path: Path) -> None:
    acq, auth = tmp_path / "acq", tmp_path / "auth"
    acq.write_text("acq-secret\n")
    auth.write_text("auth-secret\n")
    os.chmod(acq, 0o600)
    os.chmod(auth, 0o644)
    diia = parse_config({"diia": {"acquirer_token_file": str(acq),
                                   "auth_token_file": str(auth)}}).diia
    with pytest.raises(ConfigError, match="chmod 600") as err:
        load_credentials(diia, {})
    assert err.value.key == "diia.auth_token_file"
    os.chmod(auth, 0o600)
    creds = load_credentials(diia, {})
    assert (creds.acquirer_token, creds.auth_token) == ("acq-secret", "auth-secret")
