"""With DATABASE_URL on PostgreSQL, Rasa keeps its conversation trackers there too.

The whole assistant (Rasa server, action server, web service) runs on a throw-away
PostgreSQL database; a French conversation is still there, language and all, after
the Rasa server is restarted. Runs only when TEST_DATABASE_URL names a PostgreSQL
server (``.ci/run`` sets it to the CI machine's 127.0.0.1:5432).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from bot.db.database import throwaway_database
from bot.languages import SUPPORTED_LANGUAGES
from bot.responses import Catalogue
from bot.service.hours import write_always_open
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, free_port
from bot.web.messages import conversation_key

SERVER = os.environ.get("TEST_DATABASE_URL", "")
RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"

pytestmark = pytest.mark.skipif(
    not SERVER,
    reason="TEST_DATABASE_URL is not set: it names the PostgreSQL server to create a throw-away "
    "database on (CI: postgresql://postgres@127.0.0.1:5432/test)",
)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with throwaway_database(SERVER, "assistant_e2e") as url:
        yield url


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Settings:
    # Staff always there: the test must not depend on the clock.
    service_file = write_always_open(tmp_path_factory.mktemp("service") / "service.yml")
    return Settings(
        web_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        store_name="Sol & Sea",
        support_email="help@solsea.test",
        var_dir=tmp_path_factory.mktemp("var"),
        service_file=service_file,
        database_url_setting=database_url,
        rasa_token="e2e-rasa-api-token-0123456789",  # Rasa's HTTP API requires it
    )


@pytest.fixture(scope="module")
def supervisor(settings: Settings) -> Iterator[Supervisor]:
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run `make train`")
    supervisor = Supervisor(settings, RASA, settings.var_dir / "logs")
    try:
        supervisor.start(supervisor.plan(), timeout=420)
        yield supervisor
    finally:
        supervisor.stop()


def known_texts(settings: Settings) -> dict[str, tuple[str, str]]:
    """Every text the assistant can say → (response name, language)."""
    catalogue = Catalogue.load(PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "translations")
    values = {
        "store_name": settings.store_name,
        "support_email": settings.support_email,
        "max_length": settings.max_message_length,
    }
    texts = {}
    for name in catalogue.names():
        for language in SUPPORTED_LANGUAGES:
            variants, used = catalogue.variants(name, language)
            for variant in variants:
                rendered = catalogue.render(name, used, values, rng=_Fixed(variant))
                texts[rendered["text"]] = (name, used)  # type: ignore[index]
    return texts


class _Fixed:
    """An rng whose choice is always the given variant (to render each variant)."""

    def __init__(self, variant: dict[str, Any]) -> None:
        self.variant = variant

    def choice(self, options: list[dict[str, Any]]) -> dict[str, Any]:
        return self.variant


def rasa_tracker(settings: Settings, conversation: str) -> dict[str, Any]:
    """The conversation's tracker as the Rasa server has it (Rasa runs with --enable-api)."""
    response = requests.get(
        f"{settings.rasa_url}/conversations/{conversation}/tracker",
        params={"token": settings.rasa_token},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def user_texts_in_postgres(database_url: str, conversation: str) -> list[str]:
    """What the buyer said, read straight from Rasa's ``events`` table."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM events WHERE sender_id = :id AND type_name = 'user' ORDER BY id"),
                {"id": conversation},
            ).scalars()
            return [json.loads(row)["text"] for row in rows]
    finally:
        engine.dispose()


def test_a_conversation_survives_a_restart_of_rasa_in_postgresql(
    supervisor: Supervisor, settings: Settings, database_url: str
) -> None:
    known = known_texts(settings)
    conversation = uuid.uuid4().hex

    def say(message: str) -> list[tuple[str, str]]:
        key = conversation_key(settings.conversation_secret, conversation)
        body = {"conversation_id": conversation, "conversation_key": key, "text": message}  # no locale
        response = requests.post(f"{settings.web_url}/api/chat", json=body, timeout=60)
        assert response.status_code == 200, response.text
        replies = [m.get("text") for m in response.json()["messages"]]
        assert replies and all(r in known for r in replies), replies
        return [known[r] for r in replies]

    assert say("bonjour") == [("utter_greet", "fr")]
    assert say("merci beaucoup") == [("utter_youre_welcome", "fr")]
    assert rasa_tracker(settings, conversation)["slots"]["language"] == "fr"
    assert user_texts_in_postgres(database_url, conversation) == ["bonjour", "merci beaucoup"]
    assert not settings.rasa_tracker_db.exists()  # no SQLite tracker file on the side

    rasa = next(child for child in supervisor.children if child.name == "rasa")
    assert rasa.process is not None
    old_pid = rasa.process.pid
    supervisor.restart("rasa", timeout=420)
    restarted = next(child for child in supervisor.children if child.name == "rasa")
    assert restarted.process is not None and restarted.process.pid != old_pid

    tracker = rasa_tracker(settings, conversation)  # read back from PostgreSQL by the new server
    assert tracker["slots"]["language"] == "fr"
    said = [event["text"] for event in tracker["events"] if event["event"] == "user"]
    assert said == ["bonjour", "merci beaucoup"]

    assert say("merci") == [("utter_youre_welcome", "fr")]  # the conversation goes on
    assert user_texts_in_postgres(database_url, conversation) == ["bonjour", "merci beaucoup", "merci"]
