"""The conversation log: every buyer message and every reply, in the database.

The web service writes it as messages pass through, so what a buyer wrote is
kept even when Rasa or the action server is down. A buyer message carries the
widget's ``client_msg_id``; the same id sent again (a retry after a network
loss) is recognised, and the replies already given are returned instead of
asking the assistant twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db.models import Conversation, ConversationMessage, Customer
from bot.db.types import utcnow


def _conversation(session: Session, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        conversation = Conversation(id=conversation_id)
        session.add(conversation)
        session.flush()
    return conversation


def replies_to(session: Session, conversation_id: str, client_msg_id: str) -> list[dict[str, Any]] | None:
    """The replies already sent to this buyer message, or None if it is new."""
    message = session.scalars(
        select(ConversationMessage).where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.client_msg_id == client_msg_id,
        )
    ).one_or_none()
    if message is None:
        return None
    later = session.scalars(
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id, ConversationMessage.id > message.id)
        .order_by(ConversationMessage.id)
    )
    replies = []
    for reply in later:
        if reply.sender == "buyer":
            break
        replies.append({"text": reply.text, **(reply.data or {})} if reply.text else dict(reply.data or {}))
    return replies


def record_buyer_message(
    session: Session,
    conversation_id: str,
    text: str,
    client_msg_id: str | None,
    customer_external_id: str | None = None,
) -> bool:
    """Store what the buyer wrote; False if this client_msg_id was stored already."""
    conversation = _conversation(session, conversation_id)
    if customer_external_id and conversation.customer_id is None:
        customer = session.scalars(
            select(Customer).where(Customer.external_id == customer_external_id)
        ).one_or_none()
        if customer is not None:
            conversation.customer_id = customer.id
    conversation.last_message_at = utcnow()
    try:
        with session.begin_nested():
            session.add(
                ConversationMessage(
                    conversation_id=conversation_id, sender="buyer", text=text, client_msg_id=client_msg_id
                )
            )
    except IntegrityError:
        return False
    return True


def record_replies(
    session: Session, conversation_id: str, replies: list[dict[str, Any]], language: str | None
) -> None:
    """Store the assistant's replies (text, and buttons or other parts as data)."""
    conversation = _conversation(session, conversation_id)
    if language:
        conversation.language = language
    conversation.last_message_at = utcnow()
    for reply in replies:
        data = {k: v for k, v in reply.items() if k != "text"} or None
        session.add(
            ConversationMessage(
                conversation_id=conversation_id, sender="bot", text=str(reply.get("text") or ""), data=data
            )
        )
