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
from collections import Counter
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
DEV = ROOT / "bench" / "data" / "dev" / "langid"


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
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, float]]:
    """Share of texts each detector (given the text and its true language) gets
    right, and how many texts per second it got through while scoring (one thread)."""
    accuracy: dict[str, dict[str, dict[str, float]]] = {}
    speed: dict[str, float] = {}
    n_texts = sum(len(texts[kind]) for texts in data.values() for kind in KINDS)
    for name, guess in detectors.items():
        guess("hello", "en")  # lazy model loading is not part of the timing
        start = time.perf_counter()
        accuracy[name] = {
            language: {
                kind: sum(guess(t, language) == language for t in texts[kind]) / len(texts[kind])
                for kind in KINDS
            }
            for language, texts in data.items()
        }
        speed[name] = n_texts / (time.perf_counter() - start)
    return accuracy, speed


def counts(data: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, int]]:
    """How many texts of each kind a set holds per language (the report counts, never assumes)."""
    return {language: {kind: len(texts[kind]) for kind in KINDS} for language, texts in data.items()}


def shared_words(
    data: dict[str, dict[str, list[str]]], other: dict[str, dict[str, list[str]]]
) -> dict[str, int]:
    """Per language: how many distinct single words of ``data`` occur anywhere in ``other``
    (as a word, or a space-separated word of a pair or sentence; case folded), e.g. frozen
    words that were in the dev set the detector was tuned on."""

    def words(texts: dict[str, list[str]]) -> set[str]:
        return {w.casefold() for kind in KINDS for text in texts[kind] for w in text.split()}

    return {
        language: len({w.casefold() for w in texts["words"]} & words(other[language]))
        for language, texts in data.items()
        if language in other
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
    """Score ``directory`` (default: the older set), and the frozen set when no directory is given.

    With ``offtopic``, also the switch figures: off-topic switches per language, and real
    switches on the sentences of the set scored (and of the frozen set under ``frozen``)."""
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
    accuracy, speed = score(data, detectors)
    result: dict[str, Any] = {
        "accuracy": accuracy,
        "texts_per_second": speed,
        "n_texts": sum(len(v[k]) for v in data.values() for k in KINDS),
        "counts": counts(data),
    }
    if offtopic is not None:
        flips = off_topic_switches(ours, offtopic)
        from bench.offtopic import load

        result["switches"] = {
            "off_topic": flips,
            "off_topic_n": {language: len(items) for language, items in load(offtopic).items()},
            "off_topic_data": str(offtopic.relative_to(ROOT) if offtopic.is_relative_to(ROOT) else offtopic),
            "real": real_switches(ours, data),
        }
    frozen = load_data(FROZEN) if directory is None else {}
    if frozen:
        frozen_accuracy, frozen_speed = score(frozen, detectors)
        result["frozen"] = {
            "accuracy": frozen_accuracy,
            "texts_per_second": frozen_speed,
            "n_texts": sum(len(v[k]) for v in frozen.values() for k in KINDS),
            "counts": counts(frozen),
        }
        dev = load_data(DEV)
        if dev:
            result["frozen"]["words_in_dev"] = shared_words(frozen, dev)
        if offtopic is not None:
            result["frozen"]["real_switches"] = real_switches(ours, frozen)
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


def throughput(result: dict[str, Any]) -> str:
    """One sentence: texts per second of each detector while it scored ``result``'s set."""
    speed = result["texts_per_second"]
    return (
        f"Throughput while scoring these {result['n_texts']} texts, one thread: "
        + ", ".join(f"{name} {value:.0f} texts/s" for name, value in speed.items())
        + "."
    )


def off_topic_switch_table(switches: dict[str, Any]) -> list[str]:
    """Per language: off-topic messages in a conversation already in their language
    that our detector would switch to another language, with the languages they went to."""
    flips = switches["off_topic"]
    sizes = switches.get("off_topic_n", {})
    lines = ["| language | messages | switched | switched to |", "| --- | --- | --- | --- |"]
    for language, texts in flips.items():
        targets = Counter(other for _, other in texts)
        lines.append(
            f"| {language} | {sizes.get(language, '?')} | {len(texts)} | "
            + (", ".join(f"{other} {n}" for other, n in targets.most_common()) or "–")
            + " |"
        )
    lines.append(
        f"| **all** | {sum(sizes.values()) if sizes else '?'} | {sum(len(t) for t in flips.values())} | |"
    )
    return lines


def real_switch_sentence(real: dict[str, float]) -> str:
    return (
        "Sentences in L sent in a conversation in another Latin-script language that switch it to L: "
        + ", ".join(f"{lang} {share * 100:.1f}%" for lang, share in real.items())
        + "."
    )


def markdown(result: dict) -> str:  # type: ignore[type-arg]
    lines = table(result["accuracy"])
    lines.append("")
    lines.append(throughput(result))
    if "switches" in result:
        lines.append("")
        lines.append(
            f"Off-topic messages ({result['switches'].get('off_topic_data', '')}) in a conversation "
            "already in their language that switch it:"
        )
        lines.append("")
        lines.extend(off_topic_switch_table(result["switches"]))
        lines.append("")
        lines.append(real_switch_sentence(result["switches"]["real"]))
    if "frozen" in result:
        lines.append("")
        lines.append(
            f"Frozen set (bench/data/frozen/langid, {result['frozen']['n_texts']} texts from a source "
            "independent of the training data):"
        )
        lines.append("")
        lines.extend(table(result["frozen"]["accuracy"]))
        lines.append("")
        lines.append(throughput(result["frozen"]))
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    given = Path(sys.argv[sys.argv.index("--data") + 1]) if "--data" in sys.argv else None
    offtopic = Path(sys.argv[sys.argv.index("--offtopic") + 1]) if "--offtopic" in sys.argv else None
    print(markdown(run(given, offtopic)))
