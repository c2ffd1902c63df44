"""Who the buyer is, as the web service told Rasa in the message metadata.

The web service passes a customer only after checking the store's signed token,
the client address it saw and the time zone the buyer's browser reported; Rasa
is not reachable from outside, so nothing else can put them there.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.dependencies import database
from bot.db.models import Customer
from bot.orders.queries import identified_customer


def message_metadata(tracker: Tracker) -> dict[str, Any]:
    """Metadata the web service attached to the buyer's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            return metadata if isinstance(metadata, dict) else {}
    return {}


def identified_customer_id(tracker: Tracker) -> tuple[str, str] | None:
    """(store customer id, email) from a verified token, if the web service passed one."""
    customer = message_metadata(tracker).get("customer")
    if (
        isinstance(customer, dict)
        and isinstance(customer.get("id"), str)
        and isinstance(customer.get("email"), str)
    ):
        return customer["id"], customer["email"]
    return None


def client_address(tracker: Tracker) -> str:
    address = message_metadata(tracker).get("client_address")
    return address if isinstance(address, str) else ""


def buyer_time_zone(tracker: Tracker) -> str | None:
    """The buyer's IANA time zone as their browser reported it ("Europe/Paris"), if any;
    the web service passes only well-formed names (bot/web/messages.py)."""
    time_zone = message_metadata(tracker).get("time_zone")
    return time_zone if isinstance(time_zone, str) and time_zone else None


def load_customer(tracker: Tracker) -> Customer | None:
    """The identified customer, if the token's id and email match our records."""
    identity = identified_customer_id(tracker)
    if identity is None:
        return None
    with database().session() as session:
        customer = identified_customer(session, *identity)
        if customer is not None:
            session.expunge(customer)
        return customer
