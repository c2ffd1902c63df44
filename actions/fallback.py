"""What the bot does when the classifier is not sure what the buyer meant.

First the knowledge base gets a try: a question the classifier missed may
still have a confident answer there. Otherwise the buyer is asked to say it
another way, and after two misunderstandings in a row is offered a person.
The count lives in the ``misunderstandings`` slot, which any other intent
resets (its from_intent mapping in domain.yml).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import answer_question, ask_for_feedback, record_unanswered

#: Misunderstandings in a row after which the bot offers a person.
OFFER_HUMAN_AFTER = 2


class ActionHandleFallback(Action):
    """Knowledge base first; then rephrase; after two misunderstandings, offer a person.

    ``human_offered`` tells the rules that a following yes or no answers the offer.
    """

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        outcome = answer_question(dispatcher, tracker, confident_only=True)
        if outcome.kind == "answered" and outcome.entry_id:
            return [SlotSet("misunderstandings", 0.0), *ask_for_feedback(dispatcher, outcome.entry_id)]
        await record_unanswered(tracker, "not_understood")
        count = int(tracker.get_slot("misunderstandings") or 0) + 1
        if count >= OFFER_HUMAN_AFTER:
            dispatcher.utter_message(response="utter_offer_human")
            return [
                SlotSet("misunderstandings", 0.0),
                SlotSet("human_offered", True),
                SlotSet("feedback_asked", False),
            ]
        dispatcher.utter_message(response="utter_default")
        return [
            SlotSet("misunderstandings", float(count)),
            SlotSet("human_offered", False),
            SlotSet("feedback_asked", False),
        ]
