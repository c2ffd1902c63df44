"""The web service against a stand-in Rasa server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import ConversationMessage
from bot.orders.tokens import sign
from bot.settings import DEV_CUSTOMER_SECRET, Settings
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]


class FakeRasa:
    """Records what the web service relays and answers like Rasa's REST channel."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/status", self.status_page)
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        if self.status != 200:
            return web.Response(status=self.status, text="boom")
        return web.json_response(
            [
                {
                    "recipient_id": body["sender"],
                    "text": f"echo: {body['message']}",
                    "buttons": [{"title": "Yes", "payload": "/affirm"}],
                }
            ]
        )

    async def status_page(self, request: web.Request) -> web.Response:
        return web.json_response({"model_file": "current.tar.gz"})


def plain(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replies without their log ids and times."""
    return [{k: v for k, v in m.items() if k in ("text", "buttons")} for m in messages]


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
async def client(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> TestClient:
    server: TestServer = await aiohttp_server(fake_rasa.app())
    settings = Settings(
        rasa_port=server.port,
        store_name="Sol Shop",
        max_message_length=2000,
        rasa_timeout_seconds=5,
        var_dir=tmp_path,
    )
    upgrade(settings.database_url)
    return await aiohttp_client(create_app(settings))


async def test_health(client: TestClient) -> None:
    response = await client.get("/health?deep=1")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "rasa": "up"}


async def test_chat_relays_to_rasa_with_conversation_and_locale(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    response = await client.post(
        "/api/chat",
        json={"conversation_id": "c1", "text": " hola ", "locale": "es-MX", "client_msg_id": "m1"},
    )
    assert response.status == 200
    body = await response.json()
    assert body["conversation_id"] == "c1"
    assert body["client_msg_id"] == "m1"
    assert body["language"] == "es"
    assert plain(body["messages"]) == [
        {"text": "echo: hola", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    ]
    assert body["messages"][0]["sender"] == "bot" and body["messages"][0]["id"] > body["message"]["id"]
    assert fake_rasa.received == [
        {
            "sender": "c1",
            "message": "hola",
            "metadata": {
                "conversation_language": None,
                "locale": "es-MX",
                "customer": None,
                "client_address": "127.0.0.1",
                "time_zone": None,
            },
        }
    ]


async def test_nlg_answers_in_the_slot_language_and_remembers_it(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    nlg = {
        "response": "utter_greet",
        "arguments": {},
        "tracker": {"sender_id": "c2", "slots": {"language": "fr"}},
        "channel": {"name": "rest"},
    }
    response = await client.post("/nlg", json=nlg)
    assert response.status == 200
    text = (await response.json())["text"]
    assert "Sol Shop" in text
    assert "Bonjour" in text or "bonjour" in text.lower()
    # The next message of c2 carries French as the conversation's language.
    await client.post("/api/chat", json={"conversation_id": "c2", "text": "ok"})
    assert fake_rasa.received[-1]["metadata"]["conversation_language"] == "fr"


async def test_nlg_language_argument_overrides_the_slot(client: TestClient) -> None:
    nlg = {
        "response": "utter_language_changed",
        "arguments": {"language": "ja"},
        "tracker": {"sender_id": "c3", "slots": {"language": "en"}},
    }
    english = await (await client.post("/nlg", json={**nlg, "arguments": {}})).json()
    japanese = await (await client.post("/nlg", json=nlg)).json()
    assert japanese["text"] != english["text"]
    assert "日本語" in japanese["text"]


async def test_nlg_buttons_and_unknown_language(client: TestClient) -> None:
    nlg = {"response": "utter_offer_human", "tracker": {"sender_id": "c4", "slots": {"language": "xx"}}}
    body = await (await client.post("/nlg", json=nlg)).json()
    assert [b["payload"] for b in body["buttons"]] == ["/affirm", "/deny"]


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"response": 5}'])
async def test_nlg_rejects_garbage(client: TestClient, body: bytes) -> None:
    response = await client.post("/nlg", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "\u200b\u200b"])
async def test_empty_messages_get_a_reply_not_an_error(
    client: TestClient, fake_rasa: FakeRasa, text: str
) -> None:
    response = await client.post("/api/chat", json={"conversation_id": "c5", "text": text, "locale": "de-DE"})
    assert response.status == 200
    body = await response.json()
    assert body["language"] == "de"
    assert body["messages"][0]["text"]
    assert fake_rasa.received == []


async def test_oversize_message_gets_a_clear_error_in_the_buyers_language(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    response = await client.post(
        "/api/chat", json={"conversation_id": "c6", "text": "a" * 10_000, "locale": "fr"}
    )
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "message_too_long"
    assert "2000" in error["detail"]
    assert error["language"] == "fr"
    assert fake_rasa.received == []


async def test_oversize_body_is_refused_before_parsing(client: TestClient) -> None:
    response = await client.post(
        "/api/chat",
        data=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json", "Accept-Language": "pt-BR"},
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b'{"conversation_id": "../x", "text": "hi"}', 400, "invalid_conversation_id"),
        (b'{"conversation_id": "c7", "text": 12}', 400, "invalid_text"),
    ],
)
async def test_malformed_requests(client: TestClient, body: bytes, status: int, code: str) -> None:
    response = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_control_characters_and_emoji_reach_rasa_cleaned(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    response = await client.post("/api/chat", json={"conversation_id": "c8", "text": "hi\x00 there 👍\u202e"})
    assert response.status == 200
    assert fake_rasa.received[-1]["message"] == "hi there 👍"


async def test_rasa_failure_is_a_503_in_the_buyers_language(client: TestClient, fake_rasa: FakeRasa) -> None:
    fake_rasa.status = 500
    response = await client.post("/api/chat", json={"conversation_id": "c9", "text": "hola", "locale": "es"})
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "assistant_unavailable"
    assert error["language"] == "es"


async def test_rasa_down_is_a_503(
    aiohttp_client: Factory, unused_tcp_port_factory: Callable[[], int], tmp_path: Path
) -> None:
    settings = Settings(rasa_port=unused_tcp_port_factory(), rasa_timeout_seconds=2, var_dir=tmp_path)
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/chat", json={"conversation_id": "c10", "text": "hello"})
    assert response.status == 503
    health = await (await client.get("/health?deep=1")).json()
    assert health["rasa"] == "down"


async def test_unknown_route_is_json(client: TestClient) -> None:
    response = await client.get("/nope")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_the_home_page_leads_to_the_demo_store(client: TestClient) -> None:
    response = await client.get("/", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/store"


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (sign("c-1002", "Ana.Garcia@example.com", 4_000_000_000, DEV_CUSTOMER_SECRET), "c-1002"),
        (sign("c-1002", "ana.garcia@example.com", 1_000_000_000, DEV_CUSTOMER_SECRET), None),  # expired
        (sign("c-1002", "ana.garcia@example.com", 4_000_000_000, "another-secret"), None),  # wrong secret
        ("bm90IGEgdG9rZW4", None),  # "not a token"
        ("", None),
    ],
)
async def test_a_customer_token_identifies_the_buyer_only_when_valid(
    client: TestClient, fake_rasa: FakeRasa, token: str, expected: str | None
) -> None:
    body = {"conversation_id": "c9", "text": "hi", "customer_token": token}
    response = await client.post("/api/chat", json=body)
    assert response.status == 200
    customer = fake_rasa.received[-1]["metadata"]["customer"]
    assert (customer or {}).get("id") == expected
    if expected:
        assert customer["email"] == "ana.garcia@example.com"


async def test_a_tampered_token_is_ignored(client: TestClient, fake_rasa: FakeRasa) -> None:
    token = sign("c-1001", "emily.carter@example.com", 4_000_000_000, DEV_CUSTOMER_SECRET)
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body["customer_id"] = "c-1002"  # someone else's account, same signature
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
    await client.post("/api/chat", json={"conversation_id": "c9", "text": "hi", "customer_token": forged})
    assert fake_rasa.received[-1]["metadata"]["customer"] is None


async def test_messages_and_replies_are_logged_and_a_retry_is_not_sent_twice(
    client: TestClient, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    body = {"conversation_id": "c-log", "text": "hola", "client_msg_id": "m1"}
    first = await (await client.post("/api/chat", json=body)).json()
    again = await (await client.post("/api/chat", json=body)).json()  # the widget retries
    assert len(fake_rasa.received) == 1  # Rasa was asked once
    assert again["messages"] == first["messages"]
    assert plain(first["messages"]) == [
        {"text": "echo: hola", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    ]
    await client.post("/api/chat", json={**body, "text": "adios", "client_msg_id": "m2"})
    database = Database(f"sqlite:///{tmp_path / 'assistant.db'}")
    with database.session() as session:
        rows = session.scalars(select(ConversationMessage).order_by(ConversationMessage.id)).all()
        assert [(m.sender, m.text) for m in rows] == [
            ("buyer", "hola"),
            ("bot", "echo: hola"),
            ("buyer", "adios"),
            ("bot", "echo: adios"),
        ]
    database.dispose()


async def test_a_message_is_logged_even_when_rasa_is_down(
    client: TestClient, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    fake_rasa.status = 500
    response = await client.post("/api/chat", json={"conversation_id": "c-down", "text": "where is my order"})
    assert response.status == 503
    database = Database(f"sqlite:///{tmp_path / 'assistant.db'}")
    with database.session() as session:
        texts = session.scalars(select(ConversationMessage.text)).all()
    database.dispose()
    assert texts == ["where is my order"]


async def test_a_retry_after_rasa_was_down_is_answered_then(client: TestClient, fake_rasa: FakeRasa) -> None:
    body = {"conversation_id": "c-retry", "text": "hola", "client_msg_id": "m1"}
    fake_rasa.status = 500
    assert (await client.post("/api/chat", json=body)).status == 503
    fake_rasa.status = 200
    reply = await (await client.post("/api/chat", json=body)).json()
    assert reply["messages"][0]["text"] == "echo: hola"


async def test_nlg_accepts_the_long_trackers_of_long_conversations(client: TestClient) -> None:
    # Rasa sends every event of the conversation with each response: after a few
    # order lookups that is far more than a chat message may be.
    events = [{"event": "slot", "name": "order_number", "value": "x" * 100, "timestamp": 1.0}] * 5000
    body = {
        "response": "utter_greet",
        "arguments": {},
        "tracker": {"slots": {"language": "de"}, "events": events},
    }
    response = await client.post("/nlg", json=body)
    assert response.status == 200, await response.text()
    assert "Demo Store" in (await response.json())["text"] or (await response.json())["text"]
