"""Order tracking, in the buyer's language, showing nothing to the wrong person.

An identified customer (the store signed a token, the web service checked it and
passes the customer in the message metadata) sees their own orders at once, and
chooses from buttons when there are several. An anonymous buyer goes through
``order_tracking_form``: the order number, then the email of that order, or its
shipping postcode together with the buyer's surname (bot/orders/proof.py: a
postcode alone is public knowledge). Nothing about an order is said unless the
proof matches, and "no such order" and "wrong proof" get the same answer at the
same cost. Five failed lookups in an hour, from the conversation or from the
buyer's address (IPv6: its /64), stop the lookups and offer a person; the count
is taken and extended under a lock (bot/orders/lockout.py), so concurrent
guesses cannot slip past it.

The answer gives status, carrier, tracking number, last checkpoint and estimated
delivery, with dates and amounts formatted for the buyer's language, then the
next step: a delayed order gets an apology and the offer of a person, a
delivered one "Did you receive it?" (no → a person looks into it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dependencies import database, knowledge, settings
from actions.escalation import escalate
from actions.faq import buyer_language, say_answer
from actions.identity import client_address, load_customer
from bot.db.models import Customer, Order
from bot.orders import lockout
from bot.orders.formatting import day, moment, money, status_label
from bot.orders.numbers import find_order_number, normalise_order_number
from bot.orders.proof import proof_of, verifies
from bot.orders.queries import find_order, orders_of

logger = logging.getLogger(__name__)

#: Statuses after which the next step is an apology and the offer of a person.
TROUBLE = frozenset({"delayed", "exception"})
#: Statuses before the parcel leaves.
NOT_SHIPPED = frozenset({"pending", "paid", "processing"})
#: Knowledge-base topics that hold the policies for order changes.
CHANGE_TOPICS = frozenset({"orders", "returns", "refunds"})


@dataclass(frozen=True)
class Lookup:
    order: Order | None
    locked: bool


def lookup(tracker: Tracker, number: str, proof: str) -> Lookup:
    """Check an anonymous lookup, record it, and say whether lookups are now locked."""
    conversation, address = tracker.sender_id, client_address(tracker)
    with database().session() as session:
        if not lockout.acquire(session, conversation, address):  # holds the lock to the end
            return Lookup(None, True)
        ok = verifies(proof_of(session, number), proof)
        locked = lockout.record(session, conversation, address, number, ok)
        order = find_order(session, number) if ok else None
        if order is None:
            return Lookup(None, locked)
        session.expunge(order)
        return Lookup(order, False)


def describe(dispatcher: CollectingDispatcher, order: Order, language: str) -> list[EventType]:
    """Say where the order is, then offer the next step; the events for that step."""
    default = settings().default_language
    dispatcher.utter_message(
        response="utter_order_status",
        order_number=order.number,
        placed_date=day(order.placed_at.date(), language),
        total=money(order.total, order.currency, language),
        status=status_label(order.status, language, default),
    )
    if order.shipments:
        shipment = order.shipments[-1]
        latest = shipment.checkpoints[-1] if shipment.checkpoints else None
        dispatcher.utter_message(
            response="utter_order_shipment",
            carrier=shipment.carrier or "-",
            tracking_number=shipment.tracking_number,
            checkpoint=status_label(latest.status if latest else shipment.status, language, default),
            checkpoint_place=latest.place if latest and latest.place else "-",
            checkpoint_time=moment(latest.happened_at, language) if latest else "-",
        )
        if shipment.estimated_delivery and order.status not in (
            "delivered",
            "cancelled",
            "returned",
            "refunded",
        ):
            dispatcher.utter_message(
                response="utter_order_eta", estimated_delivery=day(shipment.estimated_delivery, language)
            )
    elif order.status in NOT_SHIPPED:
        dispatcher.utter_message(response="utter_order_not_shipped")
    if order.status in TROUBLE:
        dispatcher.utter_message(response="utter_order_delayed")
        return [SlotSet("human_offered", True), SlotSet("delivery_check_asked", False)]
    if order.status == "delivered":
        dispatcher.utter_message(response="utter_order_ask_received")
        return [SlotSet("delivery_check_asked", True), SlotSet("human_offered", False)]
    return []


def choice_buttons(orders: list[Order], language: str) -> list[dict[str, str]]:
    default = settings().default_language
    return [
        {
            "title": " · ".join(
                (o.number, day(o.placed_at.date(), language), status_label(o.status, language, default))
            ),
            "payload": f'/ask_order_status{{"order_number": "{o.number}"}}',
        }
        for o in orders
    ]


def _forget_lookup() -> list[EventType]:
    return [SlotSet("order_number", None), SlotSet("order_verification", None)]


class ValidateOrderTrackingForm(FormValidationAction):
    """Asks an anonymous buyer for the order number, then for proof it is theirs."""

    def name(self) -> str:
        return "validate_order_tracking_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("order_lookup_locked"):
            return []
        customer = await asyncio.to_thread(load_customer, tracker)
        if customer is not None:
            number = normalise_order_number(tracker.get_slot("order_number"))
            if number is None or await asyncio.to_thread(_owns, customer, number):
                return []  # their own orders need no proof
        return domain_slots

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        number = normalise_order_number(text) or find_order_number(text)
        if number is None:
            dispatcher.utter_message(response="utter_order_number_invalid")
            return {"order_number": None}
        return {"order_number": number}

    async def validate_order_verification(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = normalise_order_number(tracker.get_slot("order_number"))
        proof = value.strip() if isinstance(value, str) else ""
        if number is None or not proof:
            return {"order_verification": None}
        result = await asyncio.to_thread(lookup, tracker, number, proof)
        if result.order is not None:
            return {"order_verification": proof}
        if result.locked:
            return {"order_verification": None, "order_number": None, "order_lookup_locked": True}
        dispatcher.utter_message(response="utter_order_not_found")
        return {"order_verification": None, "order_number": None}


def _owns(customer: Customer, number: str) -> bool:
    with database().session() as session:
        order = find_order(session, number)
        return order is not None and order.customer_id == customer.id


class ActionTrackOrder(Action):
    """Runs when the tracking form is done: show the order, or the customer's orders."""

    def name(self) -> str:
        return "action_track_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = buyer_language(tracker)
        if tracker.get_slot("order_lookup_locked"):
            dispatcher.utter_message(response="utter_order_lookup_locked")
            return [*_forget_lookup(), SlotSet("order_lookup_locked", False), SlotSet("human_offered", True)]
        number = normalise_order_number(tracker.get_slot("order_number"))
        customer = await asyncio.to_thread(load_customer, tracker)
        if customer is not None and (number is None or await asyncio.to_thread(_owns, customer, number)):
            return await self._for_customer(dispatcher, customer, number, language)
        proof = tracker.get_slot("order_verification")
        if number is None or not isinstance(proof, str):
            dispatcher.utter_message(response="utter_order_not_found")
            return _forget_lookup()
        with database().session() as session:
            order = find_order(session, number) if verifies(proof_of(session, number), proof) else None
            if order is None:
                dispatcher.utter_message(response="utter_order_not_found")
                return _forget_lookup()
            return [*describe(dispatcher, order, language), *_forget_lookup()]

    async def _for_customer(
        self, dispatcher: CollectingDispatcher, customer: Customer, number: str | None, language: str
    ) -> list[EventType]:
        with database().session() as session:
            if number is not None:
                order = find_order(session, number)
                assert order is not None
                return [*describe(dispatcher, order, language), *_forget_lookup()]
            orders = orders_of(session, customer.id)
            if not orders:
                dispatcher.utter_message(response="utter_order_no_orders")
                return _forget_lookup()
            if len(orders) == 1:
                return [*describe(dispatcher, orders[0], language), *_forget_lookup()]
            dispatcher.utter_message(response="utter_order_choose", buttons=choice_buttons(orders, language))
            return _forget_lookup()


