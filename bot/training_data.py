"""Reading our NLU training examples outside Rasa (benchmarks, tests, lexicon checks)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

_MARKUP_RE = re.compile(r"\[([^\]]+)\]\([^)]+\)|\[([^\]]+)\]\{[^}]+\}")


def strip_entity_markup(text: str) -> str:
    """``where is [10234](order_number)`` → ``where is 10234``."""
    return _MARKUP_RE.sub(lambda m: m.group(1) or m.group(2), text)


def nlu_examples(nlu_dir: Path) -> list[tuple[str, str, str]]:
    """(text, intent, language) for every example under ``nlu_dir``/<lang>/*.yml.

    The language comes from each intent block's ``metadata: {language: xx}``;
    blocks without one (regex definitions) are skipped.
    """
    examples = []
    for path in sorted(nlu_dir.glob("*/*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu", []):
            language = (block.get("metadata") or {}).get("language")
            if not language or "intent" not in block:
                continue
            for line in str(block.get("examples", "")).splitlines():
                text = line.strip()
                if text.startswith("- "):
                    examples.append((strip_entity_markup(text[2:].strip()), block["intent"], language))
    return examples
