"""The order status card: what the assistant says about an order, and what it asks next.

Pure: it takes an order already loaded (with its shipments and checkpoints), the
buyer's language and time zone, and returns the responses to say with their
values; no database, no Rasa, no settings. The action (actions/orders.py) only
says them and turns the next step into slots. Checkpoint times are shown in the
buyer's time zone (their browser's); a buyer whose zone is unknown sees UTC, named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bot.db.models import Order
from bot.orders.formatting import day, moment, money
from bot.orders.statuses import Group, group, label


@dataclass(frozen=True)
class Reply:
    """One response of domain.yml (``utter_...``) and the values its text is filled with."""

    response: str
    values: dict[str, object] = field(default_factory=dict)


class NextStep(Enum):
    """What the card asks of the buyer after it."""

    NOTHING = "nothing"
    #: Delayed or in trouble: an apology, and a person if they want one.
    OFFER_PERSON = "offer_person"
    #: Delivered: "Did you receive it?" (no → a person looks into it).
    ASK_RECEIVED = "ask_received"


@dataclass(frozen=True)
class Card:
    replies: tuple[Reply, ...]
    next_step: NextStep


def describe(order: Order, language: str, time_zone: str | None, default_language: str = "en") -> Card:
    """Status, total and date; then the latest shipment's carrier, tracking number and last
    checkpoint (its time in ``time_zone``) and the estimated delivery while it is on its way;
    then the next step."""
    status_group = group(order.status)
    replies = [
        Reply(
            "utter_order_status",
            {
                "order_number": order.number,
                "placed_date": day(order.placed_at.date(), language),
                "total": money(order.total, order.currency, language),
                "status": label(order.status, language, default_language),
            },
        )
    ]
    if order.shipments:
        shipment = order.shipments[-1]
        latest = shipment.checkpoints[-1] if shipment.checkpoints else None
        parcel_status = latest.status if latest else shipment.status
        replies.append(
            Reply(
                "utter_order_shipment",
                {
                    "carrier": shipment.carrier or "-",
                    "tracking_number": shipment.tracking_number,
                    "checkpoint": label(parcel_status, language, default_language),
                    "checkpoint_place": latest.place if latest and latest.place else "-",
                    "checkpoint_time": moment(latest.happened_at, language, time_zone) if latest else "-",
                },
            )
        )
        if shipment.estimated_delivery and status_group not in (Group.DELIVERED, Group.CLOSED):
            replies.append(
                Reply("utter_order_eta", {"estimated_delivery": day(shipment.estimated_delivery, language)})
            )
    elif status_group is Group.NOT_SHIPPED:
        replies.append(Reply("utter_order_not_shipped"))
    if status_group is Group.TROUBLE:
        return Card((*replies, Reply("utter_order_delayed")), NextStep.OFFER_PERSON)
    if status_group is Group.DELIVERED:
        return Card((*replies, Reply("utter_order_ask_received")), NextStep.ASK_RECEIVED)
    return Card(tuple(replies), NextStep.NOTHING)


def choices(orders: list[Order], language: str, default_language: str = "en") -> Reply:
    """The "Which order?" question, with a button per order: number · date · status."""
    buttons = [
        {
            "title": " · ".join(
                (o.number, day(o.placed_at.date(), language), label(o.status, language, default_language))
            ),
            "payload": f'/ask_order_status{{"order_number": "{o.number}"}}',
        }
        for o in orders
    ]
    return Reply("utter_order_choose", {"buttons": buttons})
