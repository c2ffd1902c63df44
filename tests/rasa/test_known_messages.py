"""The exact-match classifier (bot/nlu/known_messages.py) inside Rasa's graph types."""

from __future__ import annotations

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.known_messages import KnownMessageClassifier, key


def trained(model_storage: ModelStorage, execution_context: ExecutionContext) -> KnownMessageClassifier:
    resource = Resource("known")
    component = KnownMessageClassifier.create({}, model_storage, resource, execution_context)
    examples = [
        Message(data={"text": "أريد التحدث مع إنسان", "intent": "request_human"}),
        Message(data={"text": "Human please!", "intent": "request_human"}),
        Message(data={"text": "давай", "intent": "goodbye"}),
        Message(data={"text": "Давай!", "intent": "affirm"}),  # two intents: left to DIET
    ]
    component.train(TrainingData(training_examples=examples))
    return KnownMessageClassifier.load({}, model_storage, resource, execution_context)


def parsed(text: str, intent: str, confidence: float) -> Message:
    ranking = [
        {"name": intent, "confidence": confidence},
        {"name": "request_human", "confidence": 1 - confidence},
    ]
    return Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})


def test_a_training_example_gets_its_intent_whatever_the_classifier_said(
    model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    component = trained(model_storage, execution_context)
    [message] = component.process([parsed("أريد التحدث مع إنسان", "bot_challenge", 0.7)])
    assert message.get("intent") == {"name": "request_human", "confidence": 1.0}
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == "request_human" and [r["name"] for r in ranking[1:]] == ["bot_challenge"]
    assert ranking[1]["confidence"] == 0.0
    # Case, punctuation and spacing do not matter; other words do.
    [same] = component.process([parsed("human   PLEASE", "greet", 0.9)])
    assert same.get("intent")["name"] == "request_human"
    [other] = component.process([parsed("human please now", "greet", 0.9)])
    assert other.get("intent") == {"name": "greet", "confidence": 0.9}


def test_a_text_with_two_intents_in_the_data_is_left_to_the_classifier(
    model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    component = trained(model_storage, execution_context)
    [message] = component.process([parsed("давай", "affirm", 0.6)])
    assert message.get("intent") == {"name": "affirm", "confidence": 0.6}


def test_every_everyday_form_is_a_training_example_of_its_intent() -> None:
    """tests/rasa/common_forms.yml relies on it (see that test's docstring)."""
    from pathlib import Path

    import yaml
    from rasa.shared.nlu.training_data.loading import load_data

    root = Path(__file__).resolve().parents[2]
    data = load_data(str(root / "data" / "nlu"))
    table = KnownMessageClassifier.build(
        [(str(m.get("text")), str(m.get("intent"))) for m in data.intent_examples]
    )
    forms = yaml.safe_load((Path(__file__).with_name("common_forms.yml")).read_text("utf-8"))
    wrong = [
        f"{language} {intent}: {text!r} -> {table.get(key(str(text)))}"
        for language, intents in forms.items()
        for intent, texts in intents.items()
        for text in texts
        if table.get(key(str(text))) != intent
    ]
    assert not wrong, "\n".join(wrong)
