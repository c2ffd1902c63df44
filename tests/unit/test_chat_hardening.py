"""The chat path against hostile and unlucky traffic (issue 11, items 3, 9, 14, 16, 18).

The web service runs in-process on a real socket against a stand-in Rasa, a real
aiohttp server on 127.0.0.1 that can hold its answers back, answer nothing (as
Rasa does when its action server is down) or count what reached it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import ConversationMessage
from bot.orders import demo
from bot.orders.tokens import sign
from bot.settings import DEV_CONVERSATION_SECRET, DEV_CUSTOMER_SECRET, Settings
from bot.web.app import create_app
from bot.web.context import HUB, THROTTLE
from bot.web.messages import conversation_key, new_conversation_id

Factory = Callable[..., Awaitable[Any]]
ANA = sign("c-1002", "ana.garcia@example.com", 4_000_000_000, DEV_CUSTOMER_SECRET)


class StandInRasa:
    """Rasa's REST channel: records each message; ``gate`` (when set) holds answers
    back until released; ``silent`` answers ``[]`` like Rasa without its action server."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None
        self.silent = False
        self.arrived = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/status", lambda request: web.json_response({"model_file": "x"}))
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.silent:
            return web.json_response([])
        return web.json_response([{"recipient_id": body["sender"], "text": f"echo: {body['message']}"}])


def issued() -> dict[str, str]:
    conversation_id = new_conversation_id()
    return {
        "conversation_id": conversation_id,
        "conversation_key": conversation_key(DEV_CONVERSATION_SECRET, conversation_id),
    }


@pytest.fixture
def rasa() -> StandInRasa:
    return StandInRasa()


async def service(
    aiohttp_client: Factory,
    aiohttp_server: Factory,
    rasa: StandInRasa,
    url: str,
    **overrides: Any,
) -> TestClient:
    server: TestServer = await aiohttp_server(rasa.app())
    settings = Settings(rasa_port=server.port, rasa_timeout_seconds=5, database_url_setting=url, **overrides)
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def client(
    aiohttp_client: Factory, aiohttp_server: Factory, rasa: StandInRasa, tmp_path: Path
) -> TestClient:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    upgrade(url)
    database = Database(url)
    demo.load(database)
    database.dispose()
    return await service(aiohttp_client, aiohttp_server, rasa, url)


