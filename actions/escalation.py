"""Handing the buyer to a person.

Every hand-over goes through ``escalate()``: it opens an escalation in the
database with its context (language, customer and tier, order, reason, the
buyer's time zone) and routes it (bot/service/escalations.py), so nothing is
lost and the team sees it. The staff console that works the queue is still to
come, so the buyer is told honestly to write to the support address meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dependencies import database
from actions.faq import buyer_language
from actions.identity import load_customer, message_metadata
from bot.orders.numbers import normalise_order_number
from bot.service import escalations
from bot.service.hours import load as service_config

logger = logging.getLogger(__name__)


def open_escalation(tracker: Tracker, reason: str) -> int | None:
    """Create (or find) the conversation's open escalation; its id."""
    customer = load_customer(tracker)
    time_zone = message_metadata(tracker).get("time_zone")
    with database().session() as session:
        escalation, _, _ = escalations.create(
            session,
            service_config(),
            tracker.sender_id,
            buyer_language(tracker),
            reason,
            customer=customer,
            order_number=normalise_order_number(tracker.get_slot("order_number")),
            buyer_time_zone=time_zone if isinstance(time_zone, str) else None,
        )
        return escalation.id


async def escalate(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Hand the conversation to a person for ``reason`` (request_human, complain,
    not_understood, not_helpful, delivered_not_received, order_change...)."""
    try:
        await asyncio.to_thread(open_escalation, tracker, reason)
    except Exception:
        logger.exception("Could not open an escalation for %s", tracker.sender_id)
    dispatcher.utter_message(response="utter_human_unavailable")
    return [SlotSet("human_offered", False), SlotSet("feedback_asked", False)]


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "request_human"
        reason = intent if intent in ("request_human", "complain") else "offer_accepted"
        return await escalate(dispatcher, tracker, reason)


class ActionDeclineHuman(Action):
    """The buyer said no to the offered person: carry on with the bot."""

    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("human_offered", False)]
