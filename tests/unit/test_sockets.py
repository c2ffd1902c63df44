"""WebSockets refuse what they cannot use, clearly, and keep working."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType

from bot.db.database import upgrade
from bot.settings import Settings
from bot.web.app import create_app
from bot.web.chat import MAX_FRAME_BYTES

Factory = Callable[..., Awaitable[Any]]


async def client(aiohttp_client: Factory, tmp_path: Path) -> Any:
    settings = Settings(var_dir=tmp_path, knowledge_base_dir=tmp_path)
    upgrade(settings.database_url)
    return await aiohttp_client(create_app(settings))


async def test_buyer_socket_answers_junk_with_an_error_and_keeps_going(
    aiohttp_client: Factory, tmp_path: Path
) -> None:
    http = await client(aiohttp_client, tmp_path)
    socket = await http.ws_connect("/ws/chat")
    await socket.send_str("{not json")
    assert (await socket.receive_json())["type"] == "error"
    await socket.send_bytes(b"\x00\x01")
    assert (await socket.receive_json())["type"] == "error"
    await socket.send_str("ping")
    assert (await socket.receive_str()) == "pong"
    await socket.close()


async def test_an_oversize_frame_closes_the_socket_with_a_reason(
    aiohttp_client: Factory, tmp_path: Path
) -> None:
    http = await client(aiohttp_client, tmp_path)
    socket = await http.ws_connect("/ws/chat")
    await socket.send_str("x" * (MAX_FRAME_BYTES + 1))
    message = await socket.receive()
    assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert socket.close_code == 1009  # "message too big"


async def test_a_buyer_socket_needs_a_conversation(aiohttp_client: Factory, tmp_path: Path) -> None:
    http = await client(aiohttp_client, tmp_path)
    socket = await http.ws_connect("/ws/chat")
    await socket.send_json({"type": "message", "client_msg_id": "m1", "text": "hi"})
    error = await socket.receive_json()
    assert error["type"] == "error" and error["code"] == "no_hello" and error["client_msg_id"] == "m1"
    await socket.send_json({"type": "hello", "conversation_id": "../../etc"})
    assert (await socket.receive_json())["code"] == "conversation_not_yours"
    await socket.send_json({"type": "dance"})
    assert (await socket.receive_json())["code"] == "unknown_type"


async def test_the_staff_socket_needs_a_session(aiohttp_client: Factory, tmp_path: Path) -> None:
    http = await client(aiohttp_client, tmp_path)
    response = await http.get("/ws/staff")
    assert response.status == 401
