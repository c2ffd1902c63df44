"""Ratings: stars from buttons or typed text, and the optional comment."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from trackers import tracker, user

import actions.dependencies as dependencies
from actions.ratings import ActionRecordRating, ValidateRatingCommentForm
from bot.db.models import Rating


def ratings() -> list[Rating]:
    with dependencies.database().session() as session:
        return list(session.scalars(select(Rating)))


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
    dispatcher = CollectingDispatcher()
    events = await ActionRecordRating().run(dispatcher, tracker([user(text, "give_rating", entities)]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_offer_rating_comment"]
    assert SlotSet("comment_offered", True) in events
    [rating] = ratings()
    assert (rating.stars, rating.language, rating.topic) == (stars, "en", "general")


async def test_no_stars_asks_again(knowledge_base: Path) -> None:
    dispatcher = CollectingDispatcher()
    await ActionRecordRating().run(dispatcher, tracker([user("meh", "give_rating")]), {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rating"]
    assert ratings() == []


async def test_the_comment_is_kept_with_the_rating(knowledge_base: Path) -> None:
    await ActionRecordRating().run(CollectingDispatcher(), tracker([user("5", "give_rating")]), {})
    form = ValidateRatingCommentForm()
    comment = "<b>Fast</b> and kind, thanks!"
    result = await form.validate_rating_comment(comment, CollectingDispatcher(), tracker([]), {})
    assert result == {"rating_comment": comment}
    assert ratings()[0].comment == comment  # stored as text; shown as text
