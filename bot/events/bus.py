"""The event bus: every live push is published here and reaches its sockets from here.

Publishers (chat, console, the escalation watcher) call ``publish(event)`` and
never wait for a socket; each open socket holds one subscription to its topics
(``bot.events.kinds.STAFF`` or a conversation's topic) and delivers what comes
out of it. ``EventBus`` is the interface; :class:`LocalBus` is the in-process
implementation the web service uses by default (one worker). A Redis pub/sub
implementation of the same interface carries the events between workers (#14),
as JSON (``kinds.encode``/``kinds.decode``), without a change to any caller.

What every implementation promises:

- **Order**: a subscriber receives the events of a topic in the order they were
  published (by one publisher: with Redis, one connection), so a conversation's
  pushes never overtake each other.
- **Nobody waits for a slow subscriber**: ``publish`` hands the event to every
  subscriber's own bounded buffer and returns; a subscriber that does not read
  holds up no publisher and no other subscriber.
- **Overflow ends the subscription, it never drops silently**: a subscriber that
  falls ``limit`` events behind is cut off; its buffered events are discarded and
  its iteration raises :class:`Overflow`. Its owner (a socket) then closes the
  connection, and the client reconnects and reads what it missed from the
  conversation log, where everything pushed is stored. This is what Redis itself
  does to a pub/sub client past its output-buffer limit, so both behave alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from typing import Protocol

from bot.events.kinds import Event

logger = logging.getLogger(__name__)

#: Events a subscriber may fall behind by before it is cut off (see Overflow). A
#: console that is this far behind is stuck (a dead network): it resynchronises.
DEFAULT_LIMIT = 256


class Overflow(Exception):
    """Raised by a subscription's iteration once it fell too far behind and was cut off."""


class Subscription(Protocol):
    """The events of some topics, in publication order, until closed."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None:
        """Stop receiving: the iteration ends, buffered events are dropped."""
        ...


class EventBus(Protocol):
    """Where pushes are published and subscribed to (see the module's promises)."""

    async def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber of ``event.topic``; never waits for one."""
        ...

    async def subscribe(self, *topics: str, limit: int = DEFAULT_LIMIT) -> Subscription:
        """A subscription to ``topics``, receiving from the moment this returns."""
        ...

    async def close(self) -> None:
        """End every subscription (shutdown)."""
        ...


class LocalSubscription:
    """One subscriber of a :class:`LocalBus`: its own buffer of at most ``limit`` events."""

    def __init__(self, bus: LocalBus, topics: tuple[str, ...], limit: int) -> None:
        self.bus = bus
        self.topics = topics
        self.limit = limit
        self.closed = False
        #: Cut off for falling behind (the iteration raises Overflow).
        self.overflowed = False
        self._pending: deque[Event] = deque()
        self._wake = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Buffer ``event`` (the bus calls this); cut the subscriber off when it is full."""
        if self.closed:
            return
        if len(self._pending) >= self.limit:
            logger.warning("A subscriber of %s fell %d events behind: cut off", self.topics, self.limit)
            self.overflowed = True
            self.end()
            return
        self._pending.append(event)
        self._wake.set()

    def end(self) -> None:
        """Closed, or cut off: nothing more is buffered or delivered."""
        self.closed = True
        self._pending.clear()
        self.bus.detach(self)
        self._wake.set()

    async def close(self) -> None:
        self.end()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self.overflowed:
                raise Overflow(f"fell {self.limit} events behind on {', '.join(self.topics)}")
            if self.closed:
                raise StopAsyncIteration
            if self._pending:
                return self._pending.popleft()
            self._wake.clear()
            await self._wake.wait()


class LocalBus:
    """The bus within one process: ``publish`` copies the event into each subscriber's
    buffer at once (no task, no lock), so publication order is delivery order."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, dict[LocalSubscription, None]] = defaultdict(dict)
        self.closed = False

    async def publish(self, event: Event) -> None:
        for subscription in list(self._subscribers.get(event.topic, ())):
            subscription.offer(event)

    async def subscribe(self, *topics: str, limit: int = DEFAULT_LIMIT) -> LocalSubscription:
        subscription = LocalSubscription(self, topics, limit)
        if self.closed:
            subscription.closed = True  # shutting down: an iteration that ends at once
            return subscription
        for topic in topics:
            self._subscribers[topic][subscription] = None
        return subscription

    def detach(self, subscription: LocalSubscription) -> None:
        """Forget ``subscription`` (it closed): topics nobody follows are dropped, so
        the bus does not grow with every conversation ever seen."""
        for topic in subscription.topics:
            followers = self._subscribers.get(topic)
            if followers is not None:
                followers.pop(subscription, None)
                if not followers:
                    del self._subscribers[topic]

    def topics(self) -> int:
        """How many topics have subscribers (for tests and operators)."""
        return len(self._subscribers)

    async def close(self) -> None:
        self.closed = True
        for followers in list(self._subscribers.values()):
            for subscription in list(followers):
                subscription.end()
