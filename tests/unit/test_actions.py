"""Custom actions with tracker fixtures and a collecting dispatcher."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from trackers import tracker, user

from actions.escalation import ActionDeclineHuman
from actions.fallback import ActionHandleFallback
from actions.language import ActionChangeLanguage


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


async def test_first_misunderstanding_asks_to_rephrase(knowledge_base: Path) -> None:
    events, dispatcher = await run(ActionHandleFallback(), tracker([user("asdf qwer", "nlu_fallback")]))
    assert responses(dispatcher) == ["utter_default"]
    assert events == [
        SlotSet("misunderstandings", 1.0),
        SlotSet("human_offered", False),
        SlotSet("feedback_asked", False),
    ]


async def test_second_misunderstanding_in_a_row_offers_a_person(knowledge_base: Path) -> None:
    t = tracker([user("zxcv", "nlu_fallback")], slots={"misunderstandings": 1.0})
    events, dispatcher = await run(ActionHandleFallback(), t)
    assert responses(dispatcher) == ["utter_offer_human"]
    assert events == [
        SlotSet("misunderstandings", 0.0),
        SlotSet("human_offered", True),
        SlotSet("feedback_asked", False),
    ]


async def test_a_fallback_the_knowledge_base_can_answer_is_answered(knowledge_base: Path) -> None:
    t = tracker([user("how many days does delivery take", "nlu_fallback")], slots={"misunderstandings": 1.0})
    events, dispatcher = await run(ActionHandleFallback(), t)
    assert [m.get("text") or m["response"] for m in dispatcher.messages] == [
        "Delivery takes 7-14 days from Sol Shop.",
        "utter_faq_did_it_help",
    ]
    assert events == [
        SlotSet("misunderstandings", 0.0),
        SlotSet("feedback_entry", "shipping-time"),
        SlotSet("feedback_asked", True),
        SlotSet("human_offered", False),
    ]


async def test_misunderstood_messages_are_stored_for_the_admins(knowledge_base: Path, stored: Any) -> None:
    await run(ActionHandleFallback(), tracker([user("do you sell gift cards", "nlu_fallback")]))
    [question] = stored.unanswered(datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert (question.text, question.reason, question.language) == (
        "do you sell gift cards",
        "not_understood",
        "en",
    )


async def test_declining_the_person_carries_on_with_the_bot() -> None:
    _, dispatcher = await run(ActionDeclineHuman(), tracker([user("no", "deny")]))
    assert responses(dispatcher) == ["utter_anything_else"]


def test_every_action_is_in_the_domain() -> None:
    """Every action class in actions/ is listed in domain.yml, and every listed custom one exists."""
    import importlib
    import inspect
    import pkgutil

    import yaml
    from rasa_sdk import Action

    import actions
    from bot.settings import PROJECT_ROOT

    names = set()
    for module_info in pkgutil.iter_modules(actions.__path__):
        module = importlib.import_module(f"actions.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Action) and cls.__module__ == module.__name__ and not inspect.isabstract(cls):
                names.add(cls().name())
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    listed = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    assert names == listed
