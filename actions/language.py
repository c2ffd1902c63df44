"""Switching the conversation's language when the buyer asks for one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.languages import normalise_language, requested_language


class ActionChangeLanguage(Action):
    """Set the ``language`` slot to the language the buyer named.

    The confirmation is rendered in the new language: the slot only changes
    after this action returns, so the language is passed to the response.
    """

    def name(self) -> str:
        return "action_change_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        wanted = normalise_language(next(tracker.get_latest_entity_values("requested_language"), None))
        if wanted is None:
            wanted = requested_language(tracker.latest_message.get("text") or "")
        if wanted is None or wanted == "unsupported":
            dispatcher.utter_message(response="utter_language_not_supported")
            return []
        dispatcher.utter_message(response="utter_language_changed", language=wanted)
        return [SlotSet("language", wanted)]
