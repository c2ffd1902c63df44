"""What the web service's parts share: typed app keys and small helpers.

Kept apart from app.py so that the chat, admin and console modules can use
them without importing each other.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from aiohttp import ClientSession, web

from bot.db.database import Database
from bot.languages import language_from_locale
from bot.responses import Catalogue
from bot.settings import Settings
from bot.web.live import Hub
from bot.web.messages import IncomingMessage
from bot.web.throttle import Throttle


class ConversationLanguages:
    """The language each recent conversation is in, as the assistant last answered.

    Learnt from Rasa's NLG requests (which carry the ``language`` slot) and sent
    back with the buyer's next message as the prior for short messages. Bounded:
    the oldest conversations are forgotten first (then the browser locale
    stands in until the assistant answers again).
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._languages: OrderedDict[str, str] = OrderedDict()

    def get(self, conversation_id: str) -> str | None:
        language = self._languages.get(conversation_id)
        if language is not None:
            self._languages.move_to_end(conversation_id)
        return language

    def set(self, conversation_id: str, language: str) -> None:
        self._languages[conversation_id] = language
        self._languages.move_to_end(conversation_id)
        while len(self._languages) > self._capacity:
            self._languages.popitem(last=False)


class RateLimit(Protocol):
    """A per-key rate limit (bot/web/throttle.py's token buckets in one process; with
    several web workers, a Redis implementation of the same method takes its place)."""

    def wait(self, key: str) -> float:
        """0.0 if ``key`` may go now (and count it), else the seconds to wait."""
        ...


class ConnectionCap:
    """How many chat sockets each client address holds open, refused beyond ``limit``.

    One process's count; with several web workers a Redis counter with the same
    two methods replaces it (the per-worker cap is then a bound, not the total).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: defaultdict[str, int] = defaultdict(int)

    def acquire(self, address: str) -> bool:
        """Count one more socket from ``address``; False (nothing counted) when it has ``limit``."""
        if self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]  # no growth with every address ever seen


class ConversationLocks:
    """One lock per conversation with work in progress, so a conversation's messages are
    handled one after the other in arrival order (two tabs, a retry, HTTP and WebSocket at
    once) and their replies cannot interleave. Across web workers, Rasa's lock store
    orders a conversation's turns and the log's claim stops a message being asked twice."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users <= 1:
                del self._locks[conversation_id]  # forgotten when idle
            else:
                self._locks[conversation_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


#: The pages and scripts the web service serves.
STATIC_DIR = Path(__file__).resolve().parent / "static"

SETTINGS = web.AppKey("settings", Settings)
CATALOGUE = web.AppKey("catalogue", Catalogue)
LANGUAGES = web.AppKey("languages", ConversationLanguages)
RASA_SESSION = web.AppKey("rasa_session", ClientSession)
DATABASE = web.AppKey("database", Database)
HUB = web.AppKey("hub", Hub)
THROTTLE = web.AppKey("throttle", Throttle)
ADDRESS_THROTTLE = web.AppKey("address_throttle", Throttle)
#: Hellos and history reads per client address.
READ_THROTTLE = web.AppKey("read_throttle", RateLimit)
#: Open chat sockets per client address.
CHAT_SOCKETS = web.AppKey("chat_sockets", ConnectionCap)
CONVERSATION_LOCKS = web.AppKey("conversation_locks", ConversationLocks)


def first_language(app: web.Application, message: IncomingMessage | None, accept_language: str | None) -> str:
    """The language to answer in before Rasa has said: conversation, then locale, then
    the browser's Accept-Language, then the store's default."""
    if message is not None:
        known = app[LANGUAGES].get(message.conversation_id) or language_from_locale(message.locale)
        if known:
            return known
    return language_from_locale(accept_language) or app[SETTINGS].default_language


@cache
def static_file(name: str) -> bytes:
    """A file of STATIC_DIR, read once: the widget and the store page are served on
    every page view of every store."""
    return (STATIC_DIR / name).read_bytes()


def client_address(request: web.Request) -> str:
    """The buyer's address: the connection's, or behind a trusted proxy the last
    X-Forwarded-For entry (the one the proxy itself added)."""
    if request.app[SETTINGS].trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote or ""


def say(app: web.Application, name: str, language: str, **values: Any) -> dict[str, Any]:
    """A response from the catalogue, filled with the store's details."""
    settings = app[SETTINGS]
    filled = {"store_name": settings.store_name, "support_email": settings.support_email, **values}
    return app[CATALOGUE].render(name, language, filled) or {"text": name}


def error_response(status: int, code: str, detail: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "detail": detail, **extra}}, status=status)


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it exceeds ``limit`` bytes.

    (``request.content.read(n)`` returns whatever has arrived so far, not n bytes.)
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(65536):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
