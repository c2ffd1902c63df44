"""Live connections: buyers' chat windows and staff consoles, over WebSocket.

The web service keeps the open sockets here, pushes events to them, and closes
them all on shutdown. A push to a socket that has gone away is dropped quietly:
everything pushed is also in the conversation log, where a reconnecting client
finds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from aiohttp import WSCloseCode, web

logger = logging.getLogger(__name__)


class Hub:
    def __init__(self) -> None:
        self.buyers: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.staff: dict[web.WebSocketResponse, int] = {}

    def subscribe(self, conversation_id: str, socket: web.WebSocketResponse) -> None:
        self.buyers[conversation_id].add(socket)

    def unsubscribe(self, conversation_id: str, socket: web.WebSocketResponse) -> None:
        sockets = self.buyers.get(conversation_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.buyers[conversation_id]  # no growth with every conversation ever seen

    async def send(self, socket: web.WebSocketResponse, event: dict[str, Any]) -> None:
        if socket.closed:
            return
        try:
            await socket.send_json(event)
        except (ConnectionError, RuntimeError) as error:
            logger.info("Dropped a push to a closed socket: %s", error)

    async def to_buyer(
        self, conversation_id: str, event: dict[str, Any], exclude: web.WebSocketResponse | None = None
    ) -> None:
        sockets = [s for s in self.buyers.get(conversation_id, ()) if s is not exclude]
        await asyncio.gather(*(self.send(s, event) for s in sockets))

    async def to_staff(self, event: dict[str, Any]) -> None:
        await asyncio.gather(*(self.send(s, event) for s in list(self.staff)))

    async def close_all(self) -> None:
        sockets = [*self.staff, *(s for group in self.buyers.values() for s in group)]
        for socket in sockets:
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self.buyers.clear()
        self.staff.clear()
