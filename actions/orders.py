"""Order tracking. Not available yet: the orders issue brings customers and orders.

Until then the action says so honestly and points to the confirmation email
and the support address, instead of pretending to look anything up.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher


class ActionTrackOrder(Action):
    def name(self) -> str:
        return "action_track_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_order_tracking_unavailable")
        return []
