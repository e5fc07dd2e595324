from __future__ import annotations

import re
from pathlib import Path

import pytest

from haven.errors import ConfigurationError
from haven.settings import DEVELOPMENT_SECRET, Mode, Settings, load_settings

DOCS = Path(__file__).parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(HAVEN_[A-Z_]+)`", DOCS.read_text(encoding="utf-8")))
    declared = {f"HAVEN_{name.upper()}" for name in Settings.model_fields}
    assert declared - documented == set()
    assert documented - declared == {"HAVEN_TEST_DATABASE_URL"}


def test_defaults_put_sqlite_and_keys_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/haven.db"
    assert settings.resolved_key_file == tmp_path / "keys.json"
    assert settings.should_migrate_on_start


def test_settings_come_from_haven_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_PORT", "9123")
    monkeypatch.setenv("HAVEN_HOST", "0.0.0.0")
    settings = load_settings()
    assert (settings.host, settings.port) == ("0.0.0.0", 9123)


def test_production_refuses_the_development_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_MODE", "production")
    monkeypatch.delenv("HAVEN_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="HAVEN_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("HAVEN_SECRET_KEY", DEVELOPMENT_SECRET)
    with pytest.raises(ConfigurationError, match="development default"):
        load_settings()


def test_production_refuses_a_short_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_MODE", "production")
    monkeypatch.setenv("HAVEN_SECRET_KEY", "short")
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        load_settings()


def test_production_refuses_a_key_file_inside_the_data_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAVEN_MODE", "production")
    monkeypatch.setenv("HAVEN_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ConfigurationError, match="HAVEN_KEY_FILE must be set"):
        load_settings()
    monkeypatch.setenv("HAVEN_KEY_FILE", str(tmp_path / "data" / "keys.json"))
    with pytest.raises(ConfigurationError, match="outside HAVEN_DATA_DIR"):
        load_settings()


def test_production_with_a_real_secret_does_not_migrate_on_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HAVEN_MODE", "production")
    monkeypatch.setenv("HAVEN_SECRET_KEY", "x" * 48)
    monkeypatch.setenv("HAVEN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HAVEN_KEY_FILE", str(tmp_path / "secrets" / "keys.json"))
    settings = load_settings()
    assert settings.mode is Mode.PRODUCTION
    assert not settings.should_migrate_on_start


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HAVEN_PORT", "eighty"),
        ("HAVEN_PORT", "70000"),
        ("HAVEN_MODE", "staging"),
        ("HAVEN_LOG_LEVEL", "LOUD"),
    ],
)
def test_a_broken_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.message.startswith(f"{variable}:")
    assert "\n" not in caught.value.one_line()


def test_trusted_proxies_are_addresses_and_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().trusted_proxies == ()
    monkeypatch.setenv("HAVEN_TRUSTED_PROXIES", "10.0.0.7, 10.1.0.0/16 fd00::/8")
    assert [str(network) for network in load_settings().trusted_proxies] == [
        "10.0.0.7/32",
        "10.1.0.0/16",
        "fd00::/8",
    ]


@pytest.mark.parametrize("value", ["proxy.example.org", "10.0.0.7/8", "10.0.0.0/33"])
def test_a_trusted_proxy_that_is_no_address_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HAVEN_TRUSTED_PROXIES", f"10.0.0.1,{value}")
    with pytest.raises(ConfigurationError, match=r"^HAVEN_TRUSTED_PROXIES: .*CIDR ranges$"):
        load_settings()


def test_rate_budgets_are_kept_in_memory_or_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().rate_limit_storage == "memory://"
    monkeypatch.setenv("HAVEN_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/0")
    assert load_settings().rate_limit_storage == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("value", ["postgresql://db/haven", "127.0.0.1:6379", "memcached://x"])
def test_a_rate_limit_storage_haven_cannot_use_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HAVEN_RATE_LIMIT_STORAGE", value)
    with pytest.raises(ConfigurationError, match=r"^HAVEN_RATE_LIMIT_STORAGE: must be memory://"):
        load_settings()
