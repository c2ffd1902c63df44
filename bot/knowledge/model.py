"""What a knowledge base holds once its files are read and checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Topics an entry can belong to (used for grouping and satisfaction by topic).
TOPICS: frozenset[str] = frozenset(
    {
        "shipping",
        "customs",
        "returns",
        "refunds",
        "payment",
        "sizes",
        "warranty",
        "orders",
        "products",
        "account",
    }
)
#: Order flows an entry may lead to.
ORDER_FLOWS: frozenset[str] = frozenset({"track_order", "order_change"})


@dataclass(frozen=True)
class Entry:
    """One FAQ entry: the ways buyers ask it and its answer, per language."""

    id: str
    topic: str
    questions: dict[str, tuple[str, ...]]
    answers: dict[str, str]
    order_flow: str | None = None
    source: Path | None = None
    line: int = 0

    def languages(self) -> set[str]:
        """Languages with both questions and an answer."""
        return {lang for lang in self.answers if self.questions.get(lang)}


@dataclass(frozen=True)
class Problem:
    """Something wrong in a knowledge-base file, with where it is, for a person to fix."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return (
            f"{self.path.name}:{self.line}: {self.message}"
            if self.line
            else f"{self.path.name}: {self.message}"
        )


@dataclass
class KnowledgeBase:
    """All entries, by id, and the store facts their answers refer to."""

    entries: dict[str, Entry] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)

    def coverage(self, languages: tuple[str, ...]) -> dict[str, list[str]]:
        """Entry id → the languages it lacks (only entries that lack some)."""
        report = {}
        for entry_id, entry in sorted(self.entries.items()):
            missing = [lang for lang in languages if lang not in entry.languages()]
            if missing:
                report[entry_id] = missing
        return report
