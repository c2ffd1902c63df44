"""Live connections: buyers' chat windows and staff consoles, over WebSocket.

Every push goes through the event bus (bot/events): publishers call
``app[BUS].publish(event)``; each open socket holds a :class:`Listener`, its own
subscription and a task that turns what it hears into frames, after a rule of who
may see what that the socket's handler gives (``staff_frames`` for consoles, the
buyer socket's own in bot/web/chat.py). The :class:`Hub` keeps this worker's
listeners and closes their sockets on shutdown. A push to a socket that has gone
away is dropped quietly, and a socket that falls too far behind is closed (the
bus's Overflow): everything pushed is also in the conversation log, where a
reconnecting client finds it.

Escalations are opened by the action server, another process, which only writes
the database: ``EscalationWatcher`` reads what is new from there and publishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import WSCloseCode, web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.database import Database
from bot.db.models import Escalation
from bot.db.types import utcnow
from bot.events import (
    Audience,
    BotMessage,
    BuyerPush,
    EscalationOpened,
    EscalationOverdue,
    Event,
    EventBus,
    Exchange,
    Overflow,
    PersonJoined,
    QueueChanged,
    StaffEvent,
    StaffMessage,
    Subscription,
    Typing,
)
from bot.service.escalations import OPEN, sees

logger = logging.getLogger(__name__)

#: The web service's event bus (bot/events: in-process by default).
BUS = web.AppKey("bus", EventBus)
#: A listener's rule: the frame ``event`` is shown to its socket as, or None (not for it).
Frames = Callable[[Event], dict[str, Any] | None]


class Stop(Exception):
    """Raised by a listener's rule: send ``frame`` (if any), then hear nothing more."""

    def __init__(self, frame: dict[str, Any] | None = None) -> None:
        super().__init__("listener stopped")
        self.frame = frame


