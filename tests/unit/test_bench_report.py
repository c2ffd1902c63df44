"""docs/benchmarks.md is rendered from the benchmark modules' results (bench/run.py).

`make bench` takes an hour: a report that raises at the end, or drops a section,
would cost that hour. These tests render the whole document from small fake
results shaped like each module's real output (bench/langid.py run(),
bench/faq.py run(), bench/nlu.py and bench/offtopic.py --json, ...), before and
after a JSON round trip (what --render reads back), and check every section is there.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ["en", "zh", "es", "fr", "de", "pt", "ru", "ar", "ja", "ko"]
KINDS = ("words", "pairs", "sentences")

HEADINGS = [
    "# Benchmarks",
    "## Held-out sets (frozen)",
    "### Language of short text (no prior, then with the conversation's language as prior)",
    "### Language switches on off-topic messages",
    "### Off-topic messages",
    "### Intents",
    "### Knowledge-base retrieval",
    "## Sets we tuned on (dev and older sets)",
    "### Language identification, older set",
    "### Intent classification, older and dev sets",
    "### Off-topic messages, dev set",
    "### Knowledge-base retrieval, dev paraphrases; reload and query time",
    "## Training time and memory",
    "## Order tracking",
    "## Delivery between a buyer and a person",
    "## Widget download",
    "## Fault and load (soak)",
    "### SQLite",
]


@pytest.fixture(scope="module")
def report() -> ModuleType:
    """bench/run.py as a module (its name, run, is too common to import plainly)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


def langid_result(size: int, frozen: bool) -> dict[str, Any]:
    detectors = ["ours", "ours + prior", "langdetect", "lingua"]
    accuracy = {
        name: {lg: {k: (0.78 if (lg == "en" and k == "words") else 0.99) for k in KINDS} for lg in LANGUAGES}
        for name in detectors
    }
    result: dict[str, Any] = {
        "accuracy": accuracy,
        "texts_per_second": {"ours": 1600.0, "ours + prior": 6000.0, "langdetect": 24.0, "lingua": 5800.0},
        "n_texts": size * 3 * len(LANGUAGES),
        "counts": {lg: dict.fromkeys(KINDS, size) for lg in LANGUAGES},
    }
    if frozen:
        result["counts"]["en"]["sentences"] = size + 5
        result["words_in_dev"] = {lg: 8 + i for i, lg in enumerate(LANGUAGES)}
        result["real_switches"] = {lg: 0.97 for lg in LANGUAGES}
    return result


def intents_result(n: int) -> dict[str, Any]:
    return {
        "per_language": {
            lg: {"accuracy": 0.85 if lg == "ar" else 0.975, "macro_f1": 0.9, "n": n} for lg in LANGUAGES
        },
        "oos_recall": 0.915,
        "errors": {lg: [["hola", "greet", "goodbye"]] for lg in LANGUAGES},
        "intents": ["affirm", "deny", "greet", "out_of_scope"],
    }


def offtopic_result(n: int, domains: int) -> dict[str, Any]:
    return {
        "per_language": {
            lg: {"n": n, "recall": 0.8 if lg == "pt" else 0.92, "harm": {"form": 1, "language switch": 2}}
            for lg in LANGUAGES
        },
        "misses": [{"language": "en", "domain": "d", "text": "t", "intent": "greet", "harm": "form"}],
        "with_core": True,
        "domains": dict.fromkeys(LANGUAGES, domains),
    }


def faq_accuracy(n: int) -> dict[str, dict[str, float]]:
    return {
        lg: {"top1": 0.9, "top3": 0.97, "answered_right": 0.7, "answered_wrong": 0.01, "n": n}
        for lg in LANGUAGES
    }