async def next_of(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        event = await socket.receive_json(timeout=10)
        if event["type"] == kind:
            return dict(event)


# --- item 9: conversations are the server's, and only their holder reads them ---------


async def test_history_with_a_guessed_short_or_keyless_id_is_refused(
    client: TestClient, rasa: StandInRasa
) -> None:
    mine = issued()
    assert (
        await client.post("/api/chat", json={**mine, "client_msg_id": "m1", "text": "my email is a@b.c"})
    ).ok
    refused_bodies = [
        {"conversation_id": "c", "conversation_key": mine["conversation_key"]},  # one character
        {"conversation_id": mine["conversation_id"]},  # the id alone
        {"conversation_id": mine["conversation_id"], "conversation_key": "x" * 43},  # a made-up key
        {"conversation_id": mine["conversation_id"], "conversation_key": issued()["conversation_key"]},
    ]
    for body in refused_bodies:
        response = await client.post("/api/chat/history", json=body, headers={"Accept-Language": "fr"})
        assert response.status == 403, body
        error = (await response.json())["error"]
        assert error["code"] == "conversation_not_yours" and "client" in error["detail"]  # in French
        assert "a@b.c" not in await response.text()
    # The id is no longer read from the query string at all.
    assert (await client.get(f"/api/chat/history?conversation_id={mine['conversation_id']}")).status == 405
    history = await (await client.post("/api/chat/history", json=mine)).json()
    assert [m["text"] for m in history["messages"]] == ["my email is a@b.c", "echo: my email is a@b.c"]


async def test_a_client_made_id_cannot_start_or_continue_a_conversation(
    client: TestClient, rasa: StandInRasa
) -> None:
    invented = {"conversation_id": "a" * 40, "text": "where is my order", "client_msg_id": "x1"}
    response = await client.post("/api/chat", json=invented, headers={"Accept-Language": "es"})
    assert response.status == 403 and (await response.json())["error"]["language"] == "es"
    short = await client.post("/api/chat", json={**invented, "conversation_id": "c1"})
    assert short.status == 400 and (await short.json())["error"]["code"] == "invalid_conversation_id"
    socket = await client.ws_connect("/ws/chat")
    await socket.send_json({"type": "hello", "conversation_id": "a" * 40})
    assert (await socket.receive_json())["code"] == "conversation_not_yours"
    await socket.close()
    assert rasa.received == []
    # The server issues the id and key on their own; a message then carries them.
    first = await (await client.post("/api/chat/start", json={})).json()
    assert len(first["conversation_id"]) >= 32 and first["conversation_key"]
    again = {k: first[k] for k in ("conversation_id", "conversation_key")}
    reply = await (
        await client.post("/api/chat", json={**again, "text": "more", "client_msg_id": "n2"})
    ).json()
    assert "conversation_key" not in reply and reply["messages"][0]["text"] == "echo: more"


async def test_an_anonymous_listener_stops_receiving_once_a_customer_signs_the_conversation(
    client: TestClient, rasa: StandInRasa
) -> None:
    conversation = issued()
    listener = await client.ws_connect("/ws/chat")
    await listener.send_json({"type": "hello", **conversation})
    await next_of(listener, "history")
    anonymous = {**conversation, "client_msg_id": "a1", "text": "hello"}
    assert (await client.post("/api/chat", json=anonymous)).ok
    assert (await next_of(listener, "messages"))["messages"][0]["text"] == "hello"  # anonymous: shared

    signed = {**conversation, "client_msg_id": "a2", "text": "my orders", "customer_token": ANA}
    assert (await client.post("/api/chat", json=signed)).ok
    evicted = await listener.receive_json(timeout=5)
    assert evicted["type"] == "error" and evicted["code"] == "conversation_not_yours"
    # Nothing of hers follows: a person's reply pushed now does not reach the listener.
    await client.server.app[HUB].to_buyer(
        conversation["conversation_id"], {"type": "staff_message", "text": "10233"}
    )
    await listener.send_str("ping")
    assert await listener.receive_str(timeout=5) == "pong"  # the next frame: no push came before it
    # Her own socket, with her token, still hears the conversation.
    hers = await client.ws_connect("/ws/chat")
    await hers.send_json({"type": "hello", **conversation, "customer_token": ANA})
    assert len((await next_of(hers, "history"))["messages"]) == 4
    await client.server.app[HUB].to_buyer(
        conversation["conversation_id"], {"type": "staff_message", "text": "ok"}
    )
    assert (await next_of(hers, "staff_message"))["text"] == "ok"
    await listener.close()
    await hers.close()


# --- item 14: per-address caps on sockets, hellos and history reads ---------------------


async def test_the_21st_socket_from_one_address_is_refused(client: TestClient) -> None:
    sockets = [await client.ws_connect("/ws/chat") for _ in range(20)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/chat", headers={"Accept-Language": "de"})
    assert refused.value.status == 429
    await sockets.pop().close()
    deadline = asyncio.get_running_loop().time() + 5
    while True:  # the server counts the closed one off when its handler ends
        try:
            sockets.append(await client.ws_connect("/ws/chat"))
            break
        except aiohttp.WSServerHandshakeError:
            assert asyncio.get_running_loop().time() < deadline, "a closed socket's place was not freed"
            await asyncio.sleep(0.05)
    for socket in sockets:
        await socket.close()


async def test_hello_and_history_floods_are_told_to_slow_down(
    aiohttp_client: Factory, aiohttp_server: Factory, rasa: StandInRasa, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    upgrade(url)
    client = await service(aiohttp_client, aiohttp_server, rasa, url, reads_burst=10, reads_per_second=0.1)
    socket = await client.ws_connect("/ws/chat", headers={"Accept-Language": "es"})
    answers = []
    for _ in range(12):
        await socket.send_json({"type": "hello"})
        answers.append(await socket.receive_json(timeout=5))
    assert [a["type"] for a in answers[:10]] == ["history"] * 10
    assert answers[10]["code"] == "throttled" and answers[10]["retry_after"] > 0
    assert "rápido" in answers[10]["detail"]  # utter_slow_down in Spanish
    response = await client.post("/api/chat/history", json=issued(), headers={"Accept-Language": "es"})
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert "rápido" in (await response.json())["error"]["detail"]
    await socket.close()


# --- item 3: a message whose first copy is still with Rasa reaches Rasa once -----------


async def test_two_tabs_sending_the_same_message_at_once_reach_rasa_once(
    client: TestClient, rasa: StandInRasa
) -> None:
    conversation = issued()
    body = {**conversation, "client_msg_id": "same", "text": "where is my order 10231"}
    rasa.gate = asyncio.Event()
    first = asyncio.ensure_future(client.post("/api/chat", json=body))
    await asyncio.wait_for(rasa.arrived.wait(), 10)
    second = asyncio.ensure_future(client.post("/api/chat", json=body))
    await asyncio.sleep(0.5)  # time for a second copy to reach Rasa, as it did before the fix
    rasa.gate.set()
    answers = [await (await response).json() for response in (first, second)]
    assert len(rasa.received) == 1
    assert answers[0]["messages"] == answers[1]["messages"] and answers[0]["messages"]


async def test_a_copy_on_another_worker_waits_for_the_first_answer(
    aiohttp_client: Factory, aiohttp_server: Factory, rasa: StandInRasa, database_url: str
) -> None:
    """Two web workers on one database: the claim is the log's unique key, not a lock in memory."""
    upgrade(database_url)
    workers = [await service(aiohttp_client, aiohttp_server, rasa, database_url) for _ in range(2)]
    conversation = issued()
    body = {**conversation, "client_msg_id": "tab", "text": "hola"}
    rasa.gate = asyncio.Event()
    first = asyncio.ensure_future(workers[0].post("/api/chat", json=body))
    await asyncio.wait_for(rasa.arrived.wait(), 10)
    rasa.arrived.clear()
    second = asyncio.ensure_future(workers[1].post("/api/chat", json=body))
    with pytest.raises(asyncio.TimeoutError):  # before the fix the copy went to Rasa at once
        await asyncio.wait_for(rasa.arrived.wait(), 1.0)
    assert not second.done()  # it waits for the first copy's replies
    rasa.gate.set()
    one, two = [await (await response).json() for response in (first, second)]
    assert len(rasa.received) == 1
    assert one["messages"] == two["messages"] and one["messages"][0]["text"] == "echo: hola"
    database = Database(database_url)
    with database.session() as session:
        rows = session.scalars(
            select(ConversationMessage.sender).where(
                ConversationMessage.conversation_id == conversation["conversation_id"]
            )
        ).all()
    database.dispose()
    assert list(rows) == ["buyer", "bot"]


# --- item 18: no replies is no answer --------------------------------------------------


async def test_silence_from_rasa_is_trouble_and_the_retry_is_answered(
    client: TestClient, rasa: StandInRasa, tmp_path: Path
) -> None:
    conversation = issued()
    body = {**conversation, "client_msg_id": "q1", "text": "où est ma commande", "locale": "fr-FR"}
    rasa.silent = True  # the action server is down: Rasa answers 200 []
    response = await client.post("/api/chat", json=body)
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "assistant_unavailable" and "technique" in error["detail"]  # in French
    rasa.silent = False  # back
    retry = await client.post("/api/chat", json=body)  # the widget sends it again, same id
    assert retry.status == 200
    assert [m["text"] for m in (await retry.json())["messages"]] == ["echo: où est ma commande"]
    assert len(rasa.received) == 2  # the retry was not dropped as a duplicate
    again = await (await client.post("/api/chat", json=body)).json()  # a third copy: from the log
    assert again["messages"][0]["text"] == "echo: où est ma commande" and len(rasa.received) == 2


# --- item 16: a throttled burst keeps its order ------------------------------------------


async def test_a_throttled_burst_is_never_answered_out_of_order(
    client: TestClient, rasa: StandInRasa
) -> None:
    """The socket's reader queues a burst while the first message is with Rasa; the
    throttle's time then passes quickly (a fake clock: 0.4 s a check), as under CPU
    contention. Before the fix, 'm5' was accepted after 'm3' and 'm4' were refused."""
    now = [0.0]

    def clock() -> float:
        now[0] += 0.4
        return now[0]

    throttle = client.server.app[THROTTLE]
    throttle.rate, throttle.burst, throttle.clock = 1.0, 3, clock
    rasa.gate = asyncio.Event()
    socket = await client.ws_connect("/ws/chat")
    await socket.send_json({"type": "hello", **issued()})
    await next_of(socket, "history")
    for i in range(12):
        await socket.send_json({"type": "message", "client_msg_id": f"m{i}", "text": f"m{i}"})
    await socket.send_str("ping")
    while (await socket.receive()).data != "pong":  # read in order: all 12 are queued now
        pass
    rasa.gate.set()
    outcomes = {}
    while len(outcomes) < 12:
        event = await socket.receive_json(timeout=10)
        if event["type"] in ("reply", "error"):
            outcomes[event["client_msg_id"]] = event["type"]
    accepted = [i for i in range(12) if outcomes[f"m{i}"] == "reply"]
    assert accepted == list(range(len(accepted)))  # a prefix: nothing overtook a refused one
    assert [m["message"] for m in rasa.received] == [f"m{i}" for i in accepted]
    await socket.close()
