"""Grouping unanswered questions by similarity, so admins see what to add next.

Questions are compared with the retrieval's own terms (words and character
n-grams, per language), weighted by how rare each term is in the knowledge
base, so "do you" counts for little and "gift card" for a lot.
Grouping is greedy: each question joins the most similar group of its language
if it is similar enough, else starts its own. Groups are listed biggest first,
each with the entry the knowledge base would answer with now (if any), which
tells the admin whether to add question variants to it or write a new entry.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.db.models import UnansweredQuestion
from bot.knowledge.index import Index, terms
from bot.tokenization import Tokenizers

#: Cosine similarity from which a question joins a group.
SIMILARITY = 0.35
#: Example questions kept per group.
EXAMPLES = 10


@dataclass
class Group:
    language: str
    questions: list[str] = field(default_factory=list)
    count: int = 0
    conversations: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)
    last_asked: datetime | None = None
    centroid: dict[str, float] = field(default_factory=dict)
    closest_entry: str | None = None
    closest_confidence: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "language": self.language,
            "example": self.questions[0] if self.questions else "",
            "questions": self.questions,
            "count": self.count,
            "conversations": len(self.conversations),
            "reasons": dict(self.reasons),
            "last_asked": self.last_asked.isoformat() if self.last_asked else None,
            "closest_entry": self.closest_entry,
            "closest_confidence": round(self.closest_confidence, 3),
        }


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(weight * b.get(term, 0.0) for term, weight in a.items())
    if not dot:
        return 0.0
    return dot / (math.sqrt(sum(w * w for w in a.values())) * math.sqrt(sum(w * w for w in b.values())))


def group_questions(
    questions: Iterable[UnansweredQuestion], tokenizers: Tokenizers, index: Index | None = None
) -> list[Group]:
    """Groups of similar questions, per language, biggest (then most recent) first."""
    groups: list[Group] = []
    rarity: dict[str, tuple[dict[str, float], float]] = {}
    for question in questions:
        vector = dict(terms(question.text, question.language, tokenizers))
        if index is not None:
            if question.language not in rarity:
                rarity[question.language] = index.idf(question.language)
            idf, unseen = rarity[question.language]
            vector = {term: weight * idf.get(term, unseen) for term, weight in vector.items()}
        if not vector:
            continue
        best, best_similarity = None, 0.0
        for group in groups:
            if group.language != question.language:
                continue
            similarity = _cosine(vector, group.centroid)
            if similarity > best_similarity:
                best, best_similarity = group, similarity
        if best is None or best_similarity < SIMILARITY:
            best = Group(question.language)
            groups.append(best)
        best.count += 1
        if len(best.questions) < EXAMPLES and question.text not in best.questions:
            best.questions.append(question.text)
        best.conversations.add(question.conversation_id)
        best.reasons[question.reason] += 1
        if best.last_asked is None or question.created_at > best.last_asked:
            best.last_asked = question.created_at
        for term, weight in vector.items():
            best.centroid[term] = best.centroid.get(term, 0.0) + weight
    if index is not None:
        for group in groups:
            matches = index.search(group.questions[0], group.language, limit=1)
            if matches:
                group.closest_entry = matches[0].entry_id
                group.closest_confidence = matches[0].confidence
    groups.sort(key=lambda g: (-g.count, -(g.last_asked.timestamp() if g.last_asked else 0.0)))
    return groups
