"""The buyer's rating of a conversation (1 to 5 stars, and an optional comment).

Stars come from the rating buttons' payload (entity ``rating``) or from what the
buyer typed ("5 stars", "★★★★", "4/5").

One rating per rating request: a rating is stored only when the bot asked for
one, and only once per asking. The request is the dialogue's ``utter_ask_rating``
in the tracker (Rasa's own record, which a buyer cannot write), keyed by its
timestamp; the key is unique per conversation in the ratings table, so six
ratings after one prompt store one, and a rating nobody asked for stores none.
A request that followed a person's hand-back (``conversation_resolved``) counts
for the escalation resolved just before it and its agent; one after a goodbye
to the bot counts for no agent (before, every rating counted against the
conversation's last agent).
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from actions.dependencies import database, knowledge
from actions.faq import buyer_language
from bot.db.models import Escalation, Rating

logger = logging.getLogger(__name__)

#: Longest comment kept.
MAX_COMMENT = 2000
#: The intent the web service sends when a person hands the conversation back.
HAND_BACK_INTENT = "conversation_resolved"
#: Clock difference tolerated between the web service (resolved_at) and Rasa (the prompt).
CLOCK_SLACK = timedelta(seconds=5)


@dataclass(frozen=True)
class RatingRequest:
    """The bot's latest rating prompt in the conversation."""

    key: str
    at: datetime | None
    #: Asked after a person resolved the conversation (else: after a goodbye to the bot).
    after_person: bool


def rating_request(tracker: Tracker) -> RatingRequest | None:
    """The latest ``utter_ask_rating`` the dialogue ran, and what led to it.

    Only the dialogue's own prompt is a request: the re-ask inside
    action_record_rating (stars not understood) keeps the same request open.
    """
    events = tracker.events
    for position in range(len(events) - 1, -1, -1):
        event = events[position]
        if event.get("event") != "action" or event.get("name") != "utter_ask_rating":
            continue
        trigger: dict[str, Any] = next(
            (e for e in reversed(events[:position]) if e.get("event") == "user"), {}
        )
        intent = ((trigger.get("parse_data") or {}).get("intent") or {}).get("name")
        stamp = event.get("timestamp")
        if isinstance(stamp, (int, float)):
            at: datetime | None = datetime.fromtimestamp(stamp, timezone.utc)
            key = f"{stamp:.6f}"
        else:
            at, key = None, f"event-{position}"
        return RatingRequest(key, at, intent == HAND_BACK_INTENT)
    return None


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


def _resolved_escalation(conversation_id: str, request: RatingRequest) -> Escalation | None:
    """The escalation whose hand-back led to ``request``: resolved just before it."""
    query = select(Escalation).where(
        Escalation.conversation_id == conversation_id, Escalation.status == "resolved"
    )
    if request.at is not None:
        query = query.where(Escalation.resolved_at <= request.at + CLOCK_SLACK)
    with database().session() as session:
        return session.scalars(query.order_by(Escalation.resolved_at.desc(), Escalation.id.desc())).first()


def answered(conversation_id: str, request: RatingRequest) -> bool:
    with database().session() as session:
        return (
            session.scalar(
                select(Rating.id).where(
                    Rating.conversation_id == conversation_id, Rating.request_key == request.key
                )
            )
            is not None
        )


def store(conversation_id: str, stars: int, language: str, topic: str | None, request: RatingRequest) -> bool:
    """Store the rating answering ``request``; False if that request has its rating already."""
    escalation = _resolved_escalation(conversation_id, request) if request.after_person else None
    try:
        with database().session() as session:
            session.add(
                Rating(
                    conversation_id=conversation_id,
                    escalation_id=escalation.id if escalation else None,
                    staff_id=escalation.claimed_by_id if escalation else None,
                    stars=stars,
                    language=language,
                    tier=escalation.tier if escalation else "standard",
                    topic=topic or (escalation.reason if escalation else "general"),
                    request_key=request.key,
                )
            )
    except IntegrityError:  # the unique (conversation, request) key: rated already
        return False
    return True


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
        request = rating_request(tracker)
        try:
            pending = request is not None and not await asyncio.to_thread(
                answered, tracker.sender_id, request
            )
        except Exception:
            logger.exception("Could not read the ratings of %s", tracker.sender_id)
            pending = False
        if request is None or not pending:
            # Nobody asked, or this request has its rating: nothing is stored.
            logger.info("Rating not asked for in %s: not stored", tracker.sender_id)
            dispatcher.utter_message(response="utter_anything_else")
            return []
        stars = stars_in(tracker)
        if stars is None:
            dispatcher.utter_message(response="utter_ask_rating")
            return []
        try:
            stored = await asyncio.to_thread(
                store, tracker.sender_id, stars, buyer_language(tracker), answered_topic(tracker), request
            )
        except Exception:
            logger.exception("Could not store a rating for %s", tracker.sender_id)
            stored = True  # the buyer did rate; say thanks all the same
        if not stored:
            dispatcher.utter_message(response="utter_anything_else")
            return []
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
