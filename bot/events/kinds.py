"""What the web service pushes to open chat windows and consoles, as typed events.

Every live push is one of these dataclasses, published on the bus
(:mod:`bot.events.bus`) and turned into a WebSocket frame only where it is
delivered. They hold plain data (strings, numbers, JSON-able dicts), never a
socket or a database row, so that a bus between processes (Redis pub/sub, #14)
can carry them as JSON: :func:`encode` and :func:`decode` are that wire form.

Two kinds of topic: ``STAFF`` (what consoles hear, each console filtered by who
may see it at delivery) and one topic per conversation (what the buyer's
windows of that conversation hear).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: The consoles' topic: every staff socket subscribes to it.
STAFF = "staff"
#: The prefix of a conversation's topic (see :func:`conversation_topic`).
CONVERSATION = "conversation:"


def conversation_topic(conversation_id: str) -> str:
    """The topic the buyer's windows of ``conversation_id`` subscribe to."""
    return CONVERSATION + conversation_id


@dataclass(frozen=True)
class Audience:
    """What the who-sees-what rule (``bot.service.escalations.sees``) reads of an
    escalation, carried with its news so that each console is filtered at delivery,
    in whichever worker holds it, as it was when the news was published."""

    status: str
    assigned_to_id: int | None = None
    claimed_by_id: int | None = None


class Event:
    """One thing that happened and that someone's open socket should hear of."""

    #: The event's name on the wire (also the frame ``type`` where it has one).
    kind: ClassVar[str]

    @property
    def topic(self) -> str:
        raise NotImplementedError


class StaffEvent(Event):
    """News for the consoles."""

    @property
    def topic(self) -> str:
        return STAFF

    def audience(self) -> Audience | None:
        """Whose consoles may hear it (None: every signed-in staff member's)."""
        return None

    def frame(self) -> dict[str, Any]:
        raise NotImplementedError


class ConversationEvent(Event):
    """News for the buyer's windows of one conversation."""

    conversation_id: str

    @property
    def topic(self) -> str:
        return conversation_topic(self.conversation_id)


class BuyerPush(ConversationEvent):
    """A conversation event that every window of the conversation is shown as a frame."""

    def frame(self) -> dict[str, Any]:
        raise NotImplementedError


# --- for the consoles ---------------------------------------------------------------


@dataclass(frozen=True)
class EscalationOpened(StaffEvent):
    """A new escalation (opened by the action server, seen by the watcher)."""

    kind: ClassVar[str] = "escalation"
    #: The escalation as the staff API shows it (bot.web.staff._escalation_json).
    escalation: dict[str, Any]
    who: Audience

    def audience(self) -> Audience | None:
        return self.who

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind, "escalation": self.escalation}


@dataclass(frozen=True)
class EscalationOverdue(EscalationOpened):
    """An open escalation whose first-response target has just passed unanswered."""

    kind: ClassVar[str] = "overdue"


@dataclass(frozen=True)
class QueueChanged(StaffEvent):
    """An escalation was claimed, transferred or resolved: consoles reload their queue."""

    kind: ClassVar[str] = "queue_changed"

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True)
class BuyerMessage(StaffEvent):
    """A buyer wrote in a conversation a person has (shown if that escalation is open)."""

    kind: ClassVar[str] = "buyer_message"
    escalation_id: int
    conversation_id: str
    text: str
    message_id: int | None = None

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind, **dataclasses.asdict(self)}  # the fields are the frame's keys


# --- for the buyer's windows ---------------------------------------------------------


@dataclass(frozen=True)
class StaffMessage(BuyerPush):
    """A person's reply."""

    kind: ClassVar[str] = "staff_message"
    conversation_id: str
    text: str
    agent: str = ""
    message_id: int | None = None

    def frame(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "id": self.message_id,
            "sender": "staff",
            "text": self.text,
            "agent": self.agent,
        }


@dataclass(frozen=True)
class PersonJoined(BuyerPush):
    """A person claimed the conversation; ``message`` is the logged notice (id, text …)."""

    kind: ClassVar[str] = "person_joined"
    conversation_id: str
    message: dict[str, Any]
    agent: str = ""

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind, **self.message, "agent": self.agent}


@dataclass(frozen=True)
class BotMessage(BuyerPush):
    """The bot speaks again (after a person resolved): one logged reply."""

    kind: ClassVar[str] = "bot_message"
    conversation_id: str
    message: dict[str, Any]

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind, **self.message}


@dataclass(frozen=True)
class Typing(BuyerPush):
    """A person is writing a reply."""

    kind: ClassVar[str] = "typing"
    conversation_id: str
    agent: str = ""

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind, "who": "person", "agent": self.agent}


@dataclass(frozen=True)
class Exchange(BuyerPush):
    """A buyer message and its replies, for the conversation's other windows: the
    window it came from (``origin``, its listener's id) has them already."""

    kind: ClassVar[str] = "messages"
    conversation_id: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    origin: str | None = None

    def frame(self) -> dict[str, Any]:
        return {"type": self.kind, "messages": self.messages}


@dataclass(frozen=True)
class ConversationBound(ConversationEvent):
    """The conversation now belongs to signed-in customer ``owner``: windows that have
    not proved to be her are told so and hear nothing more of it. Not a frame of its
    own: each window decides at delivery what it means for it."""

    kind: ClassVar[str] = "conversation_bound"
    conversation_id: str
    owner: str


#: Every event class by its wire name.
KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        EscalationOpened,
        EscalationOverdue,
        QueueChanged,
        BuyerMessage,
        StaffMessage,
        PersonJoined,
        BotMessage,
        Typing,
        Exchange,
        ConversationBound,
    )
}


def encode(event: Event) -> dict[str, Any]:
    """The JSON-able form of ``event`` for a bus between processes."""
    if not dataclasses.is_dataclass(event):
        raise TypeError(f"not an event dataclass: {event!r}")
    return {"kind": event.kind, **dataclasses.asdict(event)}


def decode(data: dict[str, Any]) -> Event:
    """The event :func:`encode` gave ``data`` for; ValueError for an unknown kind or shape."""
    values = dict(data)
    cls = KINDS.get(str(values.pop("kind", "")))
    if cls is None:
        raise ValueError(f"unknown event kind in {data!r}")
    if isinstance(values.get("who"), dict):
        values["who"] = Audience(**values["who"])
    try:
        return cls(**values)
    except TypeError as error:
        raise ValueError(f"bad {cls.kind} event: {error}") from error
