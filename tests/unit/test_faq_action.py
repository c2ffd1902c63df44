"""Answering store questions from the knowledge base, through the action."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher
from trackers import tracker, user

from actions import faq
from actions.faq import ActionAnswerQuestion, answer_question


async def ask(
    text: str, language: str = "en", entities: list[dict[str, str]] | None = None
) -> CollectingDispatcher:
    dispatcher = CollectingDispatcher()
    t = tracker([user(text, "ask_question", entities)], slots={"language": language})
    await ActionAnswerQuestion().run(dispatcher, t, {})
    return dispatcher


async def test_confident_answer_in_the_buyers_language(knowledge_base: Path) -> None:
    dispatcher = await ask("cuanto tarda el envio a mexico", "es")
    assert [m["text"] for m in dispatcher.messages] == ["El envío tarda 7-14 días desde Sol Shop."]


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
    assert [m["text"] for m in dispatcher.messages] == ["Return shipping is free for faulty items."]


async def test_no_answer_says_so(knowledge_base: Path) -> None:
    dispatcher = await ask("do you sell garden furniture")
    assert [m["response"] for m in dispatcher.messages] == ["utter_faq_no_answer"]


async def test_confident_only_says_nothing_when_unsure(
    knowledge_base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faq, "ANSWER_MARGIN", 0.5)
    dispatcher = CollectingDispatcher()
    outcome = answer_question(dispatcher, tracker([user("return", "nlu_fallback")]), confident_only=True)
    assert outcome.kind == "unanswered"
    assert dispatcher.messages == []
