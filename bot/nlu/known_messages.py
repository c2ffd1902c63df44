"""Rasa component: a message that *is* a training example gets that example's intent.

DIET learns a smooth function of word and character n-grams, and on a retrain the
borderline ones move: "أريد التحدث مع إنسان" (I want to talk to a person) came out as
"are you a bot?" in one model and right in the next, "반갑습니다" as a fallback. Those
are exactly the everyday forms a buyer must never see misread (issue 12: thank-yous,
greetings, yes/no, "human please"), and they are in the training data on purpose.

So after the classifier, a message equal to a training example (compared folded:
case, accents and everything but letters and digits ignored) gets that example's
intent with confidence 1. Texts that the data gives two different intents are left
to the classifier. Everything else is untouched, so this changes nothing for text
the data does not hold word for word; tests/rasa/test_common_forms.py checks the
everyday forms in every language, with and without the conversation's language.
"""

from __future__ import annotations

import logging
from typing import Any

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.languages import fold

logger = logging.getLogger(__name__)


def key(text: str) -> str:
    """What two messages must share to count as the same: folded letters and digits."""
    return "".join(c for c in fold(text) if c.isalnum())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class KnownMessageClassifier(GraphComponent):
    TABLE_FILE = "known_messages.json"

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        table: dict[str, str] | None = None,
    ) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self.table = table or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KnownMessageClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KnownMessageClassifier:
        try:
            with model_storage.read_from(resource) as path:
                table = rasa.shared.utils.io.read_json_file(path / cls.TABLE_FILE)
            return cls(config, model_storage, resource, dict(table))
        except (ValueError, FileNotFoundError):
            logger.warning("No known-message table in the model; exact matches are off.")
            return cls(config, model_storage, resource)

    @staticmethod
    def build(examples: list[tuple[str, str]]) -> dict[str, str]:
        """Folded text → intent, for texts the data gives exactly one intent."""
        seen: dict[str, set[str]] = {}
        for text, intent in examples:
            folded = key(text)
            if folded:
                seen.setdefault(folded, set()).add(intent)
        return {text: next(iter(intents)) for text, intents in seen.items() if len(intents) == 1}

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            (str(m.get(TEXT)), str(m.get(INTENT)))
            for m in training_data.intent_examples
            if m.get(TEXT) and m.get(INTENT)
        ]
        self.table = self.build(examples)
        with self._model_storage.write_to(self._resource) as path:
            rasa.shared.utils.io.dump_obj_as_json_to_file(path / self.TABLE_FILE, self.table)
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = self.table.get(key(str(message.get(TEXT) or "")))
            if intent is None:
                continue
            known = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
            # The others keep their order at confidence 0: the gates after this one
            # (fallback, side effects) compare the best with the runner-up.
            ranking = [
                {**r, PREDICTED_CONFIDENCE_KEY: 0.0}
                for r in message.get(INTENT_RANKING_KEY) or []
                if r.get(INTENT_NAME_KEY) != intent
            ]
            message.data[INTENT] = known
            message.data[INTENT_RANKING_KEY] = [known, *ranking]
        return messages