class ActionOrderDeliveryAnswer(Action):
    """The buyer's answer to "The carrier shows it delivered. Did you receive it?"."""

    def name(self) -> str:
        return "action_order_delivery_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SlotSet("delivery_check_asked", False)]
        if (tracker.latest_message.get("intent") or {}).get("name") == "affirm":
            dispatcher.utter_message(response="utter_order_glad_received")
            return events
        dispatcher.utter_message(response="utter_order_not_received")
        return [*events, *await escalate(dispatcher, tracker, "delivered_not_received")]


class ActionOrderChange(Action):
    """Cancel, change the address, return, refund: the policy, then a person."""

    def name(self) -> str:
        return "action_order_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        language = buyer_language(tracker)
        snapshot = knowledge().current()
        text = tracker.latest_message.get("text") or ""
        matches = snapshot.index.search(text, language, limit=10) or snapshot.index.search(
            text, settings().default_language, limit=10
        )
        policy = next(
            (
                m
                for m in matches
                if snapshot.base.entries[m.entry_id].topic in CHANGE_TOPICS and m.confidence > 0.2
            ),
            None,
        )
        if policy is not None:
            say_answer(dispatcher, snapshot, snapshot.base.entries[policy.entry_id], language)
        dispatcher.utter_message(response="utter_order_change_handoff")
        return await escalate(dispatcher, tracker, "order_change")
