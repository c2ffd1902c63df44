"""Every push of a hand-off, end to end through the web service and its event bus.

A buyer's two windows and two consoles are connected to one web service (a
stand-in Rasa, test_web_app.FakeRasa); an escalation is opened from outside it as
the action server does. Each step of the hand-off (new escalation, claim, buyer
message, typing, staff reply, resolve) must reach exactly the sockets it reached
before the bus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from test_web_app import FakeRasa

from bot.db.database import Database, upgrade
from bot.events import Typing
from bot.service import escalations
from bot.service.hours import load as service_config
from bot.service.hours import write_always_open
from bot.settings import DEV_CONVERSATION_SECRET, Settings
from bot.staff.accounts import add_staff
from bot.web.app import create_app
from bot.web.context import HUB
from bot.web.live import BUS
from bot.web.messages import conversation_key, new_conversation_id

Factory = Callable[..., Awaitable[Any]]
PASSWORD = "correct horse battery"


@pytest.fixture
async def settings(tmp_path: Path, aiohttp_server: Factory) -> Settings:
    rasa: TestServer = await aiohttp_server(FakeRasa().app())
    settings = Settings(
        var_dir=tmp_path / "var",
        knowledge_base_dir=tmp_path / "kb",
        service_file=write_always_open(tmp_path / "service.yml"),
        rasa_port=rasa.port,
        rasa_timeout_seconds=5,
    )
    (tmp_path / "kb").mkdir()
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en fr")
        add_staff(session, "mgr@shop.test", "Mia Manager", "manager", PASSWORD, "en")
    return settings


def escalate(settings: Settings, conversation_id: str) -> int:
    """Open an escalation as the action server does: in the database only."""
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            config = service_config(settings.service_file)
            escalation, _, _ = escalations.create(session, config, conversation_id, "fr", "request_human")
            return escalation.id
    finally:
        database.dispose()


async def next_of(socket: Any, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame of type ``kind`` (others skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        message = await socket.receive(timeout=max(0.01, deadline - time.monotonic()))
        if message.type != aiohttp.WSMsgType.TEXT or message.data == "pong":
            continue
        frame = message.json()
        if frame.get("type") == kind:
            return dict(frame)


async def until_pong(socket: Any) -> list[str]:
    """The types of the frames that come before the answer to a ping sent now."""
    await socket.send_str("ping")
    kinds = []
    while (message := await socket.receive(timeout=5)).data != "pong":
        kinds.append(message.json()["type"])
    return kinds


async def staff_console(client: TestClient, email: str) -> tuple[str, Any]:
    response = await client.post("/api/staff/login", json={"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return str((await response.json())["csrf_token"]), await client.ws_connect("/ws/staff")


async def test_a_hand_off_pushes_each_step_to_the_sockets_that_should_hear_it(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    conversation_id = new_conversation_id()
    hello = {
        "type": "hello",
        "conversation_id": conversation_id,
        "conversation_key": conversation_key(DEV_CONVERSATION_SECRET, conversation_id),
    }
    window, other_window = await client.ws_connect("/ws/chat"), await client.ws_connect("/ws/chat")
    for socket in (window, other_window):
        await socket.send_json(hello)
        await next_of(socket, "history")
    csrf, agent = await staff_console(client, "agent@shop.test")

    # The action server opens an escalation: the watcher publishes it, the console hears it.
    escalation_id = escalate(settings, conversation_id)
    assert (await next_of(agent, "escalation"))["escalation"]["id"] == escalation_id

    # A claim: the buyer's windows hear a person joined; the consoles, that the queue changed.
    url = f"/api/staff/escalations/{escalation_id}"
    assert (await client.post(f"{url}/claim", headers={"X-CSRF-Token": csrf})).status == 200
    for socket in (window, other_window):
        assert (await next_of(socket, "person_joined"))["agent"] == "Ann Agent"
    await next_of(agent, "queue_changed")

    # The buyer writes: the console hears it; the other window is shown it, not the first.
    await window.send_json({"type": "message", "client_msg_id": "m1", "text": "allô ?"})
    assert (await next_of(window, "reply"))["with_person"] is True
    heard = await next_of(agent, "buyer_message")
    assert heard["escalation_id"] == escalation_id and heard["text"] == "allô ?"
    assert [m["text"] for m in (await next_of(other_window, "messages"))["messages"]] == ["allô ?"]
    assert "messages" not in await until_pong(window)

    # Typing and a reply reach both windows, in that order.
    await agent.send_json({"type": "typing", "escalation_id": escalation_id})
    reply = await client.post(f"{url}/reply", json={"text": "Bonjour !"}, headers={"X-CSRF-Token": csrf})
    assert reply.status == 200
    for socket in (window, other_window):
        assert (await next_of(socket, "typing"))["agent"] == "Ann Agent"
        staff_message = await next_of(socket, "staff_message")
        assert staff_message["text"] == "Bonjour !" and staff_message["id"] == (await reply.json())["sent"]

    # Resolve: the queue changes again and the bot speaks to the buyer once more.
    assert (await client.post(f"{url}/resolve", headers={"X-CSRF-Token": csrf})).status == 200
    await next_of(agent, "queue_changed")
    for socket in (window, other_window):
        assert (await next_of(socket, "bot_message"))["text"] == "echo: /conversation_resolved"

    for socket in (window, other_window, agent):
        await socket.close()


async def test_every_console_hears_queue_changes_and_none_hears_a_buyers_pushes(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    csrf, agent = await staff_console(client, "agent@shop.test")
    conversation_id = new_conversation_id()
    escalation_id = escalate(settings, conversation_id)
    assert (await next_of(agent, "escalation"))["escalation"]["id"] == escalation_id
    url = f"/api/staff/escalations/{escalation_id}"
    assert (await client.post(f"{url}/claim", headers={"X-CSRF-Token": csrf})).status == 200
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:  # own cookies
        signed_in = await other.post(
            client.make_url("/api/staff/login"), json={"email": "mgr@shop.test", "password": PASSWORD}
        )
        assert signed_in.status == 200
        manager = await other.ws_connect(client.make_url("/ws/staff"))
        await client.server.app[BUS].publish(Typing(conversation_id, "Ann Agent"))
        transfer = await client.post(f"{url}/transfer", json={"to": None}, headers={"X-CSRF-Token": csrf})
        assert transfer.status == 200
        for console in (agent, manager):
            await next_of(console, "queue_changed")
            assert "typing" not in await until_pong(console)
        await manager.close()
    await agent.close()


async def test_closed_sockets_leave_no_listener_or_topic_behind(
    aiohttp_client: Factory, settings: Settings
) -> None:
    app = create_app(settings)
    client = await aiohttp_client(app)
    sockets = []
    for _ in range(5):
        conversation_id = new_conversation_id()
        socket = await client.ws_connect("/ws/chat")
        key = conversation_key(DEV_CONVERSATION_SECRET, conversation_id)
        await socket.send_json({"type": "hello", "conversation_id": conversation_id, "conversation_key": key})
        await next_of(socket, "history")
        sockets.append(socket)
    _, console = await staff_console(client, "agent@shop.test")
    assert len(app[HUB]) == 6 and app[BUS].topics() == 6  # type: ignore[attr-defined]
    for socket in [*sockets, console]:
        await socket.close()
    deadline = time.monotonic() + 5
    while len(app[HUB]) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert len(app[HUB]) == 0 and app[BUS].topics() == 0  # type: ignore[attr-defined]