def fake_results() -> dict[str, Any]:
    """One run's results, shaped as collect() gathers them from each module."""
    langid = langid_result(120, frozen=False)
    langid["frozen"] = langid_result(300, frozen=True)
    langid["switches"] = {
        "off_topic": {lg: ([["pelicula de miedo", "pt"]] if lg == "es" else []) for lg in LANGUAGES},
        "off_topic_n": dict.fromkeys(LANGUAGES, 250),
        "off_topic_data": "bench/data/frozen/offtopic",
        "real": dict.fromkeys(LANGUAGES, 0.99),
    }
    intents = intents_result(172)
    intents["frozen"] = intents_result(364)
    intents["dev"] = intents_result(37)
    off_topic = offtopic_result(250, 25)
    off_topic["dev"] = offtopic_result(34, 15)
    history = {"first": "2026-12-03 16:49", "last": "2026-12-03 16:49", "commits": 1, "uncommitted": False}
    sets = [
        {
            "folder": "bench/data/frozen/offtopic/",
            "what": "off-topic messages",
            "writer": "a helper",
            "held_out": True,
            "counts": {lg: {"texts": 250, "domains": 25} for lg in LANGUAGES},
            **history,
        },
        {
            "folder": "bench/data/frozen/langid/",
            "what": "language of short text",
            "writer": "wordfreq",
            "held_out": True,
            "counts": {lg: dict.fromkeys(KINDS, 300) for lg in LANGUAGES},
            **{**history, "commits": 2, "last": "2026-12-05 10:00"},
        },
        {
            "folder": "bench/data/dev/intents/",
            "what": "intents",
            "writer": "a helper",
            "held_out": False,
            "counts": {lg: {"texts": 37, "intents": 15} for lg in LANGUAGES},
            **history,
        },
    ]
    return {
        "conditions": {
            "date": "2026-12-04 20:00 UTC",
            "machine": "2 cores (Test CPU)",
            "load": "load average 1.0 / 1.0 / 1.0 (1 / 5 / 15 min) at the start",
            "python": "Python 3.10.13, Linux 6",
            "commit": "abc1234",
            "model": "models/current.tar.gz built 2026-12-04 18:00 UTC",
            "packages": "langdetect 1.0.9, lingua-language-detector 2.1.1",
        },
        "sets": sets,
        "langid": langid,
        "faq": {
            "accuracy": faq_accuracy(96),
            "frozen": faq_accuracy(144),
            "reload_seconds": 0.45,
            "cold_seconds": 19.5,
            "reload_entries": 1000,
            "latency_p50_ms": 0.41,
            "latency_p95_ms": 0.68,
            "entries": 48,
        },
        "intents": intents,
        "offtopic": off_topic,
        "training": {"seconds": 156.0, "peak_rss_mb": 1617.0},
        "memory": {"rasa": 1267.0, "actions": 391.0, "web": 70.0, "latency_p50_ms": 41, "latency_p95_ms": 47},
        "orders": {
            "SQLite": {"1": {"p50": 146, "p95": 160, "n": 10}, "20": {"p50": 2334, "p95": 2753, "n": 200}}
        },
        "handoff": {
            "SQLite": {
                "buyer → console": {"p50": 49.9, "p95": 83.1, "n": 500},
                "staff → buyer": {"p50": 62.6, "p95": 120.2, "n": 500},
            }
        },
        "widget": {
            "script": {"raw": 28800, "gzip": 9000},
            "labels and limits (10 languages)": {"raw": 20500, "gzip": 5600},
        },
        "soak": {"SQLite": {"markdown": "Messages sent: 783, answered: 783.", "problems": []}},
    }


def headings(document: str) -> list[str]:
    return [line for line in document.splitlines() if line.startswith("#")]


def test_every_section_is_rendered_in_order(report: ModuleType) -> None:
    document = report.render(fake_results())
    assert headings(document) == HEADINGS


def test_the_soak_section_is_last(report: ModuleType) -> None:
    """bench/soak.py rewrites its section up to the next "## ": nothing may follow it."""
    document = report.render(fake_results())
    assert [h for h in headings(document) if h.startswith("## ")][-1] == report.soak.SECTION


