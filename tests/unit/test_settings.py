"""Settings come from the environment once, and refuse unsafe production values."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.web_port == 8000
    assert settings.default_language == "en"
    assert settings.nlg_url == "http://127.0.0.1:8000/nlg"


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {"WEB_PORT": "9000", "STORE_NAME": "Sol", "DEFAULT_LANGUAGE": "ES", "NLG_TOKEN": "t"}
    )
    assert settings.web_port == 9000
    assert settings.store_name == "Sol"
    assert settings.default_language == "es"
    assert settings.nlg_url.endswith("/nlg?token=t")
    assert settings.process_environment()["NLG_URL"] == settings.nlg_url


@pytest.mark.parametrize(
    "env",
    [
        {"WEB_PORT": "eighty"},
        {"WEB_PORT": "-1"},
        {"DEFAULT_LANGUAGE": "it"},
        {"APP_ENV": "production"},
        {"APP_ENV": "production", "SECRET_KEY": "dev-secret-change-me"},
        {"APP_ENV": "production", "SECRET_KEY": "x" * 40},
        {"APP_ENV": "production", "SECRET_KEY": "x" * 40, "ADMIN_TOKEN": "short"},
        {"APP_ENV": "production", "SECRET_KEY": "x" * 40, "ADMIN_TOKEN": "t" * 32},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_production_with_real_secrets_starts() -> None:
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "x" * 40,
        "ADMIN_TOKEN": "t" * 32,
        "CUSTOMER_TOKEN_SECRET": "c" * 32,
    }
    assert Settings.from_env(env).environment == "production"


def test_database_defaults_to_sqlite_under_var(tmp_path: Path) -> None:
    settings = Settings.from_env({"VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'assistant.db'}"
    url = "postgresql://u@127.0.0.1/db"
    assert Settings.from_env({"DATABASE_URL": url}).database_url == url
