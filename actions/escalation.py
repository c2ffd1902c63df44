"""Handing the buyer to a person.

Every hand-over goes through ``escalate()``: it opens an escalation in the
database with its context (language, customer and tier, order number and
whether it was proven to be the buyer's, reason, the buyer's time zone) and
routes it (bot/service/escalations.py), so nothing is lost and the team sees it
in the console. The buyer is told, in their language,
who will answer and how soon; outside business hours, from when in their own
time, and is invited to leave an email address.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from babel.dates import format_timedelta
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dependencies import database, settings
from actions.faq import buyer_language
from actions.identity import load_customer, message_metadata
from bot.orders.formatting import LOCALES, moment
from bot.orders.numbers import normalise_order_number
from bot.service import escalations
from bot.service.hours import load as service_config

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandOver:
    escalation_id: int
    route: str
    manager: str | None
    wait: timedelta
    answer_from: datetime
    open_now: bool
    time_zone: str | None


def open_escalation(tracker: Tracker, reason: str) -> HandOver:
    """Create (or find) the conversation's open escalation, routed."""
    customer = load_customer(tracker)
    time_zone = message_metadata(tracker).get("time_zone")
    config = service_config(settings().service_file)
    with database().session() as session:
        order_number, order_verified = escalations.order_context(
            session, tracker.sender_id, normalise_order_number(tracker.get_slot("order_number")), customer
        )
        escalation, decision, _ = escalations.create(
            session,
            config,
            tracker.sender_id,
            buyer_language(tracker),
            reason,
            customer=customer,
            order_number=order_number,
            buyer_time_zone=time_zone if isinstance(time_zone, str) else None,
            order_verified=order_verified,
        )
        return HandOver(
            escalation.id,
            decision.route,
            decision.assigned_to.name if decision.assigned_to else None,
            config.target(escalation.tier),
            decision.answer_from,
            decision.open_now,
            escalation.buyer_time_zone,
        )


async def escalate(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Hand the conversation to a person for ``reason`` (request_human, complain,
    not_understood, not_helpful, delivered_not_received, order_change...)."""
    events: list[EventType] = [SlotSet("human_offered", False), SlotSet("feedback_asked", False)]
    try:
        hand_over = await asyncio.to_thread(open_escalation, tracker, reason)
    except Exception:
        logger.exception("Could not open an escalation for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_human_unavailable")
        return events
    language = buyer_language(tracker)
    wait = str(format_timedelta(hand_over.wait, locale=LOCALES.get(language, "en")))
    if not hand_over.open_now:
        opening = moment(hand_over.answer_from, language, hand_over.time_zone)
        dispatcher.utter_message(response="utter_handoff_out_of_hours", opening=opening)
        return [*events, SlotSet("awaiting_contact_email", True)]
    if hand_over.route == "manager" and hand_over.manager:
        dispatcher.utter_message(response="utter_handoff_manager", manager=hand_over.manager, wait=wait)
    else:
        dispatcher.utter_message(response="utter_handoff_queued", wait=wait)
    return events


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


_EMAIL_RE = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")


def save_contact_email(conversation_id: str, email: str) -> bool:
    with database().session() as session:
        escalation = escalations.open_escalation(session, conversation_id)
        if escalation is None:
            return False
        escalation.contact_email = email[:254]
        return True


class ActionSaveContactEmail(Action):
    """Out of hours the buyer may leave an email address for the team's answer."""

    def name(self) -> str:
        return "action_save_contact_email"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        match = _EMAIL_RE.search(tracker.latest_message.get("text") or "")
        if match is None:
            dispatcher.utter_message(response="utter_anything_else")
            return [SlotSet("awaiting_contact_email", False)]
        await asyncio.to_thread(save_contact_email, tracker.sender_id, match.group(0))
        dispatcher.utter_message(response="utter_contact_email_saved", email=match.group(0))
        return [SlotSet("awaiting_contact_email", False)]
