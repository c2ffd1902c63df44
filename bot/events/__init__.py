"""One event bus for every live push (issue #13, item 4).

``kinds`` holds the typed events and their JSON wire form; ``bus`` the
``EventBus`` interface and its in-process implementation. Importing this package
does nothing but define them: no connection, no task.
"""

from bot.events.bus import DEFAULT_LIMIT, EventBus, LocalBus, LocalSubscription, Overflow, Subscription
from bot.events.kinds import (
    STAFF,
    Audience,
    BotMessage,
    BuyerMessage,
    BuyerPush,
    ConversationBound,
    ConversationEvent,
    EscalationOpened,
    EscalationOverdue,
    Event,
    Exchange,
    PersonJoined,
    QueueChanged,
    StaffEvent,
    StaffMessage,
    Typing,
    conversation_topic,
    decode,
    encode,
)

__all__ = [
    "DEFAULT_LIMIT",
    "STAFF",
    "Audience",
    "BotMessage",
    "BuyerMessage",
    "BuyerPush",
    "ConversationBound",
    "ConversationEvent",
    "EscalationOpened",
    "EscalationOverdue",
    "Event",
    "EventBus",
    "Exchange",
    "LocalBus",
    "LocalSubscription",
    "Overflow",
    "PersonJoined",
    "QueueChanged",
    "StaffEvent",
    "StaffMessage",
    "Subscription",
    "Typing",
    "conversation_topic",
    "decode",
    "encode",
]
