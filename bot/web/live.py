"""Live connections: buyers' chat windows and staff consoles, over WebSocket.

The web service keeps the open sockets here, pushes events to them, and closes
them all on shutdown. A push to a socket that has gone away is dropped quietly:
everything pushed is also in the conversation log, where a reconnecting client
finds it.

Escalations are opened by the action server, another process, which only writes
the database: ``EscalationWatcher`` reads what is new from there and tells the
consoles. Each web worker runs its own watcher for its own sockets, so it holds
with several workers too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import WSCloseCode, web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.database import Database
from bot.db.models import Escalation
from bot.db.types import utcnow
from bot.service.escalations import OPEN, sees

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

    async def to_staff_who(self, allowed: Callable[[int], bool], event: dict[str, Any]) -> None:
        """Push ``event`` to the consoles of the staff members ``allowed`` accepts (by id)."""
        sockets = [socket for socket, staff_id in list(self.staff.items()) if allowed(staff_id)]
        await asyncio.gather(*(self.send(s, event) for s in sockets))

    async def close_all(self) -> None:
        sockets = [*self.staff, *(s for group in self.buyers.values() for s in group)]
        for socket in sockets:
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        self.buyers.clear()
        self.staff.clear()


class EscalationWatcher:
    """Tells the consoles of new escalations and of ones that pass their first-response target.

    Polls the database every ``interval`` seconds for escalations it has not seen
    yet and for open, unanswered ones whose ``due_at`` fell since the last poll: two
    indexed range queries, so polling often costs little, and a console hears of
    either within about ``interval``. New rows are looked for among the last
    ``window`` ids as well as above them: ids are handed out before the writer
    commits, so two escalations opened at once may become visible out of order. A
    poll that fails (the database restarting) is retried with the same cursor, so
    nothing that happened meanwhile is missed.
    """

    def __init__(
        self,
        database: Database,
        hub: Hub,
        describe: Callable[[Escalation], dict[str, Any]],
        interval: float = 0.4,
        window: int = 50,
        batch: int = 200,
    ) -> None:
        self.database = database
        self.hub = hub
        self.describe = describe
        self.interval = interval
        self.window = window
        self.batch = batch
        self.last_id: int | None = None
        self.seen: set[int] = set()
        self.since: datetime = utcnow()

    def _recent(self, session: Session) -> Sequence[Escalation]:
        assert self.last_id is not None
        return session.scalars(
            select(Escalation)
            .where(Escalation.id > self.last_id - self.window)
            .order_by(Escalation.id)
            .limit(self.window + self.batch)
        ).all()

    def _remember(self, escalations: Sequence[Escalation]) -> None:
        self.seen.update(e.id for e in escalations)
        self.last_id = max([self.last_id or 0, *(e.id for e in escalations)])
        self.seen = {i for i in self.seen if i > self.last_id - self.window}

    def _start(self) -> None:
        with self.database.session() as session:
            self.last_id = int(session.scalar(select(func.max(Escalation.id))) or 0)
            self._remember(self._recent(session))

    async def start(self) -> None:
        """Take what is in the database now as known: only what comes later is news."""
        self.since = utcnow()
        await self.database.run(self._start)

    def _read(self, now: datetime) -> tuple[list[Escalation], list[Escalation]]:
        with self.database.session() as session:
            new = [e for e in self._recent(session) if e.id not in self.seen]
            fresh = {e.id for e in new}
            overdue = [
                e
                for e in session.scalars(
                    select(Escalation)
                    .where(
                        Escalation.status.in_(OPEN),
                        Escalation.due_at > self.since,
                        Escalation.due_at <= now,
                        Escalation.first_response_at.is_(None),
                    )
                    .order_by(Escalation.due_at, Escalation.id)
                )
                if e.id not in fresh  # pushed as new, already late
            ]
            session.expunge_all()
            return new, overdue

    async def poll(self) -> None:
        """One look at the database, and the pushes it calls for."""
        if self.last_id is None:
            await self.start()
        now = utcnow()
        new, overdue = await self.database.run(lambda: self._read(now))
        self.since = now
        self._remember(new)
        for kind, escalations in (("escalation", new), ("overdue", overdue)):
            for escalation in escalations:
                event = {"type": kind, "escalation": self.describe(escalation)}
                await self.hub.to_staff_who(functools.partial(sees, escalation), event)

    async def run(self) -> None:
        """Poll until cancelled; a failing database is logged once and retried."""
        failing = False
        while True:
            try:
                await self.poll()
                if failing:
                    logger.info("Escalation watcher: the database answers again")
                failing = False
            except Exception as error:  # the database restarting, a missing table: keep trying
                if not failing:
                    logger.warning("Escalation watcher cannot read the database: %s", error)
                failing = True
            await asyncio.sleep(max(self.interval, 2.0) if failing else self.interval)
