"""What the bot does when it did not understand the buyer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

FALLBACK_INTENT = "nlu_fallback"
#: Misunderstandings in a row after which the bot offers a person.
OFFER_HUMAN_AFTER = 2


def misunderstandings_in_a_row(tracker: Tracker) -> int:
    """How many of the buyer's latest messages in a row the classifier was unsure of."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionHandleFallback(Action):
    """Ask to rephrase; after two misunderstandings in a row, offer a person.

    ``human_offered`` tells the rules that a following yes or no answers the offer.
    """

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if misunderstandings_in_a_row(tracker) >= OFFER_HUMAN_AFTER:
            dispatcher.utter_message(response="utter_offer_human")
            return [SlotSet("human_offered", True)]
        dispatcher.utter_message(response="utter_default")
        return [SlotSet("human_offered", False)]
