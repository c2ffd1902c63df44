"""Per-language word segmentation with spaCy blank pipelines.

No pretrained weights can be downloaded where this runs, so every language gets
``spacy.blank(lang)``: rule-based tokenizers for the Latin, Cyrillic, Arabic and
Korean scripts (Korean with spaCy's rule-based tokenizer, not MeCab), jieba for
Chinese and SudachiPy with its packaged dictionary for Japanese. The NLU
tokenizer and the knowledge-base index share this module, so a question is cut
into words the same way when it is learnt and when it is looked up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from bot.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

#: spaCy configuration overrides per language (blank pipelines, no weights).
_BLANK_CONFIG: dict[str, dict[str, Any]] = {
    "zh": {"nlp": {"tokenizer": {"segmenter": "jieba"}}},
    "ko": {"nlp": {"tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}},
}


@dataclass(frozen=True)
class Token:
    """A word and where it starts in the text."""

    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


class Tokenizers:
    """Lazily built spaCy blank pipelines, one per language.

    Building a pipeline takes from milliseconds (English) to a second (jieba's
    dictionary), so each is built on first use and kept. Thread-safe.
    """

    def __init__(self) -> None:
        self._pipelines: dict[str, Any] = {}
        self._lock = threading.Lock()

    def pipeline(self, language: str) -> Any:
        """Return the spaCy ``Language`` for ``language`` (default language if unknown)."""
        if language not in SUPPORTED_LANGUAGES:
            language = DEFAULT_LANGUAGE
        pipeline = self._pipelines.get(language)
        if pipeline is None:
            with self._lock:
                pipeline = self._pipelines.get(language)
                if pipeline is None:
                    pipeline = _build(language)
                    self._pipelines[language] = pipeline
        return pipeline

    def tokenize(self, text: str, language: str) -> list[Token]:
        """Split ``text`` into words (whitespace-only tokens dropped)."""
        doc = self.pipeline(language).make_doc(text)
        return [Token(t.text, t.idx) for t in doc if t.text.strip()]

    def warm_up(self, languages: tuple[str, ...] = SUPPORTED_LANGUAGES) -> None:
        """Build every pipeline now, so the first buyer does not wait for jieba."""
        for language in languages:
            self.tokenize("warm up", language)


def _build(language: str) -> Any:
    import logging

    import spacy

    logging.getLogger("jieba").setLevel(logging.WARNING)
    config = _BLANK_CONFIG.get(language)
    return spacy.blank(language, config=config) if config else spacy.blank(language)
