"""Every bot text exists in every language, with the same placeholders and buttons."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.languages import SUPPORTED_LANGUAGES
from bot.responses import Catalogue, CatalogueError, fill, placeholders
from bot.settings import PROJECT_ROOT

DOMAIN = PROJECT_ROOT / "domain.yml"
TRANSLATIONS = PROJECT_ROOT / "data" / "translations"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load(DOMAIN, TRANSLATIONS)


def test_every_response_is_translated_into_every_language(catalogue: Catalogue) -> None:
    assert catalogue.missing() == {}, "responses lacking translations (name: languages)"


def test_translation_files_cover_every_supported_language() -> None:
    files = {path.stem for path in TRANSLATIONS.glob("*.yml")}
    assert files == set(SUPPORTED_LANGUAGES) - {"en"}


def test_every_utter_action_in_the_domain_has_a_response(catalogue: Catalogue) -> None:
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    utter_actions = {a for a in domain["actions"] if a.startswith("utter_")}
    assert utter_actions <= set(catalogue.names())


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_translations_keep_placeholders_and_buttons(catalogue: Catalogue, language: str) -> None:
    for name in catalogue.names():
        english = catalogue.texts[name]["en"]
        translated = catalogue.texts[name][language]
        assert len(translated) == len(english), name
        for en_variant, variant in zip(english, translated, strict=True):
            assert placeholders(variant["text"]) == placeholders(en_variant["text"]), (name, language)
            en_payloads = [b["payload"] for b in en_variant.get("buttons", [])]
            assert [b["payload"] for b in variant.get("buttons", [])] == en_payloads, (name, language)
            assert variant["text"].strip(), (name, language)


def test_language_changed_is_written_in_its_own_language(catalogue: Catalogue) -> None:
    texts = {lang: catalogue.texts["utter_language_changed"][lang][0]["text"] for lang in SUPPORTED_LANGUAGES}
    assert len(set(texts.values())) == len(SUPPORTED_LANGUAGES)


def test_render_fills_placeholders_and_picks_the_language(catalogue: Catalogue) -> None:
    message = catalogue.render("utter_greet", "es", {"store_name": "Tienda Sol"})
    assert message is not None
    assert "Tienda Sol" in message["text"]
    assert message["text"] != catalogue.render("utter_greet", "en", {"store_name": "Tienda Sol"})["text"]  # type: ignore[index]


def test_missing_translation_falls_back_to_english(tmp_path: Path) -> None:
    (tmp_path / "de.yml").write_text("language: de\ntranslations: {}\n", encoding="utf-8")
    catalogue = Catalogue.load(DOMAIN, tmp_path)
    message = catalogue.render("utter_goodbye", "de", {"store_name": "Shop"})
    assert message == catalogue.render("utter_goodbye", "en", {"store_name": "Shop"})
    assert "utter_goodbye" in catalogue.missing()


def test_unknown_response_renders_nothing(catalogue: Catalogue) -> None:
    assert catalogue.render("utter_does_not_exist", "en") is None


def test_malformed_translation_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "fr.yml").write_text("language: fr\ntranslations:\n  utter_greet: [{}]\n", encoding="utf-8")
    with pytest.raises(CatalogueError):
        Catalogue.load(DOMAIN, tmp_path)
    (tmp_path / "fr.yml").write_text("language: xx\ntranslations: {}\n", encoding="utf-8")
    with pytest.raises(CatalogueError):
        Catalogue.load(DOMAIN, tmp_path)


def test_fill_never_interprets_values_or_stray_braces() -> None:
    assert fill("Hi {name}", {"name": "{0.__class__}"}) == "Hi {0.__class__}"
    assert fill("{unknown} and {x:>10}", {}) == "{unknown} and {x:>10}"
    assert fill("{a}", {"a": None}) == "{a}"
