"""Custom actions with tracker fixtures and a collecting dispatcher."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import ActionDeclineHuman, ActionEscalate
from actions.fallback import ActionHandleFallback, misunderstandings_in_a_row
from actions.faq import ActionAnswerQuestion
from actions.language import ActionChangeLanguage
from actions.orders import ActionTrackOrder


def user(text: str, intent: str, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "text": text,
        },
    }


def bot_action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def tracker(events: list[dict[str, Any]], slots: dict[str, Any] | None = None) -> Tracker:
    latest = next(
        (e["parse_data"] | {"text": e["text"]} for e in reversed(events) if e["event"] == "user"), {}
    )
    return Tracker.from_dict(
        {
            "sender_id": "test",
            "slots": {"language": "en", "human_offered": False, **(slots or {})},
            "latest_message": latest,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


async def run(action: Any, t: Tracker) -> tuple[list[Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return events, dispatcher


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("can we speak spanish?", "es"),
        ("auf deutsch bitte", "de"),
        ("日本語でお願いします", "ja"),
        ("한국어로", "ko"),
    ],
)
async def test_change_language_from_text(text: str, language: str) -> None:
    events, dispatcher = await run(ActionChangeLanguage(), tracker([user(text, "change_language")]))
    assert events == [SlotSet("language", language)]
    assert responses(dispatcher) == ["utter_language_changed"]
    # Rendered in the new language: the slot only changes after the action.
    assert dispatcher.messages[0]["language"] == language


async def test_change_language_from_a_button_entity() -> None:
    entity = {"entity": "requested_language", "value": "pt"}
    events, _ = await run(
        ActionChangeLanguage(), tracker([user("/change_language", "change_language", [entity])])
    )
    assert events == [SlotSet("language", "pt")]


@pytest.mark.parametrize("text", ["can we speak italian?", "other language please"])
async def test_unsupported_or_unnamed_language(text: str) -> None:
    events, dispatcher = await run(ActionChangeLanguage(), tracker([user(text, "change_language")]))
    assert events == []
    assert responses(dispatcher) == ["utter_language_not_supported"]


def test_misunderstandings_are_counted_in_a_row_only() -> None:
    events = [
        user("asdf", "nlu_fallback"),
        bot_action("action_handle_fallback"),
        user("hi", "greet"),
        user("qwer", "nlu_fallback"),
        bot_action("action_handle_fallback"),
        user("zxcv", "nlu_fallback"),
    ]
    assert misunderstandings_in_a_row(tracker(events)) == 2
    assert misunderstandings_in_a_row(tracker([user("hi", "greet")])) == 0


async def test_first_misunderstanding_asks_to_rephrase() -> None:
    events, dispatcher = await run(ActionHandleFallback(), tracker([user("asdf", "nlu_fallback")]))
    assert responses(dispatcher) == ["utter_default"]
    assert events == [SlotSet("human_offered", False)]


async def test_second_misunderstanding_in_a_row_offers_a_person() -> None:
    history = [
        user("asdf", "nlu_fallback"),
        bot_action("action_handle_fallback"),
        user("qwer", "nlu_fallback"),
    ]
    events, dispatcher = await run(ActionHandleFallback(), tracker(history))
    assert responses(dispatcher) == ["utter_offer_human"]
    assert events == [SlotSet("human_offered", True)]


@pytest.mark.parametrize(
    ("action", "response"),
    [
        (ActionTrackOrder(), "utter_order_tracking_unavailable"),
        (ActionAnswerQuestion(), "utter_faq_unavailable"),
        (ActionEscalate(), "utter_human_unavailable"),
        (ActionDeclineHuman(), "utter_anything_else"),
    ],
)
async def test_not_yet_available_features_say_so(action: Any, response: str) -> None:
    _, dispatcher = await run(action, tracker([user("x", "ask_order_status")]))
    assert responses(dispatcher) == [response]


def test_every_action_is_in_the_domain() -> None:
    import yaml

    from bot.settings import PROJECT_ROOT

    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    names = {
        a().name()
        for a in (
            ActionChangeLanguage,
            ActionHandleFallback,
            ActionTrackOrder,
            ActionAnswerQuestion,
            ActionEscalate,
            ActionDeclineHuman,
        )
    }
    assert names <= set(domain["actions"])
