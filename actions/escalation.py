"""Handing the buyer to a person. Not available yet: the human-service issue brings
the queue and the staff console; until then the buyer gets the support address."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher


def escalate(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Hand the conversation to a person for ``reason`` (request_human, complain,
    not_understood, not_helpful...). The one place every escalation goes through."""
    dispatcher.utter_message(response="utter_human_unavailable")
    return [SlotSet("human_offered", False), SlotSet("feedback_asked", False)]


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "request_human"
        return escalate(dispatcher, tracker, intent)


class ActionDeclineHuman(Action):
    """The buyer said no to the offered person: carry on with the bot."""

    def name(self) -> str:
        return "action_decline_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("human_offered", False)]
