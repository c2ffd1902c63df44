"""Settings come from the environment once, and refuse unsafe production values."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

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


def test_rasa_keeps_its_trackers_in_a_separate_sqlite_file_by_default(tmp_path: Path) -> None:
    env = Settings.from_env({"VAR_DIR": str(tmp_path)}).process_environment()
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'assistant.db'}"
    assert env["RASA_TRACKER_URL"] == ""  # endpoints.yml: Rasa opens the SQLite file `db`
    assert env["RASA_TRACKER_DB"] == str(tmp_path / "rasa-tracker.db")


def test_rasa_keeps_its_trackers_in_the_postgresql_database() -> None:
    settings = Settings.from_env({"DATABASE_URL": "postgresql://user:p%40ss@db.example:5433/shop"})
    env = settings.process_environment()
    tracker = make_url(env["RASA_TRACKER_URL"])
    assert tracker.drivername == "postgresql"
    assert (tracker.username, tracker.password) == ("user", "p@ss")
    assert (tracker.host, tracker.port, tracker.database) == ("db.example", 5433, "shop")
    assert env["RASA_TRACKER_DB"] == "shop"
    assert env["DATABASE_URL"] == "postgresql://user:p%40ss@db.example:5433/shop"


@pytest.mark.parametrize("password", ["p@ss:w/rd?#", "100%", "$", "a $HOME b", "${X}", "ünï€ +"])
def test_any_password_reaches_rasa_unchanged(password: str) -> None:
    url = make_url("postgresql://shop@db.example/shop").set(password=password)
    settings = Settings(database_url_setting=url.render_as_string(hide_password=False))
    rendered = settings.process_environment()["RASA_TRACKER_URL"]
    assert make_url(rendered).password == password
    # Rasa's ${...} expansion refuses a value with a word that starts with "$": the URL has none.
    assert not any(word.startswith("$") for word in rendered.split())


def test_rasa_gets_the_default_driver_and_the_query_options() -> None:
    settings = Settings(database_url_setting="postgresql+psycopg2://u:x@db.example/shop?sslmode=require")
    tracker = make_url(settings.process_environment()["RASA_TRACKER_URL"])
    assert tracker.drivername == "postgresql"  # psycopg2, the driver in Rasa's environment
    assert dict(tracker.query) == {"sslmode": "require"}
