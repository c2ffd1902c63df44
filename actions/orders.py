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

The answer gives status, carrier, tracking number, last checkpoint (its time in
the buyer's time zone) and estimated delivery, with dates and amounts formatted
for the buyer's language, then the next step: a delayed order gets an apology and
the offer of a person, a delivered one "Did you receive it?" (no → a person looks
into it).

These actions only dispatch: who may see what is decided by
bot/orders/tracking.py (on the database's worker thread, never on the action
server's event loop), the card is rendered by bot/orders/card.py, and the
statuses and their groups are listed in bot/orders/statuses.py.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dependencies import database, knowledge, settings
from actions.escalation import escalate
from actions.faq import buyer_language, say_answer
from actions.identity import buyer_time_zone, client_address, identified_customer_id
from bot.orders.card import NextStep, Reply, choices, describe
from bot.orders.numbers import find_order_number, normalise_order_number
from bot.orders.tracking import Asker, Outcome, Tracking, needs_proof, track

#: Knowledge-base topics that hold the policies for order changes.
CHANGE_TOPICS = frozenset({"orders", "returns", "refunds"})


def next_step_slots(step: NextStep) -> list[EventType]:
    """The slots that let the buyer's answer to the card's last question be understood."""
    if step is NextStep.OFFER_PERSON:
        return [SlotSet("human_offered", True), SlotSet("delivery_check_asked", False)]
    if step is NextStep.ASK_RECEIVED:
        return [SlotSet("delivery_check_asked", True), SlotSet("human_offered", False)]
    return []


def asker(tracker: Tracker) -> Asker:
    """Who asks, from what the web service put in the message metadata."""
    return Asker(tracker.sender_id, client_address(tracker), identified_customer_id(tracker))


async def tracked(tracker: Tracker, number: str | None, proof: str | None = None) -> Tracking:
    """:func:`bot.orders.tracking.track`, off the event loop."""
    return await database().run(partial(track, database(), asker(tracker), number, proof))


def say(dispatcher: CollectingDispatcher, replies: tuple[Reply, ...]) -> None:
    for reply in replies:
        dispatcher.utter_message(response=reply.response, **reply.values)


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
        number = normalise_order_number(tracker.get_slot("order_number"))
        if not await database().run(partial(needs_proof, database(), asker(tracker), number)):
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
        """The one lookup of an anonymous buyer's claim: recorded, so the action that
        shows the order afterwards need not compare the proof again."""
        number = normalise_order_number(tracker.get_slot("order_number"))
        proof = value.strip() if isinstance(value, str) else ""
        if number is None or not proof:
            return {"order_verification": None}
        result = await tracked(tracker, number, proof)
        if result.outcome is Outcome.FOUND:
            return {"order_verification": proof}
        if result.outcome is Outcome.LOCKED:
            return {"order_verification": None, "order_number": None, "order_lookup_locked": True}
        dispatcher.utter_message(response="utter_order_not_found")
        return {"order_verification": None, "order_number": None}


class ActionTrackOrder(Action):
    """Runs when the tracking form is done: show the order, or the customer's orders."""

    def name(self) -> str:
        return "action_track_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("order_lookup_locked"):
            dispatcher.utter_message(response="utter_order_lookup_locked")
            return [*_forget_lookup(), SlotSet("order_lookup_locked", False), SlotSet("human_offered", True)]
        language, default = buyer_language(tracker), settings().default_language
        result = await tracked(tracker, normalise_order_number(tracker.get_slot("order_number")))
        if result.order is not None:
            card = describe(result.order, language, buyer_time_zone(tracker), default)
            say(dispatcher, card.replies)
            return [*next_step_slots(card.next_step), *_forget_lookup()]
        if result.outcome is Outcome.CHOOSE:
            say(dispatcher, (choices(list(result.orders), language, default),))
        elif result.outcome is Outcome.NO_ORDERS:
            dispatcher.utter_message(response="utter_order_no_orders")
        else:
            dispatcher.utter_message(response="utter_order_not_found")
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
