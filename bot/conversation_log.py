"""The conversation log: every buyer message and every reply, in the database.

The web service writes it as messages pass through, so what a buyer wrote is
kept even when Rasa or the action server is down. A buyer message carries the
widget's ``client_msg_id``; the same id sent again (a retry after a network
loss, or the same outbox in two tabs) is recognised, and the replies already
given are returned instead of asking the assistant twice.

The unique key on ``(conversation_id, client_msg_id)`` is the claim: the copy
whose insert succeeds is the one sent to the assistant, and the row's ``state``
says how far it got (``pending`` → ``answered``, or ``failed`` when the
assistant was unavailable, which a retry may claim again). Because the claim
is a row in the shared database, it holds across web workers as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db.models import Conversation, ConversationMessage, Customer, Escalation
from bot.db.types import utcnow


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id)
        session.add(conversation)
        session.flush()
    return conversation


def as_shown(message: ConversationMessage) -> dict[str, Any]:
    """A logged message as the widget shows it: id, sender, text and its extras
    (buttons, the agent's name, the button title a payload was sent with)."""
    shown: dict[str, Any] = {"id": message.id, "sender": message.sender, "text": message.text}
    shown.update(message.data or {})
    if message.client_msg_id:
        shown["client_msg_id"] = message.client_msg_id
    if message.sender == "buyer" and shown.get("shown"):
        shown["text"] = shown.pop("shown")  # "★★★★★", not '/give_rating{"rating": "5"}'
    shown["at"] = message.created_at.isoformat()
    return shown


def replies_to(session: Session, message: ConversationMessage) -> list[dict[str, Any]]:
    """The replies the assistant gave to this buyer message, as shown."""
    if message.state is None:  # logged before replies were linked to their message
        later = session.scalars(
            select(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == message.conversation_id,
                ConversationMessage.id > message.id,
            )
            .order_by(ConversationMessage.id)
        )
        replies = []
        for reply in later:
            if reply.sender == "buyer":
                break
            replies.append(as_shown(reply))
        return replies
    return [
        as_shown(reply)
        for reply in session.scalars(
            select(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == message.conversation_id,
                ConversationMessage.reply_to_id == message.id,
            )
            .order_by(ConversationMessage.id)
        )
    ]


@dataclass
class Turn:
    """What the web service learns in one database round trip when a buyer message arrives."""

    #: The stored message, as shown (for a retry: its first copy).
    message: dict[str, Any] | None = None
    #: The log id of the buyer message this request now holds the claim of: it must be
    #: answered (then :func:`record_replies` with ``reply_to``) or :func:`mark_failed`.
    claimed_id: int | None = None
    #: For a retry of a message answered already: the replies it got.
    earlier_replies: list[dict[str, Any]] | None = None
    #: For a retry whose first copy is still being answered (by this or another worker):
    #: its log id, to wait for (:func:`claim_outcome`).
    in_flight_id: int | None = None
    #: The escalation a person has claimed for this conversation, if any.
    escalation_id: int | None = None
    #: The conversation belongs to another customer than the one writing.
    other_customer: bool = False
    #: This message bound an anonymous conversation to the signed-in customer.
    bound_now: bool = False


@dataclass(frozen=True)
class _TurnStatements:
    """begin_turn's statements, built once per SQL dialect with bound parameters:
    building SQLAlchemy expressions costs more than running them on SQLite."""

    owner: Any
    customer: Any
    new_conversation: Any
    touch: Any
    bind_customer: Any
    message: Any
    claimed: Any
    reclaim: Any


@cache
def _turn_statements(dialect: str) -> _TurnStatements:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    conversation: Any = bindparam("conversation_id")
    return _TurnStatements(
        owner=select(Conversation.customer_id, Customer.external_id)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .where(Conversation.id == conversation),
        customer=select(Customer.id).where(Customer.external_id == bindparam("external_id")),
        new_conversation=insert(Conversation)
        .values(
            id=conversation,
            customer_id=bindparam("customer_id"),
            started_at=bindparam("now"),
            last_message_at=bindparam("now"),
        )
        .on_conflict_do_nothing(),
        touch=update(Conversation)
        .where(Conversation.id == conversation)
        .values(last_message_at=bindparam("now")),
        bind_customer=update(Conversation)
        .where(Conversation.id == conversation)
        .values(customer_id=bindparam("customer_id")),
        message=insert(ConversationMessage)
        .values(
            conversation_id=conversation,
            sender="buyer",
            text=bindparam("text"),
            client_msg_id=bindparam("client_msg_id"),
            data=bindparam("data", type_=ConversationMessage.__table__.c.data.type),
            created_at=bindparam("now"),
            state=bindparam("state"),
            claimed_at=bindparam("now"),
        )
        .on_conflict_do_nothing()
        .returning(ConversationMessage.id),
        claimed=select(Escalation.id).where(
            Escalation.conversation_id == conversation, Escalation.status == "claimed"
        ),
        # Compare-and-set: of two copies retrying at once, one takes the claim.
        reclaim=update(ConversationMessage)
        .where(
            ConversationMessage.id == bindparam("message_id"),
            or_(
                ConversationMessage.state == "failed",
                (ConversationMessage.state == "pending")
                & (ConversationMessage.claimed_at < bindparam("stale_before")),
            ),
        )
        .values(state="pending", claimed_at=bindparam("now")),
    )


def begin_turn(
    session: Session,
    conversation_id: str,
    text: str,
    client_msg_id: str | None,
    customer_external_id: str | None,
    shown: str | None = None,
    stale_after: float = 60.0,
) -> Turn:
    """Store a buyer message, claim it and say where it goes, in one session.

    This is every buyer message's path, so it runs prepared SQL expressions
    rather than the ORM. A retried ``client_msg_id`` is recognised by the unique
    key: answered already, its replies come back; still pending, the caller
    waits for it (``in_flight_id``); failed (or pending for longer than
    ``stale_after`` seconds: its worker died), the retry claims it again. A
    conversation started by a signed-in customer only takes messages from that
    customer, so nobody else can continue it and read their orders.
    """
    db = session.connection()  # Core, not the ORM: a third of the work per statement
    sql = _turn_statements(db.dialect.name)
    ids = {"conversation_id": conversation_id}
    known = db.execute(sql.owner, ids).first()
    if known is not None and known.customer_id is not None and known.external_id != customer_external_id:
        return Turn(other_customer=True)
    now = utcnow()
    binds = customer_external_id is not None and (known is None or known.customer_id is None)
    customer_id = db.scalar(sql.customer, {"external_id": customer_external_id}) if binds else None
    if known is None:
        db.execute(sql.new_conversation, {**ids, "customer_id": customer_id, "now": now})
    else:
        db.execute(sql.touch, {**ids, "now": now})
        if customer_id is not None:
            db.execute(sql.bind_customer, {**ids, "customer_id": customer_id})
    turn = Turn(bound_now=customer_id is not None)
    turn.escalation_id = db.scalar(sql.claimed, ids)
    # A message to a person is answered by being delivered; one for the bot waits for it.
    state = "answered" if turn.escalation_id is not None else "pending"
    data = {"shown": shown} if shown and shown != text else None
    new_id = db.scalar(
        sql.message,
        {**ids, "text": text, "client_msg_id": client_msg_id, "data": data, "now": now, "state": state},
    )
    if new_id is not None:
        turn.message = {
            "id": new_id,
            "sender": "buyer",
            "text": shown if data else text,
            "at": now.isoformat(),
        }
        if client_msg_id:
            turn.message["client_msg_id"] = client_msg_id
        turn.claimed_id = new_id if state == "pending" else None
        return turn
    # This client_msg_id is stored already: a retry, or a copy from another tab.
    first = _by_client_msg_id(session, conversation_id, client_msg_id or "")
    turn.message = as_shown(first)
    if first.state in (None, "answered"):
        turn.earlier_replies = replies_to(session, first)
        return turn
    stale_before = now - timedelta(seconds=stale_after)
    taken = db.execute(sql.reclaim, {"message_id": first.id, "stale_before": stale_before, "now": now})
    if taken.rowcount == 1:
        if turn.escalation_id is not None:
            _set_state(session, first.id, "answered")
        else:
            turn.claimed_id = first.id
        return turn
    turn.in_flight_id = first.id
    return turn


def _by_client_msg_id(session: Session, conversation_id: str, client_msg_id: str) -> ConversationMessage:
    return session.scalars(
        select(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.client_msg_id == client_msg_id,
        )
    ).one()


def _set_state(session: Session, message_id: int, state: str) -> None:
    session.execute(
        update(ConversationMessage).where(ConversationMessage.id == message_id).values(state=state)
    )


def mark_failed(session: Session, message_id: int) -> None:
    """The assistant did not answer this message: a retry of it must be answered, not
    dropped as a duplicate."""
    session.execute(
        update(ConversationMessage)
        .where(ConversationMessage.id == message_id, ConversationMessage.state == "pending")
        .values(state="failed")
    )


@dataclass
class ClaimOutcome:
    """How far another copy of a message has got: ``state`` and, once answered, its replies."""

    state: str | None
    replies: list[dict[str, Any]] | None = None
    claimed_at: datetime | None = None


def claim_outcome(session: Session, message_id: int) -> ClaimOutcome:
    """Where the message another request claimed stands (read while waiting for it)."""
    message = session.get(ConversationMessage, message_id)
    if message is None:
        return ClaimOutcome("failed")
    if message.state in (None, "answered"):
        return ClaimOutcome("answered", replies_to(session, message))
    return ClaimOutcome(message.state, claimed_at=message.claimed_at)


#: The largest id the messages' Integer primary key holds on every database.
MAX_MESSAGE_ID = 2**31 - 1


def history(session: Session, conversation_id: str, after: int = 0, limit: int = 500) -> list[dict[str, Any]]:
    """The conversation's messages after message id ``after``, oldest first, as shown;
    the latest ``limit`` of them when there are more (what a reopened chat needs).

    ``after`` comes from clients: it is clamped to the id column's range (a 32-bit
    integer), because a larger number made SQLite raise OverflowError and PostgreSQL
    a range error, a 500 where "nothing newer" is the answer."""
    after = max(0, min(after, MAX_MESSAGE_ID))
    rows = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id, ConversationMessage.id > after)
        .order_by(ConversationMessage.id.desc())
        .limit(limit)
    ).all()
    return [as_shown(row) for row in reversed(rows)]


def conversation_owner(session: Session, conversation_id: str) -> str | None:
    """The external id of the customer a conversation belongs to (None: anonymous or new)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.customer_id is None:
        return None
    owner = session.get(Customer, conversation.customer_id)
    return owner.external_id if owner is not None else ""


def record_replies(
    session: Session,
    conversation_id: str,
    replies: list[dict[str, Any]],
    language: str | None,
    sender: str = "bot",
    reply_to: int | None = None,
) -> list[dict[str, Any]]:
    """Store the assistant's (or a person's) replies; return them as shown, with their ids.

    With ``reply_to`` (the buyer message they answer), that message becomes answered in
    the same transaction, so a copy waiting for it finds the replies with the state.
    """
    conversation = _conversation(session, conversation_id)
    if language:
        conversation.language = language
    conversation.last_message_at = utcnow()
    rows = []
    for reply in replies:
        data = {k: v for k, v in reply.items() if k != "text"} or None
        row = ConversationMessage(
            conversation_id=conversation_id,
            sender=sender,
            text=str(reply.get("text") or ""),
            data=data,
            reply_to_id=reply_to,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    if reply_to is not None:
        _set_state(session, reply_to, "answered")
    return [as_shown(row) for row in rows]
