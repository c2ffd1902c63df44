"""The web service against a stand-in Rasa server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import ConversationMessage
from bot.orders.tokens import sign
from bot.settings import DEV_CUSTOMER_SECRET, Settings
from bot.web.app import MAX_NLG_BODY_BYTES, NLG_LISTENER, NLG_TOKEN_HEADER, create_app
from bot.web.context import SETTINGS
from bot.web.messages import conversation_key

Factory = Callable[..., Awaitable[Any]]
NLG_TOKEN = "unit-nlg-token-0123456789abcdef"


class FakeRasa:
    """Records what the web service relays and answers like Rasa's REST channel."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.tokens: list[str | None] = []
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/status", self.status_page)
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        self.tokens.append(request.headers.get("X-Rasa-Token"))
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
        nlg_token=NLG_TOKEN,
    )
    upgrade(settings.database_url)
    return await aiohttp_client(create_app(settings))


async def new_conversation(client: TestClient) -> dict[str, str]:
    """A conversation the service issued: its id and key, as the widget holds them."""
    body = await (await client.post("/api/chat/start", json={})).json()
    conversation = {"conversation_id": body["conversation_id"], "conversation_key": body["conversation_key"]}
    assert (await client.post("/api/chat", json={**conversation, "text": "hello"})).status == 200
    return conversation


async def language_rasa_is_told(client: TestClient, fake_rasa: FakeRasa, conversation: dict[str, str]) -> Any:
    """The conversation language the web service sends Rasa with the buyer's next message."""
    response = await client.post("/api/chat", json={**conversation, "text": "ok"})
    assert response.status == 200, await response.text()
    return fake_rasa.received[-1]["metadata"]["conversation_language"]


def cid(name: str) -> str:
    """A well-formed conversation id (the service's are 32+ url-safe characters) named ``name``."""
    return name.ljust(32, "0")


def conv(client: TestClient, name: str) -> dict[str, str]:
    """Conversation ``name`` with the key the service would have issued for it."""
    conversation_id = cid(name)
    secret = client.app[SETTINGS].conversation_secret
    return {"conversation_id": conversation_id, "conversation_key": conversation_key(secret, conversation_id)}


def nlg_url(client: TestClient, path: str = "/nlg") -> str:
    """Rasa's callback listener of the app under test (127.0.0.1, its own port)."""
    return f"http://127.0.0.1:{client.app[NLG_LISTENER].port}{path}"


async def post_nlg(
    client: TestClient, body: Any = None, data: bytes | None = None, token: str | None = NLG_TOKEN
) -> tuple[int, Any]:
    """POST to the NLG listener as Rasa does (token in a header); (status, JSON body)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[NLG_TOKEN_HEADER] = token
    async with (
        ClientSession() as session,
        session.post(nlg_url(client), json=body, data=data, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_health(client: TestClient) -> None:
    response = await client.get("/health?deep=1")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "rasa": "up"}


async def test_chat_relays_to_rasa_with_conversation_and_locale(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    response = await client.post(
        "/api/chat",
        json={**conv(client, "c1"), "text": " hola ", "locale": "es-MX", "client_msg_id": "m1"},
    )
    assert response.status == 200
    body = await response.json()
    assert body["conversation_id"] == cid("c1")
    assert body["client_msg_id"] == "m1"
    assert body["language"] == "es"
    assert plain(body["messages"]) == [
        {"text": "echo: hola", "buttons": [{"title": "Yes", "payload": "/affirm"}]}
    ]
    assert body["messages"][0]["sender"] == "bot" and body["messages"][0]["id"] > body["message"]["id"]
    assert fake_rasa.received == [
        {
            "sender": cid("c1"),
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


async def test_messages_reach_rasa_with_its_token_in_a_header(
    aiohttp_client: Factory, aiohttp_server: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    server: TestServer = await aiohttp_server(fake_rasa.app())
    settings = Settings(rasa_port=server.port, var_dir=tmp_path, rasa_token="unit-rasa-token-0123456789")
    upgrade(settings.database_url)
    client = await aiohttp_client(create_app(settings))
    assert (await client.post("/api/chat", json={**conv(client, "c-token"), "text": "hola"})).status == 200
    assert fake_rasa.tokens == ["unit-rasa-token-0123456789"]


async def test_nlg_answers_in_the_slot_language_and_remembers_it(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    conversation = await new_conversation(client)
    nlg = {
        "response": "utter_greet",
        "arguments": {},
        "slots": {"language": "fr"},
        "sender_id": conversation["conversation_id"],
        "channel": {"name": "rest"},
    }
    status, body = await post_nlg(client, nlg)
    assert status == 200
    text = body["text"]
    assert "Sol Shop" in text
    assert "Bonjour" in text or "bonjour" in text.lower()
    # The buyer's next message carries French as the conversation's language.
    assert await language_rasa_is_told(client, fake_rasa, conversation) == "fr"


async def test_nlg_language_argument_overrides_the_slot(client: TestClient) -> None:
    nlg = {
        "response": "utter_language_changed",
        "arguments": {"language": "ja"},
        "slots": {"language": "en"},
        "sender_id": "c3",
    }
    english = (await post_nlg(client, {**nlg, "arguments": {}}))[1]
    japanese = (await post_nlg(client, nlg))[1]
    assert japanese["text"] != english["text"]
    assert "日本語" in japanese["text"]


async def test_nlg_buttons_and_unknown_language(client: TestClient) -> None:
    nlg = {"response": "utter_offer_human", "sender_id": "c4", "slots": {"language": "xx"}}
    body = (await post_nlg(client, nlg))[1]
    assert [b["payload"] for b in body["buttons"]] == ["/affirm", "/deny"]


@pytest.mark.parametrize("body", [b"not json", b"[1,2]", b'{"response": 5}'])
async def test_nlg_rejects_garbage(client: TestClient, body: bytes) -> None:
    assert (await post_nlg(client, data=body))[0] == 400


def forged_arabic(conversation: dict[str, str]) -> dict[str, Any]:
    """What an attacker posts to switch someone's conversation to Arabic."""
    return {
        "response": "utter_greet",
        "arguments": {"language": "ar"},
        "sender_id": conversation["conversation_id"],
    }


