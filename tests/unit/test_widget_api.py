"""What the storefront widget talks to: the chat socket, history, throttling, CORS, the demo store.

The web service runs in-process against a stand-in Rasa (test_web_app.FakeRasa).
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_web_app import FakeRasa

from bot.conversation_log import history, record_replies
from bot.db.database import Database, upgrade
from bot.languages import SUPPORTED_LANGUAGES
from bot.orders import demo
from bot.orders.tokens import sign
from bot.settings import DEV_CONVERSATION_SECRET, DEV_CUSTOMER_SECRET, Settings
from bot.ui_labels import ui_labels
from bot.web.app import STATIC_DIR, create_app
from bot.web.messages import conversation_key, new_conversation_id, parse_incoming
from bot.web.throttle import Throttle

Factory = Callable[..., Awaitable[Any]]
ANA = sign("c-1002", "ana.garcia@example.com", 4_000_000_000, DEV_CUSTOMER_SECRET)
EMILY = sign("c-1001", "emily.carter@example.com", 4_000_000_000, DEV_CUSTOMER_SECRET)


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


def issued() -> dict[str, str]:
    """A conversation id and key as the service issues them (the test settings' secret)."""
    conversation_id = new_conversation_id()
    return {
        "conversation_id": conversation_id,
        "conversation_key": conversation_key(DEV_CONVERSATION_SECRET, conversation_id),
    }


async def make_client(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path, **overrides: Any
) -> TestClient:
    server: TestServer = await aiohttp_server(fake_rasa.app())
    settings = Settings(rasa_port=server.port, rasa_timeout_seconds=5, var_dir=tmp_path, **overrides)
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    demo.load(database)  # the demo customers, for tokens
    database.dispose()
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def client(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> TestClient:
    return await make_client(aiohttp_client, aiohttp_server, fake_rasa, tmp_path)


async def next_of(socket: Any, kind: str) -> dict[str, Any]:
    while True:
        event = await socket.receive_json(timeout=5)
        if event["type"] == kind:
            return dict(event)


async def test_a_message_over_the_socket_is_answered_with_log_ids(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    socket = await client.ws_connect("/ws/chat")
    await socket.send_json({"type": "hello", "after": 0})  # a first visit: the server starts one
    history = await next_of(socket, "history")
    assert history["messages"] == [] and history["with_person"] is False
    conversation = {k: history[k] for k in ("conversation_id", "conversation_key")}
    assert len(conversation["conversation_id"]) >= 32
    await socket.send_json(
        {
            "type": "message",
            "client_msg_id": "m1",
            "text": "hola",
            "locale": "es",
            "time_zone": "America/Mexico_City",
        }
    )
    reply = await next_of(socket, "reply")
    assert reply["client_msg_id"] == "m1"
    assert reply["message"]["sender"] == "buyer" and reply["message"]["client_msg_id"] == "m1"
    [answer] = reply["messages"]
    assert (
        answer["text"] == "echo: hola" and answer["sender"] == "bot" and answer["id"] > reply["message"]["id"]
    )
    assert fake_rasa.received[0]["metadata"]["time_zone"] == "America/Mexico_City"

    # The same message again (a reconnect before the reply arrived): answered from the log.
    await socket.send_json({"type": "message", "client_msg_id": "m1", "text": "hola"})
    again = await next_of(socket, "reply")
    assert again["messages"] == reply["messages"] and len(fake_rasa.received) == 1
    await socket.close()

    # A reload: everything since a message id, once.
    later = await client.ws_connect("/ws/chat")
    await later.send_json({"type": "hello", **conversation, "after": reply["message"]["id"]})
    assert [m["id"] for m in (await next_of(later, "history"))["messages"]] == [answer["id"]]
    await later.close()


async def test_button_payloads_are_kept_with_the_title_the_buyer_saw(client: TestClient) -> None:
    conversation = issued()
    body = {**conversation, "client_msg_id": "r1", "payload": '/give_rating{"rating": "5"}'}
    await client.post("/api/chat", json={**body, "shown": "★★★★★"})
    history = await (await client.post("/api/chat/history", json=conversation)).json()
    assert history["messages"][0]["text"] == "★★★★★"


async def test_other_windows_of_the_conversation_see_the_exchange(client: TestClient) -> None:
    first = await client.ws_connect("/ws/chat")
    second = await client.ws_connect("/ws/chat")
    conversation = issued()
    for socket in (first, second):
        await socket.send_json({"type": "hello", **conversation})
        await next_of(socket, "history")
    await first.send_json({"type": "message", "client_msg_id": "x1", "text": "hi"})
    await next_of(first, "reply")
    echoed = await next_of(second, "messages")
    assert [m["sender"] for m in echoed["messages"]] == ["buyer", "bot"]
    await first.close()
    await second.close()


async def test_a_customers_conversation_is_theirs_alone(client: TestClient, fake_rasa: FakeRasa) -> None:
    conversation = issued()
    body = {
        **conversation,
        "client_msg_id": "a1",
        "text": "mis pedidos",
        "customer_token": ANA,
    }
    assert (await client.post("/api/chat", json=body)).status == 200

    # The history needs Ana's token.
    url = "/api/chat/history"
    assert (await client.post(url, json=conversation, headers={"X-Customer-Token": ANA})).status == 200
    for headers in ({}, {"X-Customer-Token": EMILY}, {"X-Customer-Token": "garbage"}):
        refused = await client.post(url, json=conversation, headers=headers)
        assert refused.status == 403 and (await refused.json())["error"]["code"] == "conversation_not_yours"

    # Nobody else can continue it (and read her orders through the bot).
    for token in (None, EMILY):
        other = {**body, "client_msg_id": "e1", "text": "show orders", "customer_token": token}
        response = await client.post("/api/chat", json=other)
        assert response.status == 403
    assert len(fake_rasa.received) == 1

    socket = await client.ws_connect("/ws/chat")
    await socket.send_json({"type": "hello", **conversation, "customer_token": EMILY})
    assert (await socket.receive_json())["code"] == "conversation_not_yours"
    await socket.send_json({"type": "hello", **conversation})  # no token: no history, no pushes
    assert (await socket.receive_json())["code"] == "conversation_not_yours"
    await socket.close()


async def test_a_flood_is_throttled_with_a_notice_in_the_buyers_language(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    client = await make_client(aiohttp_client, aiohttp_server, fake_rasa, tmp_path, chat_burst=5)
    socket = await client.ws_connect("/ws/chat")
    conversation = issued()
    await socket.send_json({"type": "hello", **conversation})
    await next_of(socket, "history")
    for i in range(20):
        await socket.send_json(
            {"type": "message", "client_msg_id": f"f{i}", "text": f"hola {i}", "locale": "es"}
        )
    events = [await socket.receive_json(timeout=5) for _ in range(20)]
    throttled = [e for e in events if e["type"] == "error"]
    assert len(throttled) >= 14  # a burst of 5 passes (and perhaps one refilled)
    assert all(e["code"] == "throttled" and e["retry_after"] > 0 for e in throttled)
    assert "rápido" in throttled[0]["detail"]  # utter_slow_down, in Spanish
    assert len(fake_rasa.received) == 20 - len(throttled)
    response = await client.post("/api/chat", json={**conversation, "text": "otra"})
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1


def test_the_throttle_refills_at_its_rate() -> None:
    now = [0.0]
    throttle = Throttle(rate_per_second=2.0, burst=3, clock=lambda: now[0])
    assert [throttle.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.wait("a") == pytest.approx(0.5)
    assert throttle.wait("b") == 0.0  # senders are apart
    now[0] = 0.5
    assert throttle.wait("a") == 0.0


async def test_oversize_and_hostile_frames_get_errors_not_crashes(client: TestClient) -> None:
    socket = await client.ws_connect("/ws/chat")
    await socket.send_json({"type": "hello"})
    await next_of(socket, "history")
    await socket.send_json({"type": "message", "client_msg_id": "big", "text": "x" * 10_000, "locale": "fr"})
    error = await next_of(socket, "error")
    assert error["code"] == "message_too_long" and "trop long" in error["detail"]
    await socket.send_json({"type": "message", "client_msg_id": ["no"], "text": "x"})
    assert (await next_of(socket, "error"))["code"] == "invalid_client_msg_id"
    await socket.send_json({"type": "message", "client_msg_id": "h1", "text": "<script>alert(1)</script>"})
    reply = await next_of(socket, "reply")
    assert (
        reply["message"]["text"] == "<script>alert(1)</script>"
    )  # kept as the text it is; the widget shows text
    await socket.close()


async def test_widget_script_and_config(client: TestClient) -> None:
    script = await client.get("/widget.js")
    assert script.status == 200 and "javascript" in script.headers["Content-Type"]
    assert len(gzip.compress((STATIC_DIR / "widget.js").read_bytes())) < 50_000
    config = await (await client.get("/api/widget/config")).json()
    assert set(config["labels"]) == set(SUPPORTED_LANGUAGES) and config["rtl"] == ["ar"]
    assert config["labels"]["ja"]["send"] == ui_labels("widget")["send"]["ja"]
    assert config["max_message_length"] == 2000


async def test_cors_for_stores_on_other_origins(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    client = await make_client(
        aiohttp_client, aiohttp_server, fake_rasa, tmp_path, widget_origins=("https://shop.example",)
    )
    preflight = await client.options(
        "/api/chat", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    other = await client.get("/api/widget/config", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    refused = await client.get("/ws/chat", headers={"Origin": "https://evil.example"})
    assert refused.status == 403
    assert "Access-Control-Allow-Origin" not in (await client.get("/console")).headers


async def test_the_demo_store_signs_in_demo_customers_and_escapes_labels(client: TestClient) -> None:
    vip = await (await client.get("/store?as=vip&lang=es")).text()
    assert 'lang="es"' in vip and "Ana García" in vip
    token = vip.split('data-customer-token="')[1].split('"')[0]
    assert token and '<script src="/widget.js"' in vip
    anonymous = await (await client.get("/store?as=<script>", headers={"Accept-Language": "ar"})).text()
    assert 'data-customer-token=""' in anonymous and 'dir="rtl"' in anonymous and "<script>&" not in anonymous
    assert "{{" not in anonymous  # every placeholder filled


async def test_the_demo_store_is_off_in_production(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    client = await make_client(aiohttp_client, aiohttp_server, fake_rasa, tmp_path, demo_store=False)
    assert (await client.get("/store?as=vip")).status == 404


def test_time_zones_from_the_browser_are_checked() -> None:
    ok = parse_incoming({"text": "hi", "time_zone": "America/Argentina/Buenos_Aires"})
    assert ok.time_zone == "America/Argentina/Buenos_Aires"
    for bad in ("../../etc/passwd", "x" * 80, 5, "Europe/Paris; DROP"):
        assert parse_incoming({"text": "hi", "time_zone": bad}).time_zone is None


def test_a_throttled_sender_waits_the_whole_time_so_order_is_kept() -> None:
    now = [0.0]
    throttle = Throttle(rate_per_second=1.0, burst=1, clock=lambda: now[0])
    assert throttle.wait("a") == 0.0
    assert throttle.wait("a") == pytest.approx(1.0)  # told to wait a second
    now[0] = 0.5
    assert throttle.wait("a") == pytest.approx(0.5)  # a later message must not overtake
    now[0] = 1.0
    assert throttle.wait("a") == 0.0


class SlowRasa(FakeRasa):
    async def webhook(self, request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return await super().webhook(request)


async def test_a_socket_cannot_queue_without_limit(
    aiohttp_client: Factory, aiohttp_server: Factory, tmp_path: Path
) -> None:
    client = await make_client(aiohttp_client, aiohttp_server, SlowRasa(), tmp_path, chat_burst=1000)
    socket = await client.ws_connect("/ws/chat")
    await socket.send_json({"type": "hello"})
    await next_of(socket, "history")
    for i in range(80):
        await socket.send_json({"type": "message", "client_msg_id": f"q{i}", "text": f"hi {i}"})
    refused = [await next_of(socket, "error") for _ in range(80 - 51)]
    assert all(e["code"] == "throttled" and e["retry_after"] == 5 for e in refused)
    await socket.close()


def test_history_gives_the_latest_messages_when_there_are_many(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url)
    database = Database(url)
    with database.session() as session:
        record_replies(session, "conv-long", [{"text": f"m{i}"} for i in range(30)], "en")
    with database.session() as session:
        assert [m["text"] for m in history(session, "conv-long", 0, limit=5)] == [
            f"m{i}" for i in range(25, 30)
        ]
    database.dispose()
