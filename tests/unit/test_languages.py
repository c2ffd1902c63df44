"""Language names and locales."""

from __future__ import annotations

import pytest

from bot.languages import (
    LANGUAGE_NAMES,
    NATIVE_NAMES,
    SUPPORTED_LANGUAGES,
    language_from_locale,
    normalise_language,
    requested_language,
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("can we speak Spanish?", "es"),
        ("english please", "en"),
        ("¿puedes hablar en inglés?", "en"),
        ("parlez-vous français ?", "fr"),
        ("auf deutsch bitte", "de"),
        ("fala portugues?", "pt"),
        ("можно по-русски?", "ru"),
        ("ممكن تتكلم بالعربي", "ar"),
        ("日本語でお願いします", "ja"),
        ("한국어로 해주세요", "ko"),
        ("可以说中文吗", "zh"),
        ("中文", "zh"),
        ("not english, french please", "fr"),
    ],
)
def test_requested_language(text: str, language: str) -> None:
    assert requested_language(text) == language


def test_unsupported_and_unnamed_languages() -> None:
    assert requested_language("can we speak italian?") == "unsupported"
    assert requested_language("another language please") is None


@pytest.mark.parametrize(
    ("locale", "language"),
    [("pt-BR", "pt"), ("zh_Hant_TW", "zh"), ("ES", "es"), ("it-IT", None), ("", None), (None, None)],
)
def test_language_from_locale(locale: str | None, language: str | None) -> None:
    assert language_from_locale(locale) == language


def test_every_language_has_names_and_a_native_name() -> None:
    assert set(LANGUAGE_NAMES) == set(SUPPORTED_LANGUAGES) == set(NATIVE_NAMES)
    for code in SUPPORTED_LANGUAGES:
        assert requested_language(NATIVE_NAMES[code]) == code


def test_normalise_language() -> None:
    assert normalise_language(" FR ") == "fr"
    assert normalise_language("xx") is None
    assert normalise_language(3) is None
