"""Rasa component: detect each message's language and expose it as entity ``language``.

It runs first in the pipeline. Everything after it reads the message attribute
``language`` (the tokenizer picks its spaCy pipeline with it), the dialogue
reads the entity (it fills the ``language`` slot that chooses every response).

During training the language of an example comes from the ``metadata`` of its
intent block (``data/nlu/<lang>/*.yml`` declare it), so examples are never
mis-tokenized by a wrong guess, and the detector learns a lexicon of words used
in only one language from them. At inference the web service sends the
conversation's language and the browser locale in the message metadata; they
are the priors for short or ambiguous messages.

This entity is the only place a conversation's language changes by itself: the
``language`` slot is filled from it on every message, every response is
rendered in the slot's language by the web service's NLG endpoint, and the web
service remembers that language as the next message's ``conversation_language``.
So the detector's switch rule (bot/language_detection.py: a conversation's
language holds unless a script change or a whole sentence decisively in another
language says otherwise) is what keeps one short off-topic message from
flipping the reply language; asking for a language is ``action_change_language``.
"""

from __future__ import annotations

import logging
from typing import Any

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language_detection import LanguageDetector, Lexicon
from bot.languages import DEFAULT_LANGUAGE, language_from_locale, normalise_language

logger = logging.getLogger(__name__)

#: Message attribute holding the detected language code for later components.
LANGUAGE_ATTRIBUTE = "language"
#: Entity (and slot) name of the detected language.
LANGUAGE_ENTITY = "language"


def training_language(message: Message) -> str | None:
    """The language an NLU example is declared in, from its intent or example metadata."""
    metadata = message.get(METADATA) or {}
    for key in (METADATA_EXAMPLE, METADATA_INTENT):
        block = metadata.get(key)
        if isinstance(block, dict):
            language = normalise_language(block.get("language"))
            if language:
                return language
    return None


def message_priors(message: Message) -> tuple[str | None, str | None]:
    """(conversation language, browser-locale language) from the channel's metadata."""
    metadata = message.get(METADATA) or {}
    if not isinstance(metadata, dict):
        return None, None
    return (
        normalise_language(metadata.get("conversation_language")),
        language_from_locale(metadata.get("locale")),
    )


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class LanguageDetectorComponent(GraphComponent, EntityExtractorMixin):
    """Seeded langdetect + script rules + priors + a lexicon learnt from our data."""

    LEXICON_FILE = "lexicon.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"default_language": DEFAULT_LANGUAGE, "random_seed": 0}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: Lexicon | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._detector = LanguageDetector(
            lexicon=lexicon,
            default_language=self._config["default_language"],
            seed=self._config["random_seed"],
        )

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetectorComponent:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LanguageDetectorComponent:
        lexicon = None
        try:
            with model_storage.read_from(resource) as path:
                words = rasa.shared.utils.io.read_json_file(path / cls.LEXICON_FILE)
                lexicon = Lexicon.from_dict(words)
        except (ValueError, FileNotFoundError):
            logger.warning("No language lexicon in the model; detecting without it.")
        component = cls(config, model_storage, resource, lexicon)
        # Load lingua's models when the server starts, not on the first buyer's message.
        component._detector.warm_up()
        return component

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            (message.get(TEXT), language)
            for message in training_data.training_examples
            if message.get(TEXT) and (language := training_language(message))
        ]
        self._detector.lexicon = Lexicon.learn(examples)
        with self._model_storage.write_to(self._resource) as path:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                path / self.LEXICON_FILE, self._detector.lexicon.to_dict()
            )
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Tag each example with its declared language; no entity (DIET must not learn it)."""
        for message in training_data.training_examples:
            text = message.get(TEXT)
            if not text:
                continue
            language = training_language(message) or self._detector.detect(text).language
            message.set(LANGUAGE_ATTRIBUTE, language)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            conversation, locale = message_priors(message)
            detection = self._detector.detect(text, conversation, locale)
            message.set(LANGUAGE_ATTRIBUTE, detection.language)
            entity = {
                "entity": LANGUAGE_ENTITY,
                "value": detection.language,
                "start": 0,
                "end": len(text),
                "confidence_entity": detection.confidence,
                "method": detection.method,
            }
            entities = self.add_extractor_name([entity])
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
