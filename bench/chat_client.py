"""The buyer's side of the chat protocol, as the benchmarks speak it.

Conversations are the server's (bot/web/chat.py): an HTTP client asks for one
(``POST /api/chat/start``) and a socket says hello without an id, and gets back a
new id and its key; every message, hello and history read then shows both. The
benchmarks that drive the web service (bench/orders.py, bench/handoff.py,
bench/run.py) share this one copy of that handshake instead of each keeping its
own. bench/soak.py has its own, richer client (retries, faults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import requests


@dataclass
class Conversation:
    """A conversation as a buyer's widget knows it: nothing until the server issues it."""

    id: str | None = None
    key: str | None = None

    def fields(self) -> dict[str, str]:
        """What a message or hello carries: nothing for a new conversation, else id and key."""
        if self.id is None:
            return {}
        return {"conversation_id": self.id, "conversation_key": self.key or ""}

    def adopt(self, body: object) -> None:
        """Take the id and key the server issued (a reply or history event of a first contact)."""
        if self.id is None and isinstance(body, dict) and isinstance(body.get("conversation_id"), str):
            self.id = body["conversation_id"]
            self.key = body.get("conversation_key")
            if not isinstance(self.key, str):
                raise RuntimeError(f"the server issued conversation {self.id} without a key")


def start(base: str, timeout: float = 30) -> Conversation:
    """A new conversation from ``POST /api/chat/start``. Where the service has no such
    route (404/405: the first message without an id is issued one instead), an empty
    conversation, which :func:`post` then fills from the first reply."""
    response = requests.post(f"{base}/api/chat/start", json={}, timeout=timeout)
    conversation = Conversation()
    if response.status_code in (404, 405):
        return conversation
    if response.status_code != 200:
        raise RuntimeError(f"no conversation issued: HTTP {response.status_code} {response.text[:300]}")
    conversation.adopt(response.json())
    return conversation


def post(
    base: str, conversation: Conversation, body: dict[str, Any], timeout: float = 60
) -> requests.Response:
    """``POST /api/chat`` one message in ``conversation``; a conversation without an id
    yet is started first (:func:`start`), and takes the id and key its reply may carry."""
    if conversation.id is None:
        issued = start(base)
        conversation.id, conversation.key = issued.id, issued.key
    response = requests.post(f"{base}/api/chat", json={**body, **conversation.fields()}, timeout=timeout)
    if response.status_code == 200:
        conversation.adopt(response.json())
    return response


async def open_window(
    session: aiohttp.ClientSession, base: str, conversation: Conversation | None = None
) -> tuple[aiohttp.ClientWebSocketResponse, Conversation]:
    """Connect to ``/ws/chat`` and say hello, as the widget does when it opens: a new
    conversation when none is given (its id and key come back in the history event)."""
    conversation = conversation or Conversation()
    socket = await session.ws_connect(f"{base}/ws/chat")
    await socket.send_json({"type": "hello", "after": 0, **conversation.fields()})
    while True:
        event = await socket.receive_json(timeout=30)
        if event.get("type") == "history":
            conversation.adopt(event)
            return socket, conversation
        if event.get("type") == "error":
            await socket.close()
            raise RuntimeError(f"hello refused: {event.get('code')} {event.get('detail')}")
