"""Language identification: our detector vs plain langdetect on short and long text.

Data: bench/data/langid/<lang>.yml (single words, word pairs, sentences),
written separately from the NLU training data. The detector's lexicon is learnt
from the training data (data/nlu), exactly as the Rasa component learns it.
No priors are given: this measures the text alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from bot.language_detection import LanguageDetector, Lexicon
from bot.languages import SUPPORTED_LANGUAGES
from bot.training_data import nlu_examples

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("words", "pairs", "sentences")


def training_examples() -> list[tuple[str, str]]:
    return [(text, language) for text, _, language in nlu_examples(ROOT / "data" / "nlu")]


def load_data() -> dict[str, dict[str, list[str]]]:
    data = {}
    for language in SUPPORTED_LANGUAGES:
        raw = yaml.safe_load((ROOT / "bench" / "data" / "langid" / f"{language}.yml").read_text("utf-8"))
        data[language] = {kind: [str(t) for t in raw[kind]] for kind in KINDS}
    return data


def plain_langdetect():  # type: ignore[no-untyped-def]
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0

    def guess(text: str) -> str:
        try:
            code = detect(text)
        except LangDetectException:
            return "unknown"
        return "zh" if code.startswith("zh") else code

    return guess


def run() -> dict[str, object]:
    data = load_data()
    ours = LanguageDetector(lexicon=Lexicon.learn(training_examples()))
    baseline = plain_langdetect()
    results: dict[str, dict[str, dict[str, float]]] = {"ours": {}, "langdetect": {}}
    for name, guess in (("ours", lambda t: ours.detect(t).language), ("langdetect", baseline)):
        for language in SUPPORTED_LANGUAGES:
            results[name][language] = {
                kind: sum(guess(t) == language for t in data[language][kind]) / len(data[language][kind])
                for kind in KINDS
            }
    texts = [t for lang in SUPPORTED_LANGUAGES for kind in KINDS for t in data[lang][kind]]
    speed = {}
    for name, guess in (("ours", lambda t: ours.detect(t).language), ("langdetect", baseline)):
        start = time.perf_counter()
        for text in texts:
            guess(text)
        speed[name] = len(texts) / (time.perf_counter() - start)
    return {"accuracy": results, "texts_per_second": speed, "n_texts": len(texts)}


def markdown(result: dict) -> str:  # type: ignore[type-arg]
    acc = result["accuracy"]
    lines = [
        "| language | words (ours) | words (langdetect) | pairs (ours) | pairs (langdetect) "
        "| sentences (ours) | sentences (langdetect) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for language in [*SUPPORTED_LANGUAGES, "mean"]:
        if language == "mean":
            row = {
                name: {
                    k: sum(acc[name][lang][k] for lang in SUPPORTED_LANGUAGES) / len(SUPPORTED_LANGUAGES)
                    for k in KINDS
                }
                for name in acc
            }
        else:
            row = {name: acc[name][language] for name in acc}
        cells = [f"{row[name][k] * 100:.1f}%" for k in KINDS for name in ("ours", "langdetect")]
        label = "**mean**" if language == "mean" else language
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    speed = result["texts_per_second"]
    lines.append("")
    lines.append(
        f"Throughput on {result['n_texts']} texts, one thread: ours {speed['ours']:.0f} texts/s, "
        f"plain langdetect {speed['langdetect']:.0f} texts/s."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
