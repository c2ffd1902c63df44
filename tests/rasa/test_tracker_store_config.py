"""endpoints.yml's tracker store, as Rasa reads it from the variables our launcher sets.

The launcher runs in the app environment (SQLAlchemy 2) and Rasa in its own
(SQLAlchemy 1.4): the variables are computed by the app's interpreter, as
`python -m bot run` does, and read here by Rasa's own code, ${...} expansion included.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from rasa.core.tracker_store import SQLTrackerStore, create_tracker_store
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config
from sqlalchemy.engine.url import make_url

from bot.settings import PROJECT_ROOT

APP_PYTHON = PROJECT_ROOT / ".venv-app" / "bin" / "python"


def launcher_environment(**settings: str) -> dict[str, str]:
    """``Settings(**settings).process_environment()``, computed in the app environment."""
    code = (
        "import json, sys; from pathlib import Path; from bot.settings import Settings; "
        "kwargs = json.loads(sys.argv[1]); kwargs['var_dir'] = Path(kwargs['var_dir']); "
        "print(json.dumps(Settings(**kwargs).process_environment()))"
    )
    output = subprocess.run(
        [str(APP_PYTHON), "-c", code, json.dumps(settings)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(output))


def tracker_store_config(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> EndpointConfig:
    for name, value in env.items():  # Rasa expands every ${...} in the file, not just this section's
        monkeypatch.setenv(name, value)
    config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "tracker_store")
    assert config is not None
    return config


def test_sqlite_trackers_go_to_their_own_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = launcher_environment(var_dir=str(tmp_path))
    store = create_tracker_store(tracker_store_config(monkeypatch, env))
    assert isinstance(store, SQLTrackerStore)
    assert store.engine.url.drivername == "sqlite"
    assert store.engine.url.database == str(tmp_path / "rasa-tracker.db")
    assert (tmp_path / "rasa-tracker.db").exists()  # Rasa created its events table there
    assert not (tmp_path / "assistant.db").exists()
    store.engine.dispose()


@pytest.mark.parametrize("password", ["p@ss", "$", "a $HOME b:/?#%"])
def test_postgresql_trackers_go_to_the_assistants_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, password: str
) -> None:
    secret = quote(password, safe="")
    database_url = f"postgresql+psycopg2://user:{secret}@db.example:5433/shop?sslmode=require"
    env = launcher_environment(var_dir=str(tmp_path), database_url_setting=database_url)
    config = tracker_store_config(monkeypatch, env)
    # What SQLTrackerStore.__init__ connects to (without connecting to db.example):
    url = make_url(SQLTrackerStore.get_db_url(host=config.url, **config.kwargs))
    assert url.drivername == "postgresql"
    assert (url.username, url.password) == ("user", password)
    assert (url.host, url.port, url.database) == ("db.example", 5433, "shop")
    assert dict(url.query) == {"sslmode": "require"}