async def answered_in_french(client: TestClient, conversation: dict[str, str]) -> None:
    french = {
        "response": "utter_greet",
        "slots": {"language": "fr"},
        "sender_id": conversation["conversation_id"],
    }
    assert (await post_nlg(client, french))[0] == 200


async def test_a_forged_nlg_post_on_the_public_port_is_refused_and_changes_nothing(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    # The buyer's conversation is in French (Rasa answered in French).
    victim = await new_conversation(client)
    await answered_in_french(client, victim)
    forged = forged_arabic(victim)
    # Anyone on the internet can reach the public port: /nlg is not there, token or not.
    for headers in ({}, {NLG_TOKEN_HEADER: NLG_TOKEN}):
        response = await client.post("/nlg", json=forged, headers=headers)
        assert response.status == 404
        response = await client.post(f"/nlg?token={NLG_TOKEN}", json=forged)
        assert response.status == 404
    assert await language_rasa_is_told(client, fake_rasa, victim) == "fr"


@pytest.mark.parametrize("token", [None, "", "wrong", NLG_TOKEN[:-1], NLG_TOKEN + "x"])
async def test_the_nlg_listener_refuses_callers_without_the_token(
    client: TestClient, fake_rasa: FakeRasa, token: str | None
) -> None:
    victim = await new_conversation(client)
    await answered_in_french(client, victim)
    status, body = await post_nlg(client, forged_arabic(victim), token=token)
    assert status == 401 and "text" not in body
    # Nor in the URL: the token is only ever read from the header.
    async with (
        ClientSession() as session,
        session.post(nlg_url(client), params={"token": NLG_TOKEN}, json=forged_arabic(victim)) as response,
    ):
        assert response.status == 401
    assert await language_rasa_is_told(client, fake_rasa, victim) == "fr"


async def test_without_an_nlg_token_set_nobody_gets_in(
    aiohttp_client: Factory, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(Settings(var_dir=tmp_path)))
    for token in (None, ""):
        assert (await post_nlg(client, forged_arabic({"conversation_id": "x" * 32}), token=token))[0] == 401


async def _send_head(
    client: TestClient, headers: str, body: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a connection to the NLG listener and send a request's head and part of its body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.app[NLG_LISTENER].port)
    writer.write(
        f"POST /nlg HTTP/1.1\r\nHost: 127.0.0.1\r\n{NLG_TOKEN_HEADER}: {NLG_TOKEN}\r\n"
        f"Content-Type: application/json\r\n{headers}\r\n".encode()
        + body
    )
    await writer.drain()
    return reader, writer


async def _status_of(reader: asyncio.StreamReader) -> int:
    """The status of the response, which must come while the body is still unsent."""
    line = await asyncio.wait_for(reader.readline(), timeout=5)
    return int(line.split()[1])


async def test_a_30_mb_nlg_body_is_refused_before_it_is_read(client: TestClient) -> None:
    # Declared 30 MB, 1 kB sent: the answer comes without waiting for the rest.
    reader, writer = await _send_head(client, f"Content-Length: {30 * 1024 * 1024}\r\n", b"{" * 1024)
    assert await _status_of(reader) == 413
    writer.close()
    # Chunked, length unknown: refused once the limit is passed, the rest never read.
    chunk = b"{" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_NLG_BODY_BYTES // 65536 + 1))
    reader, writer = await _send_head(client, "Transfer-Encoding: chunked\r\n", chunks)
    assert await _status_of(reader) == 413
    writer.close()
    assert client.app[NLG_LISTENER].requests == 0  # nothing was parsed


def _resident_megabytes() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _flood(port: int, body: bytes, token: str | None) -> str:
    """Send one 30 MB NLG request from another thread; what came back."""
    head = f"POST /nlg HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    head += f"{NLG_TOKEN_HEADER}: {token}\r\n\r\n" if token else "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # Refused and closed while we are still sending: what we want.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.encode())
            sock.sendall(body)
        try:
            return sock.recv(64).decode(errors="replace").split("\r\n")[0]
        except ConnectionResetError:
            return "reset"


@pytest.mark.parametrize("token", [NLG_TOKEN, "wrong"])
async def test_health_stays_fast_while_30_mb_nlg_bodies_arrive(client: TestClient, token: str) -> None:
    body = b"[" + b"1," * (15 * 1024 * 1024) + b"1]"  # 30 MB of JSON
    before = _resident_megabytes()
    loop = asyncio.get_running_loop()
    port = client.app[NLG_LISTENER].port
    floods = [loop.run_in_executor(None, _flood, port, body, token) for _ in range(3)]
    slowest = 0.0
    while not all(flood.done() for flood in floods):
        started = time.perf_counter()
        assert (await client.get("/health")).status == 200
        slowest = max(slowest, time.perf_counter() - started)
        await asyncio.sleep(0.01)
    answers = [flood.result() for flood in floods]
    expected = "HTTP/1.1 413" if token == NLG_TOKEN else "HTTP/1.1 401"
    assert all(answer.startswith(expected) or answer in ("", "reset") for answer in answers), answers
    assert client.app[NLG_LISTENER].requests == 0  # not one of them was read and parsed
    assert slowest < 0.25, f"/health took {slowest * 1000:.0f} ms"
    assert _resident_megabytes() - before < 60


@pytest.mark.parametrize("text", ["", "   ", "\x00\x01", "\u200b\u200b"])
async def test_empty_messages_get_a_reply_not_an_error(
    client: TestClient, fake_rasa: FakeRasa, text: str
) -> None:
    response = await client.post("/api/chat", json={**conv(client, "c5"), "text": text, "locale": "de-DE"})
    assert response.status == 200
    body = await response.json()
    assert body["language"] == "de"
    assert body["messages"][0]["text"]
    assert fake_rasa.received == []


async def test_oversize_message_gets_a_clear_error_in_the_buyers_language(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    response = await client.post(
        "/api/chat", json={**conv(client, "c6"), "text": "a" * 10_000, "locale": "fr"}
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
        (b'{"conversation_id": "c7000000000000000000000000000000", "text": 12}', 400, "invalid_text"),
    ],
)
async def test_malformed_requests(client: TestClient, body: bytes, status: int, code: str) -> None:
    response = await client.post("/api/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_control_characters_and_emoji_reach_rasa_cleaned(
    client: TestClient, fake_rasa: FakeRasa
) -> None:
    response = await client.post("/api/chat", json={**conv(client, "c8"), "text": "hi\x00 there 👍\u202e"})
    assert response.status == 200
    assert fake_rasa.received[-1]["message"] == "hi there 👍"


async def test_rasa_failure_is_a_503_in_the_buyers_language(client: TestClient, fake_rasa: FakeRasa) -> None:
    fake_rasa.status = 500
    response = await client.post("/api/chat", json={**conv(client, "c9"), "text": "hola", "locale": "es"})
    assert response.status == 503
    error = (await response.json())["error"]
    assert error["code"] == "assistant_unavailable"
    assert error["language"] == "es"


async def test_rasa_down_is_a_503(
    aiohttp_client: Factory, unused_tcp_port_factory: Callable[[], int], tmp_path: Path
) -> None:
    settings = Settings(rasa_port=unused_tcp_port_factory(), rasa_timeout_seconds=2, var_dir=tmp_path)
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/chat", json={**conv(client, "c10"), "text": "hello"})
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
    body = {**conv(client, "c9"), "text": "hi", "customer_token": token}
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
    await client.post("/api/chat", json={**conv(client, "c9"), "text": "hi", "customer_token": forged})
    assert fake_rasa.received[-1]["metadata"]["customer"] is None


async def test_messages_and_replies_are_logged_and_a_retry_is_not_sent_twice(
    client: TestClient, fake_rasa: FakeRasa, tmp_path: Path
) -> None:
    body = {**conv(client, "c-log"), "text": "hola", "client_msg_id": "m1"}
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
    response = await client.post("/api/chat", json={**conv(client, "c-down"), "text": "where is my order"})
    assert response.status == 503
    database = Database(f"sqlite:///{tmp_path / 'assistant.db'}")
    with database.session() as session:
        texts = session.scalars(select(ConversationMessage.text)).all()
    database.dispose()
    assert texts == ["where is my order"]


async def test_a_retry_after_rasa_was_down_is_answered_then(client: TestClient, fake_rasa: FakeRasa) -> None:
    body = {**conv(client, "c-retry"), "text": "hola", "client_msg_id": "m1"}
    fake_rasa.status = 500
    assert (await client.post("/api/chat", json=body)).status == 503
    fake_rasa.status = 200
    reply = await (await client.post("/api/chat", json=body)).json()
    assert reply["messages"][0]["text"] == "echo: hola"
