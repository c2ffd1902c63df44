"""The buyer's reply to "Did this help?" after a knowledge-base answer.

Yes → glad, carry on. No → the question is stored for the admins as not
helped, and the bot apologises and offers a person; a second "no" in the same
conversation hands over to a person straight away (the buyer has tried twice).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dependencies import feedback_store
from actions.escalation import escalate
from actions.faq import buyer_language, record_unanswered

#: "Did not help" replies in a conversation after which the buyer goes to a person.
ESCALATE_AFTER = 2

logger = logging.getLogger(__name__)


def answered_question(tracker: Tracker) -> str:
    """The buyer's words that the answer was for: the user message before this
    reply, skipping suggestion-button payloads ("/ask_question{...}")."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    for event in reversed(users[:-1]):
        text = str(event.get("text") or "")
        if text and not text.startswith("/"):
            return text
    return ""


class ActionFaqFeedback(Action):
    def name(self) -> str:
        return "action_faq_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        entry_id = tracker.get_slot("feedback_entry")
        helpful = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        question = answered_question(tracker)
        events: list[EventType] = [SlotSet("feedback_asked", False)]
        if entry_id:
            try:
                await asyncio.to_thread(
                    feedback_store().record_feedback,
                    tracker.sender_id,
                    entry_id,
                    buyer_language(tracker),
                    question,
                    helpful,
                )
            except Exception:
                logger.exception("Could not store the buyer's feedback")
        if helpful:
            dispatcher.utter_message(response="utter_faq_glad")
            return events
        if question:
            await record_unanswered(tracker, "not_helpful", entry_id, text=question)
        count = int(tracker.get_slot("unhelpful_answers") or 0) + 1
        if count >= ESCALATE_AFTER:
            return [
                *events,
                SlotSet("unhelpful_answers", 0.0),
                *await escalate(dispatcher, tracker, "not_helpful"),
            ]
        dispatcher.utter_message(response="utter_faq_not_helped")
        return [*events, SlotSet("unhelpful_answers", float(count)), SlotSet("human_offered", True)]
