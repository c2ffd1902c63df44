"""Interface labels (widget, staff console, dashboard, demo store) in every language.

Each catalogue is a YAML file in data/ui/ mapping a label key to its text in
every supported language, like the canned replies. Pages fetch their labels
from the web service instead of carrying English in the HTML, so a missing
translation is a data problem a unit test catches, not a page in the wrong
language.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from bot.settings import PROJECT_ROOT

LABELS_DIR = PROJECT_ROOT / "data" / "ui"
#: The catalogues the web service serves (file name without ``.yml``).
CATALOGUES: tuple[str, ...] = ("widget", "console", "store")


@lru_cache(maxsize=8)
def ui_labels(name: str, directory: Path = LABELS_DIR) -> dict[str, dict[str, str]]:
    """Label key → language → text for the catalogue ``name``."""
    data = yaml.safe_load((directory / f"{name}.yml").read_text(encoding="utf-8")) or {}
    labels = data.get("labels") or {}
    return {str(key): {str(lang): str(text) for lang, text in texts.items()} for key, texts in labels.items()}


def labels_for(name: str, language: str) -> dict[str, str]:
    """The catalogue in one language; a missing text falls back to the default language."""
    language = language if language in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE
    return {key: texts.get(language) or texts[DEFAULT_LANGUAGE] for key, texts in ui_labels(name).items()}


def labels_by_language(name: str) -> dict[str, dict[str, str]]:
    """The catalogue in every supported language (language → key → text), for pages
    that switch language without another request."""
    return {language: labels_for(name, language) for language in SUPPORTED_LANGUAGES}
