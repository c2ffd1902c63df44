"""Reading orders. Each function takes a session; the caller owns it.

Who may see which order is decided in bot/orders/tracking.py, with the proof of an
anonymous buyer's claim (bot/orders/proof.py) and the lockout of failed lookups
(bot/orders/lockout.py).
"""

from __future__ import annotations

import logging
import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.db.models import Customer, Order, Shipment

_FULL = (
    selectinload(Order.items),
    selectinload(Order.shipments).selectinload(Shipment.checkpoints),
)

logger = logging.getLogger(__name__)


def normalise_postcode(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return re.sub(r"[\s\-〒]", "", folded).upper()


def find_order(session: Session, number: str) -> Order | None:
    """The order with this (already normalised) number, with items and shipments."""
    return session.scalars(select(Order).where(Order.number == number).options(*_FULL)).one_or_none()


def customer_by_external_id(session: Session, external_id: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.external_id == external_id)).one_or_none()


def identified_customer(session: Session, external_id: str, email: str) -> Customer | None:
    """The customer a signed token names, if its id and email match our records: a token
    for someone we do not know (or with another email) leaves the buyer anonymous."""
    customer = customer_by_external_id(session, external_id)
    if customer is None or customer.email.casefold() != email.casefold():
        logger.warning("Token for unknown customer %s (or another email): treated as anonymous", external_id)
        return None
    return customer


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
