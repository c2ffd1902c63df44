"""Reading and checking orders. Each function takes a session; the caller owns it."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from bot.db.models import Customer, LookupAttempt, Order, Shipment
from bot.db.types import utcnow

#: Failed anonymous lookups after which the bot stops looking up...
MAX_FAILED_LOOKUPS = 5
#: ...within this window, per conversation or per client address.
LOOKUP_WINDOW = timedelta(hours=1)

_FULL = (
    selectinload(Order.items),
    selectinload(Order.shipments).selectinload(Shipment.checkpoints),
)


def normalise_postcode(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\-〒]", "", folded).upper()


def find_order(session: Session, number: str) -> Order | None:
    """The order with this (already normalised) number, with items and shipments."""
    return session.scalars(select(Order).where(Order.number == number).options(*_FULL)).one_or_none()


def customer_by_external_id(session: Session, external_id: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.external_id == external_id)).one_or_none()


def orders_of(session: Session, customer_id: int, limit: int = 5) -> list[Order]:
    """The customer's most recent orders, newest first."""
    query = (
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit)
        .options(*_FULL)
    )
    return list(session.scalars(query))


def verifies(order: Order, given: str) -> bool:
    """True when ``given`` is the order's email or its shipping postcode."""
    given = unicodedata.normalize("NFKC", given).strip()
    if "@" in given:
        return given.casefold() == order.email.casefold()
    postcode = normalise_postcode(given)
    return bool(postcode) and bool(order.shipping_postcode) and postcode == order.shipping_postcode


def record_attempt(
    session: Session, conversation_id: str, client_address: str, number: str, succeeded: bool
) -> None:
    session.add(
        LookupAttempt(
            conversation_id=conversation_id[:128],
            client_address=client_address[:64],
            order_number=number[:32],
            succeeded=succeeded,
        )
    )


def is_locked(
    session: Session, conversation_id: str, client_address: str, now: datetime | None = None
) -> bool:
    """Five failed lookups in the last hour from this conversation or this address."""
    since = (now or utcnow()) - LOOKUP_WINDOW
    who = [LookupAttempt.conversation_id == conversation_id]
    if client_address:
        who.append(LookupAttempt.client_address == client_address)
    by_conversation, by_address = session.execute(
        select(
            func.count().filter(LookupAttempt.conversation_id == conversation_id),
            func.count().filter(LookupAttempt.client_address == client_address),
        ).where(LookupAttempt.created_at >= since, LookupAttempt.succeeded.is_(False), or_(*who))
    ).one()
    return by_conversation >= MAX_FAILED_LOOKUPS or (
        bool(client_address) and by_address >= MAX_FAILED_LOOKUPS
    )
