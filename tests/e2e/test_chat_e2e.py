"""The chat path against the whole assistant (Rasa, action server, web service as `make run`
starts them): a message sent twice at once reaches Rasa once (issue 11, item 3), and a
buyer whose message meets a stopped action server gets the "technical trouble" reply
and an answer when the widget sends it again (item 18)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.db.database import Database, upgrade
from bot.orders import demo
from bot.responses import Catalogue
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, free_port

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Supervisor]]:
    settings = Settings(
        web_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        var_dir=tmp_path_factory.mktemp("var"),
        chat_burst=1000,
        address_burst=1000,
    )
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run `make train`")
    upgrade(settings.database_url)
    demo.load(Database(settings.database_url))
    supervisor = Supervisor(settings, RASA, Path(settings.var_dir) / "logs")
    try:
        supervisor.start(supervisor.plan(), timeout=420)
        yield supervisor.settings, supervisor
    finally:
        supervisor.stop()


def post(settings: Settings, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"http://127.0.0.1:{settings.web_port}/api/chat", json=body, timeout=90)


def start_conversation(settings: Settings, text: str = "hello", locale: str = "en-US") -> dict[str, str]:
    """A conversation the service issued (POST /api/chat/start), with its first message."""
    issued = requests.post(f"http://127.0.0.1:{settings.web_port}/api/chat/start", json={}, timeout=90)
    assert issued.status_code == 200, issued.text
    conversation = {k: issued.json()[k] for k in ("conversation_id", "conversation_key")}
    body = {**conversation, "text": text, "client_msg_id": uuid.uuid4().hex, "locale": locale}
    first = post(settings, body)
    assert first.status_code == 200, first.text
    return conversation


def user_events(settings: Settings, conversation_id: str, text: str) -> int:
    """How many times Rasa's tracker holds ``text`` from this buyer (its own SQLite tracker store)."""
    with sqlite3.connect(settings.rasa_tracker_db) as tracker:
        rows = tracker.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (conversation_id,)
        ).fetchall()
    return sum(1 for (data,) in rows if f'"text": "{text}"' in data)


def test_the_same_message_sent_twice_at_once_reaches_rasa_once(stack: tuple[Settings, Supervisor]) -> None:
    settings, _ = stack
    conversation = start_conversation(settings)
    text = "what is your return policy"
    body = {**conversation, "client_msg_id": uuid.uuid4().hex, "text": text, "locale": "en-US"}
    with ThreadPoolExecutor(2) as pool:  # two tabs with the same outbox, or a retry after a timeout
        responses = list(pool.map(lambda _: post(settings, body), range(2)))
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    replies = [[m["text"] for m in r.json()["messages"]] for r in responses]
    assert replies[0] and replies[0] == replies[1]
    assert user_events(settings, conversation["conversation_id"], text) == 1


def test_a_stopped_action_server_gives_trouble_then_the_retry_is_answered(
    stack: tuple[Settings, Supervisor],
) -> None:
    settings, supervisor = stack
    catalogue = Catalogue.load(PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "translations")
    values = {"store_name": settings.store_name, "support_email": settings.support_email}
    trouble = catalogue.render("utter_service_unavailable", "de", values)
    assert trouble is not None
    conversation = start_conversation(settings, "Hallo, guten Tag", "de-DE")
    actions = next(child for child in supervisor.children if child.name == "actions")
    assert actions.process is not None
    actions.process.terminate()
    actions.process.wait(15)
    body = {
        **conversation,
        "client_msg_id": uuid.uuid4().hex,
        "text": "Wie lange dauert der Versand?",
        "locale": "de-DE",
    }
    try:
        down = post(settings, body)
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "assistant_unavailable" and error["detail"] == trouble["text"]
    finally:
        supervisor.restart("actions")
    again = post(settings, body)  # the widget's outbox sends it again, same client_msg_id
    assert again.status_code == 200, again.text
    assert again.json()["messages"], "the retry was dropped as a duplicate"
