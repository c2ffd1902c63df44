"""Our NLU components inside Rasa: language tagging, the language entity, tokens per language."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.language_detector import LanguageDetectorComponent
from bot.nlu.tokenizer import MultilingualTokenizer
from bot.settings import PROJECT_ROOT
from bot.training_data import nlu_examples


def example(text: str, intent: str, language: str) -> Message:
    return Message.build(text, intent, intent_metadata={"language": language})


@pytest.fixture
def trained(model_storage: ModelStorage, execution_context: ExecutionContext) -> LanguageDetectorComponent:
    resource = Resource("language")
    component = LanguageDetectorComponent.create({}, model_storage, resource, execution_context)
    # Trained on the project's own NLU examples, as `rasa train` does.
    examples = nlu_examples(PROJECT_ROOT / "data" / "nlu")
    component.train(TrainingData([example(text, intent, lang) for text, intent, lang in examples]))
    return LanguageDetectorComponent.load({}, model_storage, resource, execution_context)


def test_training_examples_are_tagged_with_their_declared_language(
    trained: LanguageDetectorComponent,
) -> None:
    data = TrainingData([example("ok", "affirm", "fr"), example("hello", "greet", "de")])
    trained.process_training_data(data)
    assert [m.get("language") for m in data.training_examples] == ["fr", "de"]
    # No language entity at training time: DIET must not learn to extract it.
    assert all(not m.get(ENTITIES) for m in data.training_examples)


def test_the_lexicon_survives_persistence(trained: LanguageDetectorComponent) -> None:
    [message] = trained.process([Message({TEXT: "gracias"})])
    assert message.get("language") == "es"


@pytest.mark.parametrize(
    ("text", "metadata", "language"),
    [
        ("ok", {"conversation_language": "fr"}, "fr"),
        ("👍", {"locale": "ja-JP"}, "ja"),
        ("A12345", {"conversation_language": "de", "locale": "en-US"}, "de"),
        ("我的订单呢", {"conversation_language": "en"}, "zh"),
        ("где мой заказ", {}, "ru"),
        ("hola, donde esta mi pedido?", {"conversation_language": "en"}, "es"),
        ("ok", None, "en"),
        # One short off-topic message never flips the conversation (it did before):
        ("toca musica romantica", {"conversation_language": "pt", "locale": "es-ES"}, "pt"),
        ("reserva una mesa para dos", {"conversation_language": "es"}, "es"),
        ("rpg", {"conversation_language": "ja"}, "ja"),
        # A whole sentence in another language does.
        ("bonjour, je voudrais savoir où en est ma commande", {"conversation_language": "en"}, "fr"),
    ],
)
def test_language_entity_at_inference(
    trained: LanguageDetectorComponent, text: str, metadata: dict[str, str] | None, language: str
) -> None:
    message = Message({TEXT: text, METADATA: metadata})
    trained.process([message])
    [entity] = [e for e in message.get(ENTITIES) if e["entity"] == "language"]
    assert entity["value"] == language
    assert (entity["start"], entity["end"]) == (0, len(text))
    assert entity["extractor"] == "LanguageDetectorComponent"
    assert message.get("language") == language


@pytest.mark.parametrize(
    ("text", "language", "tokens"),
    [
        ("where is my order #10234?", "en", ["where", "is", "my", "order", "10234"]),
        ("rating 3/5", "en", ["rating", "3", "5"]),
        ("order A12345 pls", "en", ["order", "A12345", "pls"]),
        ("我的订单在哪里", "zh", ["我", "的", "订单", "在", "哪里"]),
        ("注文はどこですか", "ja", ["注文", "は", "どこ", "です", "か"]),
        ("5점 드려요", "ko", ["5", "점", "드려요"]),
        ("أين طلبي؟", "ar", ["أين", "طلبي"]),
        ("👍", "en", ["👍"]),
    ],
)
def test_tokens_follow_the_message_language(text: str, language: str, tokens: list[str]) -> None:
    tokenizer = MultilingualTokenizer(MultilingualTokenizer.get_default_config())
    message = Message({TEXT: text})
    message.set("language", language)
    result = tokenizer.tokenize(message, TEXT)
    assert [t.text for t in result] == tokens
    for token in result:
        assert text[token.start : token.end] == token.text


@pytest.fixture
def gibberish_filter(model_storage: ModelStorage, execution_context: ExecutionContext) -> Any:
    from bot.nlu.unknown_words import UnknownWordsFallback

    tokenizer = MultilingualTokenizer(MultilingualTokenizer.get_default_config())
    examples = nlu_examples(PROJECT_ROOT / "data" / "nlu")
    data = TrainingData([example(text, intent, lang) for text, intent, lang in examples])
    for message in data.training_examples:
        message.set("language", message.get(METADATA)["intent"]["language"])
    tokenizer.process_training_data(data)
    resource = Resource("unknown_words")
    UnknownWordsFallback.create({}, model_storage, resource, execution_context).train(data)
    return UnknownWordsFallback.load({}, model_storage, resource, execution_context), tokenizer


@pytest.mark.parametrize(
    ("text", "language", "fallback"),
    [
        ("blorft wugga", "en", True),
        ("xqzv plmk", "de", True),
        ("asdfgh", "fr", True),
        ("retrun polcy", "en", False),  # typos of real words keep their trigrams
        ("where is my order", "en", False),
        ("A12345", "en", False),
        ("geschenkgutschein", "de", False),  # an unseen but real-looking word
        ("ываываыва", "ru", True),
        ("你好", "zh", False),
    ],
)
def test_keyboard_mash_goes_to_the_fallback(
    gibberish_filter: Any, text: str, language: str, fallback: bool
) -> None:
    component, tokenizer = gibberish_filter
    message = Message({TEXT: text})
    message.set("language", language)
    message.set("intent", {"name": "affirm", "confidence": 0.84})
    tokenizer.process([message])
    [result] = component.process([message])
    assert (result.get("intent")["name"] == "nlu_fallback") is fallback
