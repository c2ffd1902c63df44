"""The everyday forms of the small-talk intents are never misread, in any language.

Most buyers say "thanks", "hi", "yes", "no" or "human please" in the one or two
ways everybody uses; if one of those is wrong the assistant looks broken however
good its average accuracy is. tests/rasa/common_forms.yml lists them (6-10 per
intent and language). They are parsed by the trained model the way the web
service sends them: with the conversation's language in the message metadata
(``conversation_language``, read by bot.nlu.language_detector), and also with
no metadata at all (a first message, or /model/parse), which is stricter.

Every form is also a training example, and bot.nlu.known_messages gives a message
that is a training example its intent, so a retrain cannot move them (before that
component, two to four of them moved with every retrain). This is a guarantee
test, not a measure of generalisation: that is the frozen benchmark's job.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
FORMS_FILE = Path(__file__).with_name("common_forms.yml")
LANGUAGES = ["en", "zh", "es", "fr", "de", "pt", "ru", "ar", "ja", "ko"]

#: language -> intent -> texts
Forms = dict[str, dict[str, list[str]]]
#: (language, intent, text, with prior?) -> predicted intent
Predictions = dict[tuple[str, str, str, bool], str]


def load_forms() -> Forms:
    """The forms file, checked for shape so a typo there fails loudly, not silently."""
    forms: Forms = yaml.safe_load(FORMS_FILE.read_text("utf-8"))
    assert sorted(forms) == sorted(LANGUAGES)
    for language, intents in forms.items():
        for intent, texts in intents.items():
            assert 6 <= len(texts) <= 10, f"{language}/{intent}: 6-10 forms expected"
            assert all(isinstance(text, str) for text in texts), f"{language}/{intent}"
    return forms


def test_forms_file_covers_every_language_and_intent() -> None:
    wanted = {"greet", "goodbye", "thanks", "affirm", "deny", "request_human"}
    for language, intents in load_forms().items():
        assert set(intents) == wanted, language


async def _parse_all(model: Path, forms: Forms) -> Predictions:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    agent = Agent.load(str(model))
    assert agent.processor is not None
    predictions: Predictions = {}
    for language, intents in forms.items():
        for intent, texts in intents.items():
            for text in texts:
                for prior in (True, False):
                    metadata = {"conversation_language": language} if prior else None
                    parsed: dict[str, Any] = await agent.processor.parse_message(
                        UserMessage(text, metadata=metadata)
                    )
                    predictions[(language, intent, text, prior)] = parsed["intent"]["name"]
    return predictions


@pytest.fixture(scope="module")
def predictions() -> Predictions:
    """Every form parsed once (loading the model takes ~20 s, so once per module)."""
    if not MODEL.exists():
        pytest.skip(f"no trained model at {MODEL.relative_to(ROOT)}: run `make train` first")
    return asyncio.run(_parse_all(MODEL, load_forms()))


def _wrong(predictions: Predictions, language: str, prior: bool) -> list[str]:
    return [
        f"{text!r}: expected {intent}, got {got}"
        for (lang, intent, text, with_prior), got in predictions.items()
        if lang == language and with_prior == prior and got != intent
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_common_forms_with_conversation_language(predictions: Predictions, language: str) -> None:
    wrong = _wrong(predictions, language, prior=True)
    assert not wrong, f"{language}, conversation language known: " + "; ".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_common_forms_without_prior(predictions: Predictions, language: str) -> None:
    wrong = _wrong(predictions, language, prior=False)
    assert not wrong, f"{language}, no prior: " + "; ".join(wrong)
