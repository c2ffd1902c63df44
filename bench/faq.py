"""Knowledge-base retrieval: accuracy on held-out paraphrases, reload time, query latency.

Data: bench/data/faq/<lang>.yml, paraphrases written separately from the
knowledge-base questions (``entry-id: [paraphrase, ...]``); tuned on since, so a dev
set. The held-out figures are the frozen set bench/data/frozen/faq/<lang>.yml (same
format, 48 topics × 3 per language, written by someone who never saw the knowledge
base): reported under ``frozen``. Runs in the app env.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actions.faq import is_confident  # noqa: E402
from bot.knowledge.loader import load_directory  # noqa: E402
from bot.knowledge.service import KnowledgeService  # noqa: E402
from bot.languages import SUPPORTED_LANGUAGES  # noqa: E402
from bot.tokenization import Tokenizers  # noqa: E402

DEV = ROOT / "bench" / "data" / "faq"
FROZEN = ROOT / "bench" / "data" / "frozen" / "faq"


def accuracy(service: KnowledgeService, directory: Path = DEV) -> dict[str, dict[str, float]]:
    index = service.current().index
    results = {}
    for language in SUPPORTED_LANGUAGES:
        path = directory / f"{language}.yml"
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))["paraphrases"]
        top1 = top3 = total = answered_right = answered_wrong = 0
        for entry_id, texts in data.items():
            for text in texts:
                matches = index.search(str(text), language, limit=3)
                ranked = [m.entry_id for m in matches]
                total += 1
                top1 += bool(ranked) and ranked[0] == entry_id
                top3 += entry_id in ranked
                if is_confident(matches):  # the assistant answers directly
                    answered_right += ranked[0] == entry_id
                    answered_wrong += ranked[0] != entry_id
        results[language] = {
            "top1": top1 / total,
            "top3": top3 / total,
            "answered_right": answered_right / total,
            "answered_wrong": answered_wrong / total,
            "n": total,
        }
    return results


def reload_time(tokenizers: Tokenizers, copies: int = 1000) -> tuple[float, float, int]:
    """Time loading ``copies`` distinct entries in all languages, cold, and reloading
    after an admin edits one entry's answer in one of the twenty files.

    The entries are the starter entries repeated, each copy's texts made distinct
    (a number appended) so that nothing is tokenized only once for several copies.
    """
    base, _ = load_directory(ROOT / "knowledge_base")
    entries = list(base.entries.values())
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        shutil.copy(ROOT / "knowledge_base" / "store.yml", directory / "store.yml")
        items = []
        for i in range(copies):
            entry = entries[i % len(entries)]
            items.append(
                {
                    "id": f"{entry.id}-{i}",
                    "topic": entry.topic,
                    "questions": {k: [f"{q} {i}" for q in v] for k, v in entry.questions.items()},
                    "answer": {k: f"{a} ({i})" for k, a in entry.answers.items()},
                }
            )
        # 50 entries per file keeps each file under the 1 MB limit.
        for chunk in range(0, copies, 50):
            (directory / f"part{chunk // 50:02d}.yml").write_text(
                yaml.safe_dump({"entries": items[chunk : chunk + 50]}, allow_unicode=True), encoding="utf-8"
            )
        service = KnowledgeService(directory, tokenizers, check_interval=0)
        start = time.perf_counter()
        service.refresh()
        cold = time.perf_counter() - start
        problems = service.current().problems
        assert not problems, f"the generated files were refused: {problems[0]}"
        edited = directory / "part10.yml"
        text = edited.read_text(encoding="utf-8")
        edited.write_text(text.replace("(500)", "(500, edited)", 1), encoding="utf-8")
        start = time.perf_counter()
        assert service.refresh()
        return cold, time.perf_counter() - start, len(service.current().base.entries)


def latency(service: KnowledgeService) -> tuple[float, float]:
    index = service.current().index
    queries = []
    for language in SUPPORTED_LANGUAGES:
        path = ROOT / "bench" / "data" / "faq" / f"{language}.yml"
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))["paraphrases"]
            queries += [(str(t), language) for texts in data.values() for t in texts]
    timings = []
    for text, language in queries * 3:
        start = time.perf_counter()
        index.search(text, language)
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def run() -> dict[str, object]:
    tokenizers = Tokenizers()
    tokenizers.warm_up()
    service = KnowledgeService(ROOT / "knowledge_base", tokenizers)
    cold, seconds, count = reload_time(tokenizers)
    p50, p95 = latency(service)
    return {
        "accuracy": accuracy(service),
        "frozen": accuracy(service, FROZEN),
        "reload_seconds": seconds,
        "cold_seconds": cold,
        "reload_entries": count,
        "latency_p50_ms": p50,
        "latency_p95_ms": p95,
        "entries": len(service.current().base.entries),
    }


def table(accuracy: dict[str, dict[str, float]]) -> list[str]:
    lines = [
        "| language | paraphrases | top-1 | top-3 | answered directly, right | answered directly, wrong |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for language, r in accuracy.items():
        lines.append(
            f"| {language} | {r['n']} | {r['top1'] * 100:.1f}% | {r['top3'] * 100:.1f}% "
            f"| {r['answered_right'] * 100:.1f}% | {r['answered_wrong'] * 100:.1f}% |"
        )
    if accuracy:
        mean = {k: sum(r[k] for r in accuracy.values()) / len(accuracy) for k in ("top1", "top3")}
        right = sum(r["answered_right"] for r in accuracy.values()) / len(accuracy)
        wrong = sum(r["answered_wrong"] for r in accuracy.values()) / len(accuracy)
        lines.append(
            f"| **mean** | {sum(int(r['n']) for r in accuracy.values())} | {mean['top1'] * 100:.1f}% "
            f"| {mean['top3'] * 100:.1f}% | {right * 100:.1f}% | {wrong * 100:.1f}% |"
        )
    return lines


def markdown(result: dict) -> str:  # type: ignore[type-arg]
    lines = []
    if result.get("frozen"):
        lines += ["Frozen set (held out, `bench/data/frozen/faq/`, 48 topics × 3 per language):", ""]
        lines += table(result["frozen"])
        lines += ["", "Dev set (`bench/data/faq/`, tuned on; it flatters us):", ""]
    lines += table(result["accuracy"])
    lines.append("")
    lines.append(
        '"Answered directly" uses the assistant\'s thresholds (actions/faq.py): the rest get '
        '"Is it one of these?" buttons (the top three) or "no answer yet".'
    )
    lines.append("")
    lines.append(
        f"{result['reload_entries']} entries × 10 languages × 15 question variants: "
        f"first load {result['cold_seconds']:.1f} s "
        f"(every text tokenized), reload after an admin edits one answer in one of its twenty "
        f"files {result['reload_seconds']:.2f} s (only that file parsed, only that entry tokenized). "
        f"Query latency over {result['entries']} entries: p50 {result['latency_p50_ms']:.2f} ms, "
        f"p95 {result['latency_p95_ms']:.2f} ms."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
