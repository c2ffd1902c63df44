"""Intent accuracy and macro-F1 per language on messages written apart from the training data.

Runs in Rasa's environment against the trained model (models/current.tar.gz).
Data: bench/data/nlu/<lang>.yml, and also the frozen set
bench/data/frozen/intents/<lang>.yml (same format, ``intents: {name: [texts]}``,
written by someone who never wrote training data) when it exists: its figures
are under ``frozen``, and the dev set bench/data/dev/intents (tuned on) under
``dev``. ``--data DIR`` scores another directory in that format
(e.g. the dev set bench/data/dev/intents) instead. Messages are parsed one by one, as the Rasa
server parses them, without conversation priors. A message the classifier is
unsure of (nlu_fallback) counts as wrong, except that nothing is "right" for
out_of_scope but out_of_scope itself.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.languages import SUPPORTED_LANGUAGES  # noqa: E402

DEFAULT_DATA = ROOT / "bench" / "data" / "nlu"
FROZEN = ROOT / "bench" / "data" / "frozen" / "intents"
DEV = ROOT / "bench" / "data" / "dev" / "intents"


def load(directory: Path = DEFAULT_DATA) -> dict[str, list[tuple[str, str]]]:
    """(text, intent) per language, for the languages that have a file in ``directory``."""
    data = {}
    for language in SUPPORTED_LANGUAGES:
        path = directory / f"{language}.yml"
        if not path.exists():
            continue
        raw = yaml.safe_load(path.read_text("utf-8"))
        data[language] = [(str(text), intent) for intent, texts in raw["intents"].items() for text in texts]
    return data


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = {gold for gold, _ in pairs}
    scores = []
    for label in labels:
        tp = sum(g == label and p == label for g, p in pairs)
        fp = sum(g != label and p == label for g, p in pairs)
        fn = sum(g == label and p != label for g, p in pairs)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


async def evaluate(model: Path, directory: Path = DEFAULT_DATA, agent: Any = None) -> dict[str, Any]:
    from rasa.core.agent import Agent

    agent = agent or Agent.load(str(model))
    data = load(directory)
    results: dict[str, dict[str, float]] = {}
    errors: dict[str, list[tuple[str, str, str]]] = {}
    oos = Counter()
    for language, examples in data.items():
        pairs = []
        for text, gold in examples:
            parsed = await agent.parse_message(text)
            predicted = parsed["intent"]["name"]
            pairs.append((gold, predicted))
            if gold == "out_of_scope":
                oos["total"] += 1
                oos["found"] += predicted == "out_of_scope"
        correct = sum(g == p for g, p in pairs)
        results[language] = {"accuracy": correct / len(pairs), "macro_f1": macro_f1(pairs), "n": len(pairs)}
        errors[language] = [(t, g, p) for (t, g), (_, p) in zip(examples, pairs, strict=True) if g != p]
    result: dict[str, Any] = {
        "per_language": results,
        "oos_recall": oos["found"] / oos["total"] if oos["total"] else 0.0,
        "errors": errors,
        "intents": sorted({intent for examples in data.values() for _, intent in examples}),
    }
    if directory == DEFAULT_DATA:
        for name, other in (("frozen", FROZEN), ("dev", DEV)):
            if load(other):
                result[name] = await evaluate(model, other, agent)
    return result


def markdown(result: dict) -> str:  # type: ignore[type-arg]
    text = table(result)
    if "frozen" in result:
        text += "\n\nFrozen set (bench/data/frozen/intents, written apart from the training data):\n\n"
        text += table(result["frozen"])
    if "dev" in result:
        text += "\n\nDev set (bench/data/dev/intents, tuned on):\n\n"
        text += table(result["dev"])
    return text


def table(result: dict) -> str:  # type: ignore[type-arg]
    """Accuracy and macro-F1 per language, the mean, best, worst and out_of_scope recall."""
    per = result["per_language"]
    languages = [lang for lang in SUPPORTED_LANGUAGES if lang in per]
    lines = ["| language | messages | accuracy | macro-F1 |", "| --- | --- | --- | --- |"]
    for language in languages:
        r = per[language]
        lines.append(f"| {language} | {r['n']} | {r['accuracy'] * 100:.1f}% | {r['macro_f1'] * 100:.1f}% |")
    accuracies = [per[lang]["accuracy"] for lang in languages]
    lines.append(
        f"| **all** | {sum(per[lang]['n'] for lang in languages)} "
        f"| {sum(accuracies) / len(accuracies) * 100:.1f}% (mean) "
        f"| {sum(per[lang]['macro_f1'] for lang in languages) / len(accuracies) * 100:.1f}% "
        "(mean) |"
    )
    lines.append("")
    lines.append(
        f"Best language {max(accuracies) * 100:.1f}%, worst {min(accuracies) * 100:.1f}% "
        f"(spread {(max(accuracies) - min(accuracies)) * 100:.1f} points); "
        f"out_of_scope recall {result['oos_recall'] * 100:.1f}%."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import logging

    from rasa.utils.log_utils import configure_structlog

    logging.disable(logging.WARNING)
    configure_structlog(logging.WARNING)

    def option(name: str, default: Path) -> Path:
        return Path(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default

    result = asyncio.run(
        evaluate(option("--model", ROOT / "models" / "current.tar.gz"), option("--data", DEFAULT_DATA))
    )
    if "--json" in sys.argv:
        print(json.dumps(result, ensure_ascii=False))
        sys.exit(0)
    print(markdown(result))
    if "-v" in sys.argv:
        for language, errs in result["errors"].items():
            for text, gold, predicted in errs:
                print(f"{language}\t{gold}\t{predicted}\t{text}")
