"""Answering store questions from the knowledge base, through the action."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from trackers import bot_action, tracker, user

import actions.dependencies as dependencies
from actions import faq
from actions.faq import ActionAnswerQuestion, answer_question
from actions.feedback import ActionFaqFeedback
from bot.knowledge.feedback import FeedbackStore, Helpfulness


async def ask(
    text: str, language: str = "en", entities: list[dict[str, str]] | None = None
) -> CollectingDispatcher:
    dispatcher, _ = await ask_with_events(text, language, entities)
    return dispatcher


async def ask_with_events(
    text: str, language: str = "en", entities: list[dict[str, str]] | None = None
) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    t = tracker([user(text, "ask_question", entities)], slots={"language": language})
    events = await ActionAnswerQuestion().run(dispatcher, t, {})
    return dispatcher, events


def said(dispatcher: CollectingDispatcher) -> list[str]:
    """What the bot said: texts, and response names for templated messages."""
    return [m.get("text") or m["response"] for m in dispatcher.messages]


SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


async def test_confident_answer_in_the_buyers_language(knowledge_base: Path) -> None:
    dispatcher, events = await ask_with_events("cuanto tarda el envio a mexico", "es")
    assert said(dispatcher) == ["El envío tarda 7-14 días desde Sol Shop.", "utter_faq_did_it_help"]
    assert SlotSet("feedback_entry", "shipping-time") in events
    assert SlotSet("feedback_asked", True) in events


async def test_missing_translation_answers_in_the_default_language_and_says_so(knowledge_base: Path) -> None:
    # The entry has no Spanish; the buyer's English words still find it.
    dispatcher = await ask("what is your return policy", "es")
    assert dispatcher.messages[0]["response"] == "utter_faq_not_translated"
    assert dispatcher.messages[0]["answer_language"] == "English"
    assert dispatcher.messages[1]["text"] == "You can return items within 30 days."


async def test_middle_band_offers_the_top_matches_as_buttons(
    knowledge_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "return" matches two entries about as well: no clear winner at this margin.
    monkeypatch.setattr(faq, "ANSWER_MARGIN", 0.5)
    dispatcher = await ask("return")
    [message] = dispatcher.messages
    assert message["response"] == "utter_faq_suggestions"
    payloads = [b["payload"] for b in message["buttons"]]
    assert '/ask_question{"faq_id": "returns-policy"}' in payloads
    assert len(payloads) <= 3


async def test_a_suggestion_button_answers_that_entry(knowledge_base: Path) -> None:
    dispatcher = await ask(
        '/ask_question{"faq_id": "returns-shipping-cost"}',
        entities=[{"entity": "faq_id", "value": "returns-shipping-cost"}],
    )
    assert said(dispatcher) == ["Return shipping is free for faulty items.", "utter_faq_did_it_help"]


async def test_no_answer_says_so_offers_a_person_and_stores_the_question(
    knowledge_base: Path, stored: FeedbackStore
) -> None:
    dispatcher, events = await ask_with_events("do you sell garden furniture")
    assert said(dispatcher) == ["utter_faq_no_answer"]
    assert SlotSet("human_offered", True) in events
    [question] = stored.unanswered(SINCE)
    assert (question.text, question.language, question.reason, question.conversation_id) == (
        "do you sell garden furniture",
        "en",
        "no_answer",
        "test",
    )


async def test_suggestions_are_stored_as_unanswered(
    knowledge_base: Path, stored: FeedbackStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faq, "ANSWER_MARGIN", 0.5)
    await ask("return")
    [question] = stored.unanswered(SINCE)
    assert question.reason == "suggested"
    assert question.entry_id in {"returns-policy", "returns-shipping-cost"}


async def test_confident_answers_are_not_stored_as_unanswered(
    knowledge_base: Path, stored: FeedbackStore
) -> None:
    await ask("how long does delivery take")
    assert stored.unanswered(SINCE) == []


async def test_a_broken_database_never_breaks_the_answer(
    knowledge_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent-dir/x/y.db")
    dependencies.feedback_store.cache_clear()
    dependencies.database.cache_clear()
    dependencies.settings.cache_clear()
    dispatcher = await ask("do you sell garden furniture")
    assert said(dispatcher) == ["utter_faq_no_answer"]


def feedback_tracker(reply: str, intent: str, unhelpful: float = 0.0) -> Any:
    events = [
        user("how long does delivery take", "ask_question"),
        bot_action("action_answer_question"),
        user(reply, intent),
    ]
    slots = {"feedback_entry": "shipping-time", "feedback_asked": True, "unhelpful_answers": unhelpful}
    return tracker(events, slots=slots)


async def test_helped_is_recorded(knowledge_base: Path, stored: FeedbackStore) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionFaqFeedback().run(dispatcher, feedback_tracker("yes", "affirm"), {})
    assert said(dispatcher) == ["utter_faq_glad"]
    assert SlotSet("feedback_asked", False) in events
    assert stored.helpfulness(SINCE) == {"shipping-time": Helpfulness(helpful=1, not_helpful=0)}
    assert stored.unanswered(SINCE) == []


async def test_did_not_help_is_recorded_with_the_question_and_offers_a_person(
    knowledge_base: Path, stored: FeedbackStore
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionFaqFeedback().run(dispatcher, feedback_tracker("no", "deny"), {})
    assert said(dispatcher) == ["utter_faq_not_helped"]
    assert SlotSet("human_offered", True) in events
    assert SlotSet("unhelpful_answers", 1.0) in events
    assert stored.helpfulness(SINCE) == {"shipping-time": Helpfulness(helpful=0, not_helpful=1)}
    [question] = stored.unanswered(SINCE)
    assert (question.text, question.reason, question.entry_id) == (
        "how long does delivery take",
        "not_helpful",
        "shipping-time",
    )


async def test_second_did_not_help_hands_over_to_a_person(
    knowledge_base: Path, stored: FeedbackStore
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionFaqFeedback().run(dispatcher, feedback_tracker("no", "deny", unhelpful=1.0), {})
    assert said(dispatcher) == ["utter_handoff_queued"]
    assert SlotSet("unhelpful_answers", 0.0) in events


async def test_confident_only_says_nothing_when_unsure(
    knowledge_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faq, "ANSWER_MARGIN", 0.5)
    dispatcher = CollectingDispatcher()
    outcome = answer_question(dispatcher, tracker([user("return", "nlu_fallback")]), confident_only=True)
    assert outcome.kind == "unanswered"
    assert dispatcher.messages == []
