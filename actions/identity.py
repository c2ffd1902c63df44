"""Who the buyer is, as the web service told Rasa in the message metadata.

The web service passes a customer only after checking the store's signed token,
and the client address it saw; Rasa is not reachable from outside, so nothing
else can put them there.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

from actions.dependencies import database
from bot.db.models import Customer
from bot.orders.queries import customer_by_external_id

logger = logging.getLogger(__name__)


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


def load_customer(tracker: Tracker) -> Customer | None:
    """The identified customer, if the token's id and email match our records."""
    identity = identified_customer_id(tracker)
    if identity is None:
        return None
    with database().session() as session:
        customer = customer_by_external_id(session, identity[0])
        if customer is None or customer.email.casefold() != identity[1].casefold():
            logger.warning(
                "Token for unknown customer %s (or another email): treated as anonymous", identity[0]
            )
            return None
        session.expunge(customer)
        return customer
