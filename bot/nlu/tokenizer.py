"""Rasa component: tokenize each message with the spaCy blank pipeline of its language.

Rasa's own tokenizers take one language per model; our model serves ten, so the
language component tags every message first and this tokenizer follows the tag.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.languages import DEFAULT_LANGUAGE
from bot.nlu.language_detector import LANGUAGE_ATTRIBUTE
from bot.tokenization import Tokenizers

_ORDER_CODE_RE = re.compile(r"[A-Za-z]*[0-9]+")
_PIECE_RE = re.compile(r"[0-9０-９]+|[^\W0-9０-９_]+", re.UNICODE)


def _pieces(word: str) -> list[re.Match[str]]:
    """Split "3/5" into "3" and "5", and "5점" or "5星" into the number and the word.

    Buyers glue ratings and counters to their unit, but "A12345" and "so10234"
    stay whole: they are order numbers. Punctuation-only pieces are dropped.
    """
    if _ORDER_CODE_RE.fullmatch(word):
        return [m for m in re.finditer(r".+", word)]
    return list(_PIECE_RE.finditer(word))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class MultilingualTokenizer(Tokenizer):
    """Words per language: jieba (zh), SudachiPy (ja), spaCy rules (the rest)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._tokenizers = Tokenizers()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MultilingualTokenizer:
        tokenizer = cls(config)
        # Load jieba's and Sudachi's dictionaries with the model, not when the
        # first Chinese or Japanese buyer writes (about a second each).
        tokenizer._tokenizers.warm_up()
        return tokenizer

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        language = message.get(LANGUAGE_ATTRIBUTE) or DEFAULT_LANGUAGE
        tokens = [
            Token(piece.group(), word.start + piece.start())
            for word in self._tokenizers.tokenize(text, language)
            for piece in _pieces(word.text)
        ]
        if not tokens:
            # Rasa needs at least one token; an emoji-only message is one token.
            return [Token(text, 0)] if text else []
        return self._apply_token_pattern(tokens)
