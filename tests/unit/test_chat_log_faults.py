"""The chat path's promises to the conversation log, found broken by the soak suite
(bench/soak.py): a first message retried after a lost answer is one conversation, and
a buyer never gets HTTP 200 for a message (or replies) missing from the log.

The web service runs in-process against a stand-in Rasa (a real local aiohttp
server) and a real SQLite file. The database fails for real: another connection
holds its write lock (``BEGIN EXCLUSIVE``), and the service's connections are told
not to wait for it (``busy_timeout=0``), so a write fails at once instead of after
the service's own five-second wait.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event, func, select
from test_chat_hardening import Factory, StandInRasa, issued, service

import bot.web.chat as chat
from bot.db.database import Database, upgrade
from bot.db.models import Conversation, ConversationMessage
from bot.web.context import DATABASE


class Shop:
    """The service under test and the file its log lives in."""

    def __init__(self, client: TestClient, path: Path) -> None:
        self.client = client
        self.path = path
        self.url = f"sqlite:///{path}"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the database's write lock from another connection, as a restart or a long
        writer does: every write of the service fails until the block ends."""
        holder = sqlite3.connect(self.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()

    def rows(self, conversation_id: str) -> list[tuple[str, str | None, int | None, str | None]]:
        database = Database(self.url)
        try:
            with database.session() as session:
                found = session.execute(
                    select(
                        ConversationMessage.sender,
                        ConversationMessage.client_msg_id,
                        ConversationMessage.id,
                        ConversationMessage.state,
                    )
                    .where(ConversationMessage.conversation_id == conversation_id)
                    .order_by(ConversationMessage.id)
                ).all()
                return [(r.sender, r.client_msg_id, r.id, r.state) for r in found]
        finally:
            database.dispose()

    def conversations(self) -> int:
        database = Database(self.url)
        try:
            with database.session() as session:
                return int(session.scalar(select(func.count()).select_from(Conversation)) or 0)
        finally:
            database.dispose()


@pytest.fixture
def rasa() -> StandInRasa:
    return StandInRasa()


@pytest.fixture
async def shop(aiohttp_client: Factory, aiohttp_server: Factory, rasa: StandInRasa, tmp_path: Path) -> Shop:
    path = tmp_path / "chat.db"
    upgrade(f"sqlite:///{path}")
    client = await service(aiohttp_client, aiohttp_server, rasa, f"sqlite:///{path}")

    def no_waiting(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    event.listen(client.server.app[DATABASE].engine, "checkout", no_waiting)
    return Shop(client, path)


async def logged_or_done(
    caplog: pytest.LogCaptureFixture, words: str, request: asyncio.Future[Any], timeout: float = 10.0
) -> None:
    """Wait (poll with a deadline) until the service has logged ``words`` (a write failed
    and is being retried) or has answered ``request`` (it did not wait for the log)."""
    deadline = time.monotonic() + timeout
    while not request.done() and not any(words in record.getMessage() for record in caplog.records):
        assert time.monotonic() < deadline, f"never logged: {words}"
        await asyncio.sleep(0.02)


# --- bug 1: a first message retried after a lost answer started a second conversation ---


async def test_a_first_message_retried_after_a_lost_answer_is_one_conversation(
    shop: Shop, rasa: StandInRasa
) -> None:
    client = shop.client
    first = {"client_msg_id": "first", "text": "hola", "locale": "es-ES"}
    # The old client: no id, the answer is lost, the same message again. Before the fix
    # each copy started a conversation of its own (stored and answered twice).
    for _ in range(2):
        response = await client.post("/api/chat", json=first)
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "conversation_required" and error["language"] == "es"
        # Its own words (reload the page), not the "technical trouble" of an outage.
        assert "cargar la página" in error["detail"], error
    assert rasa.received == [] and shop.conversations() == 0
    # Now: the id and key first, on their own (asking twice is harmless, nothing stored) ...
    await client.post("/api/chat/start", json={})
    issued_now = await client.post("/api/chat/start", json={})
    assert issued_now.status == 200 and shop.conversations() == 0
    conversation = {k: (await issued_now.json())[k] for k in ("conversation_id", "conversation_key")}
    # ... then the message, its answer lost, and the same message again.
    body = {**conversation, **first}
    lost = await client.post("/api/chat", json=body)
    assert lost.status == 200
    retry = await client.post("/api/chat", json=body)
    assert retry.status == 200
    assert [m["text"] for m in (await retry.json())["messages"]] == ["echo: hola"]
    assert shop.conversations() == 1 and len(rasa.received) == 1
    senders = [(sender, msg) for sender, msg, _, _ in shop.rows(conversation["conversation_id"])]
    assert senders == [("buyer", "first"), ("bot", None)]


# --- bug 2a: a message the log could not take was answered anyway ---------------------


async def test_a_message_the_log_cannot_store_gets_503_without_rasa_and_its_retry_is_answered(
    shop: Shop, rasa: StandInRasa, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat, "STORE_RETRY_SECONDS", 0.5, raising=False)  # the retries give up sooner
    conversation = issued()
    body = {**conversation, "client_msg_id": "db1", "text": "wo ist meine Bestellung", "locale": "de-DE"}
    with shop.locked():
        refused = await shop.client.post("/api/chat", json=body)
    # Before the fix: HTTP 200, Rasa asked, and nothing of it in the log.
    assert refused.status == 503
    error = (await refused.json())["error"]
    assert error["code"] == "assistant_unavailable" and error["language"] == "de"
    assert rasa.received == [] and shop.rows(conversation["conversation_id"]) == []
    retry = await shop.client.post("/api/chat", json=body)  # the widget: same client_msg_id
    assert retry.status == 200
    answer = await retry.json()
    rows = shop.rows(conversation["conversation_id"])
    assert [(s, m, state) for s, m, _, state in rows] == [("buyer", "db1", "answered"), ("bot", None, None)]
    assert answer["message"]["id"] == rows[0][2] and answer["messages"][0]["id"] == rows[1][2]
    assert len(rasa.received) == 1


async def test_a_message_waits_briefly_for_a_locked_log_and_is_stored(
    shop: Shop, rasa: StandInRasa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.web.chat")
    conversation = issued()
    body = {**conversation, "client_msg_id": "db2", "text": "hello"}
    with shop.locked():
        pending = asyncio.ensure_future(shop.client.post("/api/chat", json=body))
        await logged_or_done(caplog, "Conversation log busy for", pending)  # a write failed
    response = await pending
    assert response.status == 200
    rows = shop.rows(conversation["conversation_id"])
    assert [(s, m) for s, m, _, _ in rows] == [("buyer", "db2"), ("bot", None)]
    assert len(rasa.received) == 1


# --- bug 2b: replies went out without being logged ---------------------------------------


async def test_replies_are_logged_when_the_log_fails_after_rasa_answered(
    shop: Shop, rasa: StandInRasa, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.web.chat")
    conversation = issued()
    body = {**conversation, "client_msg_id": "db3", "text": "où est ma commande", "locale": "fr-FR"}
    rasa.gate = asyncio.Event()
    pending = asyncio.ensure_future(shop.client.post("/api/chat", json=body))
    await asyncio.wait_for(rasa.arrived.wait(), 10)  # stored, and with Rasa now
    with shop.locked():
        rasa.gate.set()
        await logged_or_done(caplog, "busy for the replies", pending)  # recording them failed
    response = await pending
    assert response.status == 200
    answer = await response.json()
    rows = shop.rows(conversation["conversation_id"])
    assert [(s, m, state) for s, m, _, state in rows] == [("buyer", "db3", "answered"), ("bot", None, None)]
    # Before the fix the reply went out without a log id, and the log had no reply.
    assert [m.get("id") for m in answer["messages"]] == [rows[1][2]]
    assert answer["messages"][0]["text"] == "echo: où est ma commande"
