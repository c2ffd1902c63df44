"""Tracking an order: who may see which order, decided in one place.

An identified customer (the store signed a token that the web service checked)
sees their own orders without proving anything. Anyone else proves their claim
to an order once, with its email or its postcode and surname (bot/orders/proof.py),
under the lockout of failed lookups (bot/orders/lockout.py); the lookup is
recorded, and that record is what later steps of the conversation (showing the
order when the form is done, flagging an escalation's order as verified) rely on,
so the proof is never compared twice. "No such order" and "wrong proof" are one
outcome.

These functions block on the database: async callers run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sqlalchemy.orm import Session

from bot.db.database import Database
from bot.db.models import Customer, Order
from bot.orders import lockout
from bot.orders.proof import proof_of, verifies
from bot.orders.queries import find_order, identified_customer, orders_of


@dataclass(frozen=True)
class Asker:
    """Who asks, as the web service saw them."""

    conversation_id: str
    client_address: str
    #: (store customer id, email) from a token the web service verified; None when anonymous.
    identity: tuple[str, str] | None = None


class Outcome(Enum):
    FOUND = "found"
    #: An identified customer with several recent orders: they choose one.
    CHOOSE = "choose"
    #: An identified customer without orders.
    NO_ORDERS = "no_orders"
    #: No such order, or no (right) proof: the same answer, on purpose.
    NOT_FOUND = "not_found"
    #: Too many failed lookups from this conversation or address.
    LOCKED = "locked"


@dataclass(frozen=True)
class Tracking:
    outcome: Outcome
    #: The order found, or the orders to choose from (loaded whole, outside any session).
    orders: tuple[Order, ...] = ()

    @property
    def order(self) -> Order | None:
        return self.orders[0] if self.outcome is Outcome.FOUND else None


def track(database: Database, asker: Asker, number: str | None, proof: str | None = None) -> Tracking:
    """What ``asker`` may see of order ``number`` (normalised), or of their own orders.

    With ``proof`` (what the buyer just wrote for ``number``) this is the one lookup:
    the lockout is checked and held, the proof compared, the attempt recorded.
    Without it, an identified customer's own orders are shown, and otherwise only an
    order this conversation has already proven.
    """
    with database.session() as session:
        if number is not None and proof is not None:
            return _look_up(session, asker, number, proof)
        customer = _customer(session, asker)
        if customer is not None and (number is None or _owns(session, customer, number)):
            return _own_orders(session, customer, number)
        if number is None or not lockout.verified_in(session, asker.conversation_id, number):
            return Tracking(Outcome.NOT_FOUND)
        return _found(find_order(session, number))


def _look_up(session: Session, asker: Asker, number: str, proof: str) -> Tracking:
    """Lock, compare, record: the lockout's lock is the session's first write (on SQLite
    that takes the write lock before anything is read) and is held until it commits."""
    if not lockout.acquire(session, asker.conversation_id, asker.client_address):
        return Tracking(Outcome.LOCKED)
    ok = verifies(proof_of(session, number), proof)
    if lockout.record(session, asker.conversation_id, asker.client_address, number, ok):
        return Tracking(Outcome.LOCKED)  # this failure was the last one allowed
    return _found(find_order(session, number) if ok else None)


def needs_proof(database: Database, asker: Asker, number: str | None) -> bool:
    """Whether the buyer must prove ``number`` is theirs: not for an identified
    customer's own orders (or when they named none and we list theirs)."""
    if asker.identity is None:
        return True
    with database.session() as session:
        customer = _customer(session, asker)
        return customer is None or (number is not None and not _owns(session, customer, number))


def _customer(session: Session, asker: Asker) -> Customer | None:
    return None if asker.identity is None else identified_customer(session, *asker.identity)


def _owns(session: Session, customer: Customer, number: str) -> bool:
    order = find_order(session, number)
    return order is not None and order.customer_id == customer.id


def _own_orders(session: Session, customer: Customer, number: str | None) -> Tracking:
    if number is not None:
        return _found(find_order(session, number))
    orders = orders_of(session, customer.id)
    if not orders:
        return Tracking(Outcome.NO_ORDERS)
    return Tracking(Outcome.FOUND if len(orders) == 1 else Outcome.CHOOSE, tuple(orders))


def _found(order: Order | None) -> Tracking:
    return Tracking(Outcome.NOT_FOUND) if order is None else Tracking(Outcome.FOUND, (order,))
