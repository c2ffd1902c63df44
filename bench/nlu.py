"""Intent accuracy and macro-F1 per language on messages written apart from the training data.

Runs in Rasa's environment against the trained model (models/current.tar.gz).
Data: bench/data/nlu/<lang>.yml. Messages are parsed one by one, as the Rasa
server parses them, without conversation priors. A message the classifier is
unsure of (nlu_fallback) counts as wrong, except that nothing is "right" for
out_of_scope but out_of_scope itself.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.languages import SUPPORTED_LANGUAGES  # noqa: E402


def load() -> dict[str, list[tuple[str, str]]]:
    data = {}
    for language in SUPPORTED_LANGUAGES:
        raw = yaml.safe_load((ROOT / "bench" / "data" / "nlu" / f"{language}.yml").read_text("utf-8"))
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


async def evaluate(model: Path) -> dict[str, object]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    data = load()
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
    return {"per_language": results, "oos_recall": oos["found"] / oos["total"], "errors": errors}


def markdown(result: dict) -> str:  # type: ignore[type-arg]
    per = result["per_language"]
    lines = ["| language | messages | accuracy | macro-F1 |", "| --- | --- | --- | --- |"]
    for language in SUPPORTED_LANGUAGES:
        r = per[language]
        lines.append(f"| {language} | {r['n']} | {r['accuracy'] * 100:.1f}% | {r['macro_f1'] * 100:.1f}% |")
    accuracies = [per[lang]["accuracy"] for lang in SUPPORTED_LANGUAGES]
    lines.append(
        f"| **all** | {sum(per[lang]['n'] for lang in SUPPORTED_LANGUAGES)} "
        f"| {sum(accuracies) / len(accuracies) * 100:.1f}% (mean) "
        f"| {sum(per[lang]['macro_f1'] for lang in SUPPORTED_LANGUAGES) / len(accuracies) * 100:.1f}% "
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
    result = asyncio.run(evaluate(ROOT / "models" / "current.tar.gz"))
    if "--json" in sys.argv:
        print(json.dumps(result, ensure_ascii=False))
        sys.exit(0)
    print(markdown(result))
    if "-v" in sys.argv:
        for language, errs in result["errors"].items():
            for text, gold, predicted in errs:
                print(f"{language}\t{gold}\t{predicted}\t{text}")