def test_counts_goals_and_provenance_come_from_the_results(report: ModuleType) -> None:
    document = report.render(fake_results())
    # Counted, not written in: 300 frozen words, 300-305 sentences, 120 older ones.
    assert "300 words, 300 pairs, 300–305 sentences per language" in document
    assert "`bench/data/langid/`: 120 words, 120 pairs, 120 sentences per language" in document
    assert "364 messages per language" in document
    assert "250 texts, 25 domains" in document
    # Goals say which languages miss them.
    assert "- ours, no prior: words ≥ 90% in every language: **not met** (en 78.0%)" in document
    assert "recall ≥ 90% in every language: **not met** (pt 80.0%)" in document
    assert "accuracy ≥ 97% in every language: **not met** (ar 85.0%)" in document
    assert "top-1 ≥ 95% in every language: **not met**" in document
    assert "answered directly and wrong ≤ 2% in every language: met" in document
    # Off-topic language switches per language, with where they went.
    assert "| es | 250 | 1 | pt 1 |" in document
    assert "**not met** (1 switch)" in document
    # Provenance, tuned-on labels, and a frozen set edited after freezing is flagged.
    assert "no: tuned on" in document
    assert "**1 later commit, last 2026-12-05 10:00**" in document
    assert "8–17 of the 300 frozen single words per language" in document
    assert "; 3–6%) occur in that dev set" in document
    assert "commit abc1234" in document


def test_the_document_survives_the_json_round_trip(report: ModuleType) -> None:
    """--render reads the saved results back: tuples become lists, int keys strings."""
    results = fake_results()
    results["orders"] = {"SQLite": {1: {"p50": 146, "p95": 160, "n": 10}}}
    results["langid"]["switches"]["off_topic"]["es"] = [("pelicula de miedo", "pt")]
    saved = json.loads(json.dumps(results, ensure_ascii=False, default=str))
    assert report.render(saved) == report.render(results)


def test_render_option_prints_without_writing(
    report: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(fake_results(), ensure_ascii=False), encoding="utf-8")
    before = report.DOCUMENT.read_text("utf-8") if report.DOCUMENT.exists() else None
    assert report.main(["--render", str(saved), "--stdout"]) == 0
    assert "## Held-out sets (frozen)" in capsys.readouterr().out
    after = report.DOCUMENT.read_text("utf-8") if report.DOCUMENT.exists() else None
    assert after == before


def test_failed_soak_is_the_exit_status(report: ModuleType, tmp_path: Path) -> None:
    results = fake_results()
    results["soak"]["SQLite"]["problems"] = ["message 3 lost"]
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps(results), encoding="utf-8")
    assert report.main(["--render", str(saved), "--stdout"]) == 1


def test_missing_frozen_sets_are_said_not_hidden(report: ModuleType) -> None:
    results = fake_results()
    del results["langid"]["frozen"], results["langid"]["switches"]
    del results["intents"]["frozen"], results["faq"]["frozen"], results["offtopic"]["dev"]
    document = report.render(results)
    assert "No frozen language set" in document
    assert "No frozen intent set" in document
    assert "No frozen FAQ set" in document


def test_sets_are_counted_from_their_files(report: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "en.yml").write_text("domains:\n  a: [x, y]\n  b: [z]\n", encoding="utf-8")
    (tmp_path / "de.yml").write_text("words: [a, b]\npairs: [a b]\nsentences: [a b c]\n", encoding="utf-8")
    counts = report.count_set(tmp_path)
    assert counts == {"en": {"texts": 3, "domains": 2}, "de": {"words": 2, "pairs": 1, "sentences": 1}}
    assert report.spread([300, 305, 299]) == "299–305"
    assert report.spread([250, 250]) == "250"


def test_the_real_sets_have_a_history(report: ModuleType) -> None:
    """Every set bench/run.py describes exists and has a first commit (the 'frozen on' date)."""
    if not report.git("rev-parse", "HEAD"):
        pytest.skip("not a git checkout: no commit dates to read")
    sets = report.data_sets()
    folders = {s["folder"] for s in sets}
    assert {"bench/data/frozen/offtopic/", "bench/data/dev/offtopic/", "bench/data/faq/"} <= folders
    for s in sets:
        assert s["counts"], s["folder"]
        assert s["first"], s["folder"]
    assert "| `bench/data/frozen/intents/` |" in report.sets_table(sets)
