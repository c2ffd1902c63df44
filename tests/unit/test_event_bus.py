"""The event bus (bot/events): order, bounded buffers, overflow, and the wire form.

These hold for the in-process bus here and are what a Redis implementation (#14)
must promise too: the same tests can run against it.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot.events import (
    STAFF,
    Audience,
    BotMessage,
    BuyerMessage,
    ConversationBound,
    EscalationOpened,
    EscalationOverdue,
    Event,
    Exchange,
    LocalBus,
    Overflow,
    PersonJoined,
    QueueChanged,
    StaffMessage,
    Typing,
    conversation_topic,
    decode,
    encode,
)
from bot.web.live import Hub, Listener, staff_frames

EVERY_KIND: list[Event] = [
    EscalationOpened({"id": 1, "status": "queued"}, Audience("queued", None, None)),
    EscalationOverdue({"id": 2, "seconds_left": -1}, Audience("claimed", 4, 7)),
    QueueChanged(),
    BuyerMessage(3, "c-1", "¿dónde está mi pedido?", 41),
    StaffMessage("c-1", "مرحبا", "Ann Agent", 42),
    PersonJoined("c-1", {"id": 43, "sender": "system", "text": "Ann joined"}, "Ann Agent"),
    BotMessage("c-1", {"id": 44, "sender": "bot", "text": "Rate us", "buttons": [{"title": "5"}]}),
    Typing("c-1", "Ann Agent"),
    Exchange("c-1", [{"id": 45, "sender": "buyer", "text": "hi"}], "origin-1"),
    ConversationBound("c-1", "customer-9"),
]


async def drain(subscription: Any, count: int) -> list[Event]:
    got: list[Event] = []
    async for event in subscription:
        got.append(event)
        if len(got) == count:
            break
    return got


async def test_each_subscriber_gets_a_conversations_events_in_publication_order() -> None:
    bus = LocalBus()
    first = await bus.subscribe(conversation_topic("a"))
    second = await bus.subscribe(conversation_topic("a"))
    other = await bus.subscribe(conversation_topic("b"))
    for n in range(100):
        await bus.publish(StaffMessage("a", f"a{n}"))
        await bus.publish(StaffMessage("b", f"b{n}"))
    for subscription in (first, second):
        texts = [e.text for e in await drain(subscription, 100)]  # type: ignore[attr-defined]
        assert texts == [f"a{n}" for n in range(100)]
    assert [e.text for e in await drain(other, 100)] == [f"b{n}" for n in range(100)]  # type: ignore[attr-defined]


async def test_one_subscriber_of_several_topics_gets_them_in_publication_order() -> None:
    bus = LocalBus()
    both = await bus.subscribe(STAFF, conversation_topic("a"))
    published: list[Event] = [
        QueueChanged(),
        Typing("a", "Ann"),
        BuyerMessage(1, "a", "x"),
        Typing("a", "Bo"),
    ]
    for event in published:
        await bus.publish(event)
    assert await drain(both, 4) == published


async def test_a_subscriber_hears_only_what_comes_after_it_subscribed() -> None:
    bus = LocalBus()
    await bus.publish(QueueChanged())
    late = await bus.subscribe(STAFF)
    await bus.publish(Typing("a"))  # another topic
    await bus.publish(BuyerMessage(1, "a", "after"))
    assert await drain(late, 1) == [BuyerMessage(1, "a", "after")]


async def test_a_slow_subscriber_blocks_nobody_and_is_cut_off_when_its_buffer_overflows() -> None:
    """A subscriber that does not read holds up neither publishers nor other subscribers;
    once ``limit`` events wait for it, it is cut off: buffer dropped, Overflow raised
    (its socket then closes and the client reads the log), the bus forgets it."""
    bus = LocalBus()
    slow = await bus.subscribe(STAFF, limit=5)
    fast = await bus.subscribe(STAFF)
    received: list[Event] = []

    async def read() -> None:
        async for event in fast:
            received.append(event)

    reader = asyncio.create_task(read())
    started = time.monotonic()
    for n in range(200):
        await bus.publish(BuyerMessage(n, "c", str(n)))
        await asyncio.sleep(0)  # let the fast reader run, as a live server would
    assert time.monotonic() - started < 1.0  # nobody waited for the slow one
    await asyncio.sleep(0)
    assert [e.escalation_id for e in received] == list(range(200))  # type: ignore[attr-defined]

    assert slow.overflowed and slow.closed
    with pytest.raises(Overflow):
        await slow.__anext__()  # not even the 5 it held: it must resynchronise
    await bus.publish(QueueChanged())  # the bus no longer offers it anything
    await asyncio.sleep(0)
    assert received[-1] == QueueChanged()
    await fast.close()
    await reader
    assert bus.topics() == 0


async def test_exactly_limit_waiting_events_are_kept() -> None:
    bus = LocalBus()
    subscription = await bus.subscribe(STAFF, limit=3)
    for n in range(3):
        await bus.publish(BuyerMessage(n, "c", "t"))
    assert not subscription.overflowed
    assert [e.escalation_id for e in await drain(subscription, 3)] == [0, 1, 2]  # type: ignore[attr-defined]


async def test_closing_ends_the_iteration_and_forgets_the_topic() -> None:
    bus = LocalBus()
    subscription = await bus.subscribe(conversation_topic("gone"))
    waiting = asyncio.create_task(drain(subscription, 1))
    await asyncio.sleep(0)
    await subscription.close()
    assert await waiting == []  # ended, not raised
    assert bus.topics() == 0  # no growth with every conversation ever followed


async def test_closing_the_bus_ends_every_subscription_and_later_ones_at_once() -> None:
    bus = LocalBus()
    subscriptions = [await bus.subscribe(STAFF), await bus.subscribe(conversation_topic("a"))]
    waiting = [asyncio.create_task(drain(s, 1)) for s in subscriptions]
    await asyncio.sleep(0)
    await bus.close()
    assert [await w for w in waiting] == [[], []]
    assert await drain(await bus.subscribe(STAFF), 1) == []


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: e.kind)
def test_every_event_crosses_a_process_boundary_as_json(event: Event) -> None:
    """What a Redis bus sends: JSON that decodes to an equal event, on the same topic."""
    again = decode(json.loads(json.dumps(encode(event))))
    assert again == event and type(again) is type(event) and again.topic == event.topic


def test_unknown_or_malformed_wire_events_are_refused() -> None:
    with pytest.raises(ValueError):
        decode({"kind": "teleport"})
    with pytest.raises(ValueError):
        decode({"kind": "typing", "nonsense": 1})


def test_frames_are_what_the_widget_and_the_console_read() -> None:
    assert StaffMessage("c", "hi", "Ann", 7).frame() == {
        "type": "staff_message",
        "id": 7,
        "sender": "staff",
        "text": "hi",
        "agent": "Ann",
    }
    assert PersonJoined("c", {"id": 1, "text": "Ann joined"}, "Ann").frame() == {
        "type": "person_joined",
        "id": 1,
        "text": "Ann joined",
        "agent": "Ann",
    }
    assert Typing("c", "Ann").frame() == {"type": "typing", "who": "person", "agent": "Ann"}
    assert Exchange("c", [{"id": 1}], "me").frame() == {"type": "messages", "messages": [{"id": 1}]}
    assert BuyerMessage(3, "c", "x", 9).frame() == {
        "type": "buyer_message",
        "escalation_id": 3,
        "conversation_id": "c",
        "text": "x",
        "message_id": 9,
    }


def test_a_console_hears_escalation_news_only_where_it_sees_the_escalation() -> None:
    """bot.service.escalations.sees, applied at delivery to the audience the news carries."""
    for_agent_7 = staff_frames(7)
    general = EscalationOpened({"id": 1}, Audience("queued", None, None))
    routed_elsewhere = EscalationOpened({"id": 2}, Audience("queued", 8, None))
    routed_here = EscalationOverdue({"id": 3}, Audience("queued", 7, None))
    claimed_by_other = EscalationOverdue({"id": 4}, Audience("claimed", None, 8))
    assert for_agent_7(general) == {"type": "escalation", "escalation": {"id": 1}}
    assert for_agent_7(routed_elsewhere) is None
    assert for_agent_7(routed_here) == {"type": "overdue", "escalation": {"id": 3}}
    assert for_agent_7(claimed_by_other) is None
    assert for_agent_7(QueueChanged()) == {"type": "queue_changed"}
    assert for_agent_7(Typing("c", "Ann")) is None  # a buyer's push is not a console's


class SlowSocket:
    """Stands in for a WebSocket whose peer reads slowly (each frame takes ``pause``)."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self.frames: list[dict[str, Any]] = []
        self.closed = False
        self.prepared = True
        self.close_code: int | None = None

    async def send_json(self, frame: dict[str, Any]) -> None:
        await asyncio.sleep(self.pause)
        self.frames.append(frame)

    async def close(self, code: int, message: bytes = b"") -> None:
        self.closed, self.close_code = True, code


async def test_a_socket_that_falls_behind_is_closed_to_reconnect_and_others_get_everything() -> None:
    bus = LocalBus()
    hub = Hub(bus)
    slow_socket, fast_socket = SlowSocket(0.05), SlowSocket(0.0)
    slow = Listener(hub, slow_socket, await bus.subscribe(STAFF, limit=5), staff_frames(1))  # type: ignore[arg-type]
    fast = Listener(hub, fast_socket, await bus.subscribe(STAFF), staff_frames(1))  # type: ignore[arg-type]
    slow.start()
    fast.start()
    for n in range(30):
        await bus.publish(BuyerMessage(n, "c", str(n)))
    deadline = time.monotonic() + 5
    while not (slow_socket.closed and len(fast_socket.frames) == 30) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert slow_socket.close_code == 1013  # "try again later": the console reconnects and reloads
    assert len(slow_socket.frames) < 30
    assert [f["escalation_id"] for f in fast_socket.frames] == list(range(30))
    await fast.stop()
    assert len(hub) == 0 and bus.topics() == 0
