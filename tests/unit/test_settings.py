"""Settings come from the environment once, and refuse unsafe production values."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.settings import Settings, SettingsError

SECRETS = {
    "ADMIN_TOKEN": "a" * 32,
    "CUSTOMER_TOKEN_SECRET": "c" * 32,
    "RASA_TOKEN": "r" * 32,
    "ACTION_SERVER_SECRET": "s" * 32,
    "NLG_TOKEN": "n" * 32,
    "CONVERSATION_SECRET": "k" * 32,
}


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.web_port == 8000
    assert settings.default_language == "en"
    assert settings.defaults_allowed and settings.demo_store
    # Rasa's callbacks go to their own loopback listener; no token in the URL.
    assert Settings(nlg_port=5056).nlg_url == "http://127.0.0.1:5056/nlg"


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "WEB_PORT": "9000",
            "STORE_NAME": "Sol",
            "DEFAULT_LANGUAGE": "ES",
            "NLG_TOKEN": "t",
            "NLG_PORT": "9001",
        }
    )
    assert settings.web_port == 9000
    assert settings.store_name == "Sol"
    assert settings.default_language == "es"
    assert settings.nlg_url == "http://127.0.0.1:9001/nlg" and "t" not in settings.nlg_url.split("/")[-1]
    environment = settings.process_environment()
    assert environment["NLG_URL"] == settings.nlg_url
    assert environment["NLG_TOKEN"] == "t" and environment["NLG_PORT"] == "9001"


@pytest.mark.parametrize(
    "env",
    [
        {"WEB_PORT": "eighty"},
        {"WEB_PORT": "-1"},
        {"NLG_PORT": "-1"},
        {"DEFAULT_LANGUAGE": "it"},
    ],
)
def test_bad_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        # Production: every default, short or missing secret is named.
        ({"APP_ENV": "production"}, "ADMIN_TOKEN"),
        ({**SECRETS, "APP_ENV": "production", "ADMIN_TOKEN": "dev-admin-token"}, "ADMIN_TOKEN"),
        ({**SECRETS, "APP_ENV": "production", "ADMIN_TOKEN": "short"}, "ADMIN_TOKEN"),
        (
            {**SECRETS, "APP_ENV": "production", "CUSTOMER_TOKEN_SECRET": "dev-customer-token-secret"},
            "CUSTOMER_TOKEN_SECRET",
        ),
        ({**SECRETS, "APP_ENV": "production", "RASA_TOKEN": ""}, "RASA_TOKEN"),
        ({**SECRETS, "APP_ENV": "production", "ACTION_SERVER_SECRET": ""}, "ACTION_SERVER_SECRET"),
        ({**SECRETS, "APP_ENV": "production", "NLG_TOKEN": "short"}, "NLG_TOKEN"),
        # Development reachable from other machines: the public defaults are refused too.
        ({"HOST": "0.0.0.0"}, "ADMIN_TOKEN"),
        ({"HOST": "::"}, "ADMIN_TOKEN"),
        ({"HOST": "192.168.1.20", "ADMIN_TOKEN": "a" * 32}, "CUSTOMER_TOKEN_SECRET"),
        # Anything but exactly development or production is a mistake, not development.
        ({"APP_ENV": "staging"}, "APP_ENV"),
        ({"APP_ENV": "prod", "HOST": "127.0.0.1"}, "APP_ENV"),
        # One secret used twice: whoever holds the admin token could sign customer tokens.
        ({**SECRETS, "APP_ENV": "production", "CUSTOMER_TOKEN_SECRET": "a" * 32}, "CUSTOMER_TOKEN_SECRET"),
        ({"ADMIN_TOKEN": "same-value", "CUSTOMER_TOKEN_SECRET": "same-value"}, "ADMIN_TOKEN"),
        ({**SECRETS, "APP_ENV": "production", "NLG_TOKEN": "r" * 32}, "NLG_TOKEN"),
    ],
)
def test_unsafe_secrets_are_refused_with_the_variable_to_set(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_production_with_real_secrets_starts_without_the_demo_store() -> None:
    settings = Settings.from_env({**SECRETS, "APP_ENV": "production", "HOST": "0.0.0.0"})
    assert settings.environment == "production" and not settings.demo_store


def test_development_on_a_public_address_needs_real_secrets_and_has_no_demo_store() -> None:
    env = {
        "HOST": "0.0.0.0",
        "ADMIN_TOKEN": "a" * 32,
        "CUSTOMER_TOKEN_SECRET": "c" * 32,
        "CONVERSATION_SECRET": "k" * 32,
    }
    settings = Settings.from_env(env)
    assert not settings.defaults_allowed and not settings.demo_store
    assert Settings.from_env({**env, "DEMO_STORE": "1"}).demo_store  # only when asked for


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_development_keeps_the_defaults(host: str) -> None:
    assert Settings.from_env({"HOST": host, "APP_ENV": "Development "}).defaults_allowed


def test_settings_nothing_reads_are_gone() -> None:
    # SECRET_KEY signed nothing: a required secret that protects nothing only misleads.
    assert "SECRET_KEY" not in Settings().process_environment()
    assert not hasattr(Settings(), "secret_key")


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