async def send(socket: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    """Send ``frame``; a socket that has gone away is skipped (the log has it all)."""
    if socket.closed:
        return
    try:
        await socket.send_json(frame)
    except (ConnectionError, RuntimeError) as error:
        logger.info("Dropped a push to a closed socket: %s", error)


class Listener:
    """One socket's subscription, delivered in order by a task of its own, so a slow
    socket holds up nothing but itself. ``id`` names it in events it should not hear
    back (``Exchange.origin``). A socket that falls the bus's limit behind is closed with
    1013 (try again later); one whose peer stopped reading altogether blocks only its own
    send, until the socket's heartbeat (30 s) closes it, its buffer cut off meanwhile."""

    def __init__(self, hub: Hub, socket: web.WebSocketResponse, subscription: Subscription, frames: Frames):
        self.hub = hub
        self.socket = socket
        self.subscription = subscription
        self.frames = frames
        self.id = secrets.token_hex(8)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin delivering (what was published since the subscription is buffered)."""
        if self.task is None:
            self.task = asyncio.create_task(self._deliver(), name=f"listener-{self.id}")

    async def _deliver(self) -> None:
        try:
            async for event in self.subscription:
                try:
                    frame = self.frames(event)
                except Stop as stop:
                    if stop.frame is not None:
                        await send(self.socket, stop.frame)
                    return
                except Exception:  # a bug in a rule: skip the event, keep the socket live
                    logger.exception("Could not deliver a %s event", event.kind)
                    continue
                if frame is not None:
                    await send(self.socket, frame)
        except Overflow as overflow:
            # The client reconnects and reads what it missed from the log.
            logger.warning("Closing a socket that fell behind: %s", overflow)
            await self.socket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"fell behind, reconnect")
        finally:
            await self.subscription.close()
            self.hub.forget(self)

    async def stop(self) -> None:
        """Hear nothing more (the socket closed, or follows another conversation)."""
        await self.subscription.close()
        self.hub.forget(self)
        task, self.task = self.task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Hub:
    """This worker's listeners; the only place that knows which sockets are open."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self._listeners: dict[Listener, None] = {}

    async def listen(self, socket: web.WebSocketResponse, topic: str, frames: Frames) -> Listener:
        """Subscribe ``socket`` to ``topic``: from now on its events are kept for it; they
        are sent once the listener is started."""
        listener = Listener(self, socket, await self.bus.subscribe(topic), frames)
        self._listeners[listener] = None
        return listener

    def forget(self, listener: Listener) -> None:
        self._listeners.pop(listener, None)

    def __len__(self) -> int:
        return len(self._listeners)

    async def to_buyer(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """Publish a push given as its frame, for callers not moved to typed events yet
        (bot/web/staff.py's claim): publish the event itself instead."""
        await self.bus.publish(buyer_push(conversation_id, frame))

    async def to_staff(self, frame: dict[str, Any]) -> None:
        """Publish a console push given as its frame (see ``to_buyer``)."""
        if frame.get("type") != QueueChanged.kind:
            raise ValueError(f"publish a typed event for {frame.get('type')!r} pushes")
        await self.bus.publish(QueueChanged())

    async def close_all(self) -> None:
        listeners = list(self._listeners)
        for listener in listeners:
            if listener.socket.prepared:  # a socket subscribed during its handshake is not
                await listener.socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
        for listener in listeners:
            await listener.stop()


def buyer_push(conversation_id: str, frame: dict[str, Any]) -> BuyerPush:
    """The typed event a buyer frame stands for (the inverse of ``BuyerPush.frame``)."""
    kind = frame.get("type")
    rest = {k: v for k, v in frame.items() if k != "type"}
    agent = str(rest.pop("agent", "") or "")
    if kind == PersonJoined.kind:
        return PersonJoined(conversation_id, rest, agent)
    if kind == BotMessage.kind:
        return BotMessage(conversation_id, rest)
    if kind == StaffMessage.kind:
        return StaffMessage(conversation_id, str(rest.get("text", "")), agent, rest.get("id"))
    if kind == Typing.kind:
        return Typing(conversation_id, agent)
    if kind == Exchange.kind:
        return Exchange(conversation_id, list(rest.get("messages", [])))
    raise ValueError(f"no buyer push of type {kind!r}")


def staff_frames(staff_id: int) -> Frames:
    """A console's rule: staff news only, and escalation news only where
    ``bot.service.escalations.sees`` lets this staff member see the escalation (the
    queue API's rule), as it stood when the news was published."""

    def frames(event: Event) -> dict[str, Any] | None:
        if not isinstance(event, StaffEvent):
            return None
        who = event.audience()
        if who is not None and not sees(_as_escalation(who), staff_id):
            return None
        return event.frame()

    return frames


def _as_escalation(who: Audience) -> Escalation:
    """A detached row holding just what ``sees`` reads, so the rule is applied as written."""
    return Escalation(status=who.status, assigned_to_id=who.assigned_to_id, claimed_by_id=who.claimed_by_id)


def audience(escalation: Escalation) -> Audience:
    return Audience(escalation.status, escalation.assigned_to_id, escalation.claimed_by_id)


class EscalationWatcher:
    """Publishes new escalations and ones that pass their first-response target.

    Polls the database every ``interval`` seconds for escalations it has not seen
    yet and for open, unanswered ones whose ``due_at`` fell since the last poll: two
    indexed range queries, so polling often costs little, and a console hears of
    either within about ``interval``. New rows are looked for among the last
    ``window`` ids as well as above them: ids are handed out before the writer
    commits, so two escalations opened at once may become visible out of order. A
    poll that fails (the database restarting) is retried with the same cursor, so
    nothing that happened meanwhile is missed.

    Every web worker runs one. On the in-process bus each publishes to its own
    consoles only, so that holds with several workers; on a bus shared by workers
    (#14) only one of them may publish, or the action server publishes itself.
    """

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        describe: Callable[[Escalation], dict[str, Any]],
        interval: float = 0.4,
        window: int = 50,
        batch: int = 200,
    ) -> None:
        self.database = database
        self.bus = bus
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
        """One look at the database, and the events it calls for."""
        if self.last_id is None:
            await self.start()
        now = utcnow()
        new, overdue = await self.database.run(lambda: self._read(now))
        self.since = now
        self._remember(new)
        for news, escalations in ((EscalationOpened, new), (EscalationOverdue, overdue)):
            for escalation in escalations:
                await self.bus.publish(news(self.describe(escalation), audience(escalation)))

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
