"""Language identification: our detector vs plain langdetect on short and long text.

Data: bench/data/langid/<lang>.yml (single words, word pairs, sentences),
written separately from the NLU training data, and the frozen set
bench/data/frozen/langid/<lang>.yml (same keys) when it exists, or any directory
in that format (``--data DIR``, e.g. the dev set bench/data/dev/langid). The
detector's lexicon is learnt from the training data (data/nlu), exactly as the
Rasa component learns it. "ours" gets no prior: this measures the text alone;
"ours + prior" is the same text inside a conversation already in its language
(what the Rasa component gets from the web service), where a short message
must not flip the language. Next to plain langdetect and plain lingua (all 10
languages, high accuracy), when lingua is installed.

``--offtopic DIR`` (e.g. the dev set bench/data/dev/offtopic) adds the switch
figures: per language, how many off-topic messages sent in a conversation
already in their language come out in another (each one would switch the
reply language), and what share of the sentences of ``--data`` written in
language L, sent in a conversation in another Latin-script language, switch to L
(a real switch must still work).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.language_detection import LATIN_LANGUAGES, LanguageDetector, Lexicon
from bot.languages import SUPPORTED_LANGUAGES
from bot.training_data import nlu_examples

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("words", "pairs", "sentences")


def training_examples() -> list[tuple[str, str]]:
    return [(text, language) for text, _, language in nlu_examples(ROOT / "data" / "nlu")]


DEFAULT_DATA = ROOT / "bench" / "data" / "langid"
FROZEN = ROOT / "bench" / "data" / "frozen" / "langid"


def load_data(directory: Path = DEFAULT_DATA) -> dict[str, dict[str, list[str]]]:
    """Texts per language and kind, for the languages that have a file in ``directory``."""
    data = {}
    for language in SUPPORTED_LANGUAGES:
        path = directory / f"{language}.yml"
        if path.exists():
            raw = yaml.safe_load(path.read_text("utf-8"))
            data[language] = {kind: [str(t) for t in raw[kind]] for kind in KINDS}
    return data


def plain_lingua() -> Callable[[str], str] | None:
    """lingua alone over our 10 languages, or None when it is not installed."""
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        return None
    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in SUPPORTED_LANGUAGES]
    detector = LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()

    def guess(text: str) -> str:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else "unknown"

    return guess


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


def score(
    data: dict[str, dict[str, list[str]]], detectors: dict[str, Callable[[str, str], str]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Share of texts each detector (given the text and its true language) gets right."""
    return {
        name: {
            language: {
                kind: sum(guess(t, language) == language for t in texts[kind]) / len(texts[kind])
                for kind in KINDS
            }
            for language, texts in data.items()
        }
        for name, guess in detectors.items()
    }


def off_topic_switches(detector: LanguageDetector, directory: Path) -> dict[str, list[tuple[str, str]]]:
    """Per language: the off-topic messages of ``directory`` (bench/offtopic.py's
    format) that, in a conversation already in their language, come out in
    another, with the language they came out in."""
    from bench.offtopic import load

    found: dict[str, list[tuple[str, str]]] = {}
    for language, messages in load(directory).items():
        detected = (
            (text, detector.detect(text, conversation_language=language).language) for _, text in messages
        )
        found[language] = [(text, other) for text, other in detected if other != language]
    return found


def real_switches(detector: LanguageDetector, data: dict[str, dict[str, list[str]]]) -> dict[str, float]:
    """Per language L: the share of L's sentences that switch a conversation in
    another Latin-script language to L."""
    shares = {}
    for language, texts in data.items():
        outcomes = [
            detector.detect(text, conversation_language=other).language == language
            for other in LATIN_LANGUAGES
            if other != language
            for text in texts["sentences"]
        ]
        shares[language] = sum(outcomes) / len(outcomes)
    return shares


def run(directory: Path | None = None, offtopic: Path | None = None) -> dict[str, Any]:
    ours = LanguageDetector(lexicon=Lexicon.learn(training_examples()))
    ours.warm_up()
    baseline = plain_langdetect()
    lingua = plain_lingua()
    detectors: dict[str, Callable[[str, str], str]] = {
        "ours": lambda t, _: ours.detect(t).language,
        "ours + prior": lambda t, lang: ours.detect(t, conversation_language=lang).language,
        "langdetect": lambda t, _: baseline(t),
    }
    if lingua is not None:
        detectors["lingua"] = lambda t, _: lingua(t)
    data = load_data(directory or DEFAULT_DATA)
    texts = [t for lang in data for kind in KINDS for t in data[lang][kind]]
    speed = {}
    for name, guess in detectors.items():
        start = time.perf_counter()
        for text in texts:
            guess(text, "en")
        speed[name] = len(texts) / (time.perf_counter() - start)
    result: dict[str, Any] = {
        "accuracy": score(data, detectors),
        "texts_per_second": speed,
        "n_texts": len(texts),
    }
    if offtopic is not None:
        result["switches"] = {
            "off_topic": off_topic_switches(ours, offtopic),
            "real": real_switches(ours, data),
        }
    frozen = load_data(FROZEN) if directory is None else {}
    if frozen:
        result["frozen"] = {
            "accuracy": score(frozen, detectors),
            "n_texts": sum(len(v[k]) for v in frozen.values() for k in KINDS),
        }
    return result


def table(acc: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    names = list(acc)
    languages = [lang for lang in SUPPORTED_LANGUAGES if lang in acc[names[0]]]
    lines = [
        "| language | " + " | ".join(f"{kind} ({name})" for kind in KINDS for name in names) + " |",
        "| --- | " + " | ".join("---" for _ in KINDS for _ in names) + " |",
    ]
    for language in [*languages, "mean"]:
        if language == "mean":
            row = {
                name: {k: sum(acc[name][lang][k] for lang in languages) / len(languages) for k in KINDS}
                for name in names
            }
        else:
            row = {name: acc[name][language] for name in names}
        cells = [f"{row[name][k] * 100:.1f}%" for k in KINDS for name in names]
        label = "**mean**" if language == "mean" else language
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:  # type: ignore[type-arg]
    lines = table(result["accuracy"])
    speed = result["texts_per_second"]
    lines.append("")
    lines.append(
        f"Throughput on {result['n_texts']} texts, one thread: "
        + ", ".join(f"{name} {value:.0f} texts/s" for name, value in speed.items())
        + "."
    )
    if "switches" in result:
        flips = result["switches"]["off_topic"]
        lines.append("")
        lines.append(
            "Off-topic messages in a conversation already in their language that switch it: "
            + ", ".join(f"{lang} {len(texts)}" for lang, texts in flips.items())
            + f" (total {sum(len(t) for t in flips.values())})."
        )
        lines.append(
            "Sentences in L sent in a conversation in another Latin-script language that switch it to L: "
            + ", ".join(f"{lang} {share * 100:.1f}%" for lang, share in result["switches"]["real"].items())
            + "."
        )
    if "frozen" in result:
        lines.append("")
        lines.append(
            f"Frozen set (bench/data/frozen/langid, {result['frozen']['n_texts']} texts from a source "
            "independent of the training data):"
        )
        lines.append("")
        lines.extend(table(result["frozen"]["accuracy"]))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    given = Path(sys.argv[sys.argv.index("--data") + 1]) if "--data" in sys.argv else None
    offtopic = Path(sys.argv[sys.argv.index("--offtopic") + 1]) if "--offtopic" in sys.argv else None
    print(markdown(run(given, offtopic)))
