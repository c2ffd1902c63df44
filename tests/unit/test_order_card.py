"""The status card is pure: an order in memory, a language and a time zone in; the
responses, their values and the next step out (no database, no Rasa)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from bot.db.models import Checkpoint, Order, Shipment
from bot.orders.card import Card, NextStep, choices, describe
from bot.orders.statuses import ORDER_STATUSES, Group

SCANNED = datetime(2026, 11, 5, 14, 30, tzinfo=timezone.utc)


def order(status: str, shipped: bool = True, number: str = "10231") -> Order:
    shipments = []
    if shipped:
        shipment = Shipment(
            carrier="DHL Express",
            tracking_number="JD0146",
            status="in_transit",
            estimated_delivery=date(2026, 11, 9),
        )
        shipment.checkpoints = [
            Checkpoint(happened_at=SCANNED, place="Cincinnati Hub, US", description="x", status="in_transit")
        ]
        shipments.append(shipment)
    return Order(
        number=number,
        email="a@b.c",
        currency="USD",
        total=Decimal("58.90"),
        status=status,
        placed_at=datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc),
        shipments=shipments,
    )


def values(card: Card, response: str) -> dict[str, object]:
    return next(r.values for r in card.replies if r.response == response)


def responses(card: Card) -> list[str]:
    return [r.response for r in card.replies]


@pytest.mark.parametrize(
    ("time_zone", "language", "shown"),
    [
        ("Asia/Tokyo", "en", "Nov 5, 2026, 11:30:00\u202fPM"),
        ("Europe/Paris", "fr", "5 nov. 2026, 15:30:00"),
        ("America/New_York", "ja", "2026/11/05 9:30:00"),
        (None, "en", "Nov 5, 2026, 2:30:00\u202fPM UTC"),  # no zone known: UTC, named
        ("Mars/Olympus", "en", "Nov 5, 2026, 2:30:00\u202fPM UTC"),  # not a zone: the same
    ],
)
def test_checkpoint_times_are_in_the_buyers_time_zone(
    time_zone: str | None, language: str, shown: str
) -> None:
    card = describe(order("in_transit"), language, time_zone)
    assert values(card, "utter_order_shipment")["checkpoint_time"] == shown


def test_an_order_on_its_way() -> None:
    card = describe(order("in_transit"), "es", "Europe/Madrid")
    assert responses(card) == ["utter_order_status", "utter_order_shipment", "utter_order_eta"]
    assert values(card, "utter_order_status") == {
        "order_number": "10231",
        "placed_date": "1 nov 2026",
        "total": "58,90\xa0US$",
        "status": "en tránsito",
    }
    shipment = values(card, "utter_order_shipment")
    assert (shipment["carrier"], shipment["tracking_number"], shipment["checkpoint"]) == (
        "DHL Express",
        "JD0146",
        "en tránsito",
    )
    assert shipment["checkpoint_place"] == "Cincinnati Hub, US"
    assert values(card, "utter_order_eta") == {"estimated_delivery": "9 nov 2026"}
    assert card.next_step is NextStep.NOTHING


@pytest.mark.parametrize(
    ("status", "shipped", "last", "next_step"),
    [
        ("delayed", True, "utter_order_delayed", NextStep.OFFER_PERSON),
        ("exception", True, "utter_order_delayed", NextStep.OFFER_PERSON),
        ("delivered", True, "utter_order_ask_received", NextStep.ASK_RECEIVED),
        ("processing", False, "utter_order_not_shipped", NextStep.NOTHING),
        ("refunded", True, "utter_order_shipment", NextStep.NOTHING),  # no estimated delivery
        ("cancelled", False, "utter_order_status", NextStep.NOTHING),
    ],
)
def test_the_next_step_follows_the_status_group(
    status: str, shipped: bool, last: str, next_step: NextStep
) -> None:
    card = describe(order(status, shipped), "en", None)
    assert responses(card)[-1] == last and card.next_step is next_step


def test_every_order_status_renders_in_every_group() -> None:
    for status, status_group in ORDER_STATUSES.items():
        for shipped in (True, False):
            card = describe(order(status, shipped), "ar", "Asia/Riyadh")
            assert responses(card)[0] == "utter_order_status"
            assert ("utter_order_eta" in responses(card)) == (
                shipped and status_group not in (Group.DELIVERED, Group.CLOSED)
            )


def test_choices_are_a_button_per_order() -> None:
    reply = choices([order("processing", number="10233"), order("delivered", number="10234")], "en")
    assert reply.response == "utter_order_choose"
    assert reply.values["buttons"] == [
        {
            "title": "10233 · Nov 1, 2026 · being prepared in our warehouse",
            "payload": '/ask_order_status{"order_number": "10233"}',
        },
        {"title": "10234 · Nov 1, 2026 · delivered", "payload": '/ask_order_status{"order_number": "10234"}'},
    ]
