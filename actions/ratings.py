"""The buyer's rating of a conversation (1 to 5 stars, and an optional comment).

Stars come from the rating buttons' payload (entity ``rating``) or from what the
buyer typed ("5 stars", "★★★★", "4/5"). The rating is linked to the
conversation's latest escalation, so the dashboard can show satisfaction by
staff member and tier as well as by language.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from actions.dependencies import database, knowledge
from actions.faq import buyer_language
from bot.db.models import Escalation, Rating

logger = logging.getLogger(__name__)

#: Longest comment kept.
MAX_COMMENT = 2000


def stars_in(tracker: Tracker) -> int | None:
    for value in tracker.get_latest_entity_values("rating"):
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", str(value)))
        if digits and 1 <= int(digits[0]) <= 5:
            return int(digits[0])
    text = unicodedata.normalize("NFKC", tracker.latest_message.get("text") or "")
    if "★" in text:
        return min(5, text.count("★"))
    match = re.search(
        r"(?<!\d)([1-5])(?!\d)", "".join(str(unicodedata.digit(c, c)) if c.isdigit() else c for c in text)
    )
    return int(match.group(1)) if match else None


def store(conversation_id: str, stars: int, language: str, topic: str | None) -> None:
    with database().session() as session:
        escalation = session.scalars(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.id.desc())
        ).first()
        session.add(
            Rating(
                conversation_id=conversation_id,
                escalation_id=escalation.id if escalation else None,
                staff_id=escalation.claimed_by_id if escalation else None,
                stars=stars,
                language=language,
                tier=escalation.tier if escalation else "standard",
                topic=topic or (escalation.reason if escalation else "general"),
            )
        )


def answered_topic(tracker: Tracker) -> str | None:
    """The knowledge-base topic of the last answer given in the conversation, if any."""
    entry_id = tracker.get_slot("feedback_entry")
    entry = knowledge().current().base.entries.get(entry_id) if isinstance(entry_id, str) else None
    return entry.topic if entry else None


class ActionRecordRating(Action):
    def name(self) -> str:
        return "action_record_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        stars = stars_in(tracker)
        if stars is None:
            dispatcher.utter_message(response="utter_ask_rating")
            return []
        try:
            await asyncio.to_thread(
                store, tracker.sender_id, stars, buyer_language(tracker), answered_topic(tracker)
            )
        except Exception:
            logger.exception("Could not store a rating for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_offer_rating_comment")
        return [SlotSet("comment_offered", True)]


def store_comment(conversation_id: str, comment: str) -> bool:
    """Attach the comment to the conversation's latest rating."""
    with database().session() as session:
        rating = session.scalars(
            select(Rating).where(Rating.conversation_id == conversation_id).order_by(Rating.id.desc())
        ).first()
        if rating is None:
            return False
        rating.comment = comment.strip()[:MAX_COMMENT]
        return True


class ValidateRatingCommentForm(FormValidationAction):
    """The optional comment after a rating: whatever the buyer writes is kept."""

    def name(self) -> str:
        return "validate_rating_comment_form"

    async def validate_rating_comment(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = value.strip() if isinstance(value, str) else ""
        if not text:
            return {"rating_comment": None}
        try:
            await asyncio.to_thread(store_comment, tracker.sender_id, text)
        except Exception:
            logger.exception("Could not store a rating comment for %s", tracker.sender_id)
        return {"rating_comment": text[:MAX_COMMENT]}
