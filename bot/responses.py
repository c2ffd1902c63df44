"""Every bot text in every language: the English in domain.yml, translations beside it.

The web service answers Rasa's NLG requests from this catalogue, choosing the
text by the conversation's ``language`` slot; it also uses it for the replies
it writes itself (empty message, message too long, Rasa unreachable). English,
the store's default language, stands in for any text a translation lacks, and
the coverage test fails on every gap.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

logger = logging.getLogger(__name__)

Variant = dict[str, Any]

_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class CatalogueError(ValueError):
    """A response or translation file is malformed."""


def placeholders(text: str) -> set[str]:
    """Names of the ``{placeholders}`` in a text."""
    return set(_PLACEHOLDER_RE.findall(text))


def fill(text: str, values: Mapping[str, Any]) -> str:
    """Fill ``{name}`` placeholders from ``values``; unknown ones stay as written.

    A plain substitution, not ``str.format``: a value or a stray brace can never
    be interpreted as a format spec.
    """

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER_RE.sub(replace, text)


@dataclass
class Catalogue:
    """Response name → language → list of variants (``{"text", "buttons"?}``)."""

    texts: dict[str, dict[str, list[Variant]]] = field(default_factory=dict)
    default_language: str = DEFAULT_LANGUAGE

    @classmethod
    def load(
        cls,
        domain_path: Path,
        translations_dir: Path,
        default_language: str = DEFAULT_LANGUAGE,
    ) -> Catalogue:
        """Read the English responses of ``domain_path`` and every translation file."""
        domain = _read_yaml(domain_path)
        responses = domain.get("responses") or {}
        if not isinstance(responses, dict):
            raise CatalogueError(f"{domain_path}: 'responses' must be a mapping")
        texts: dict[str, dict[str, list[Variant]]] = {
            name: {DEFAULT_LANGUAGE: _variants(domain_path, name, variants)}
            for name, variants in responses.items()
        }
        for path in sorted(translations_dir.glob("*.yml")):
            data = _read_yaml(path)
            language = data.get("language")
            if language not in SUPPORTED_LANGUAGES:
                raise CatalogueError(f"{path}: 'language' must be a supported code, got {language!r}")
            for name, variants in (data.get("translations") or {}).items():
                if name not in texts:
                    logger.warning("%s: %s is not a response in domain.yml; ignored", path, name)
                    continue
                texts[name][language] = _variants(path, name, variants)
        return cls(texts, default_language)

    def names(self) -> list[str]:
        return sorted(self.texts)

    def variants(self, name: str, language: str) -> tuple[list[Variant], str]:
        """The variants of ``name`` in ``language``, or in the fallback language.

        Returns the variants and the language they are really in.
        """
        by_language = self.texts.get(name, {})
        for candidate in (language, self.default_language, DEFAULT_LANGUAGE):
            if by_language.get(candidate):
                return by_language[candidate], candidate
        return [], language

    def render(
        self,
        name: str,
        language: str,
        values: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
    ) -> dict[str, Any] | None:
        """One message for response ``name`` in ``language`` with placeholders filled.

        Returns None when the response does not exist at all.
        """
        variants, used_language = self.variants(name, language)
        if not variants:
            return None
        if used_language != language:
            logger.warning("No %s translation of %s; answering in %s", language, name, used_language)
        variant = (rng or random).choice(variants)
        values = values or {}
        message: dict[str, Any] = {"text": fill(variant.get("text", ""), values)}
        if variant.get("buttons"):
            message["buttons"] = [
                {"title": fill(b["title"], values), "payload": b["payload"]} for b in variant["buttons"]
            ]
        return message

    def missing(self) -> dict[str, list[str]]:
        """Response name → languages that lack a translation of it."""
        return {
            name: [lang for lang in SUPPORTED_LANGUAGES if not by_language.get(lang)]
            for name, by_language in self.texts.items()
            if any(not by_language.get(lang) for lang in SUPPORTED_LANGUAGES)
        }


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise CatalogueError(f"{path}: {error}") from error
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: expected a mapping at the top level")
    return data


def _variants(path: Path, name: str, raw: Any) -> list[Variant]:
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(f"{path}: {name} must be a non-empty list of variants")
    variants = []
    for variant in raw:
        if not isinstance(variant, dict) or not isinstance(variant.get("text"), str):
            raise CatalogueError(f"{path}: every variant of {name} needs a 'text'")
        buttons = variant.get("buttons") or []
        if not all(isinstance(b, dict) and {"title", "payload"} <= set(b) for b in buttons):
            raise CatalogueError(f"{path}: buttons of {name} need 'title' and 'payload'")
        variants.append({"text": variant["text"], **({"buttons": buttons} if buttons else {})})
    return variants
