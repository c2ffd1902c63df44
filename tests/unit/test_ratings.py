"""Ratings: stars from buttons or typed text, the optional comment, and one rating
per rating request, counted for the agent of the escalation it follows."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from trackers import tracker, user

import actions.dependencies as dependencies
from actions.ratings import ActionRecordRating, ValidateRatingCommentForm
from bot.db.models import Escalation, Rating, StaffMember
from bot.db.types import utcnow


def ratings() -> list[Rating]:
    with dependencies.database().session() as session:
        return list(session.scalars(select(Rating).order_by(Rating.id)))


def prompt(after: str = "goodbye", at: float | None = None) -> list[dict[str, Any]]:
    """The dialogue asking for a rating, as Rasa's tracker records it."""
    stamp = time.time() if at is None else at
    return [
        user("bye" if after == "goodbye" else "/conversation_resolved", after),
        {"event": "action", "name": "utter_ask_rating", "timestamp": stamp},
        {"event": "bot", "text": "How would you rate this conversation?", "timestamp": stamp},
    ]


async def rate(events: list[dict[str, Any]], sender: str = "test") -> tuple[list[str], list[Any]]:
    dispatcher = CollectingDispatcher()
    result = await ActionRecordRating().run(dispatcher, tracker(events, sender_id=sender), {})
    return [m["response"] for m in dispatcher.messages], result


@pytest.mark.parametrize(
    ("text", "entities", "stars"),
    [
        ('/give_rating{"rating": "4"}', [{"entity": "rating", "value": "4"}], 4),
        ("I give you 5 stars", [], 5),
        ("★★★", [], 3),
        ("５点", [], 5),
    ],
)
async def test_stars_are_recorded_and_a_comment_offered(
    knowledge_base: Path, text: str, entities: list[dict[str, str]], stars: int
) -> None:
    said, events = await rate([*prompt(), user(text, "give_rating", entities)])
    assert said == ["utter_offer_rating_comment"]
    assert SlotSet("comment_offered", True) in events
    [rating] = ratings()
    assert (rating.stars, rating.language, rating.topic, rating.staff_id) == (stars, "en", "general", None)


async def test_no_stars_asks_again_and_the_request_stays_open(knowledge_base: Path) -> None:
    events = [*prompt(), user("meh", "give_rating")]
    assert (await rate(events))[0] == ["utter_ask_rating"]
    assert ratings() == []
    # The re-ask (inside action_record_rating) is no new request; the first one is answered now.
    events += [
        {"event": "action", "name": "action_record_rating", "timestamp": time.time()},
        user("4", "give_rating"),
    ]
    assert (await rate(events))[0] == ["utter_offer_rating_comment"]
    assert [r.stars for r in ratings()] == [4]


async def test_a_rating_nobody_asked_for_is_not_stored(knowledge_base: Path) -> None:
    said, events = await rate(
        [user('/give_rating{"rating": "1"}', "give_rating", [{"entity": "rating", "value": "1"}])]
    )
    assert said == ["utter_anything_else"] and events == []
    assert ratings() == []


async def test_six_ratings_after_one_resolved_chat_store_one_for_its_agent(knowledge_base: Path) -> None:
    now = utcnow()
    with dependencies.database().session() as session:
        ann, bob = (
            StaffMember(email="ann@x", name="Ann", role="agent"),
            StaffMember(email="bob@x", name="Bob", role="agent"),
        )
        session.add_all([ann, bob])
        session.flush()
        common = {"conversation_id": "chat", "language": "en", "due_at": now}
        session.add(
            Escalation(**common, reason="complain", status="resolved", claimed_by_id=ann.id, resolved_at=now)
        )
        session.flush()
        # Later the buyer asked again and Bob has it now: the last agent, but not the one rated.
        session.add(Escalation(**common, reason="request_human", status="claimed", claimed_by_id=bob.id))
        ann_id = ann.id
    events = prompt("conversation_resolved", at=(now + timedelta(seconds=1)).timestamp())
    replies = []
    for _ in range(6):
        events.append(
            user('/give_rating{"rating": "1"}', "give_rating", [{"entity": "rating", "value": "1"}])
        )
        replies.append((await rate(events, sender="chat"))[0])
    assert replies[0] == ["utter_offer_rating_comment"]
    assert replies[1:] == [["utter_anything_else"]] * 5
    [rating] = ratings()
    assert (rating.stars, rating.staff_id, rating.topic) == (1, ann_id, "complain")
    # A new request (a goodbye to the bot later) may be rated once, for no agent.
    events += prompt(at=time.time() + 5)
    events.append(user("5", "give_rating"))
    await rate(events, sender="chat")
    assert [(r.stars, r.staff_id) for r in ratings()] == [(1, ann_id), (5, None)]


async def test_the_comment_is_kept_with_the_rating(knowledge_base: Path) -> None:
    await rate([*prompt(), user("5", "give_rating")])
    form = ValidateRatingCommentForm()
    comment = "<b>Fast</b> and kind, thanks!"
    result = await form.validate_rating_comment(comment, CollectingDispatcher(), tracker([]), {})
    assert result == {"rating_comment": comment}
    assert ratings()[0].comment == comment  # stored as text; shown as text
