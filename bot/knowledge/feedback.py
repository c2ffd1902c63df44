"""What buyers tell us about the knowledge base: unanswered questions and
"Did this help?" replies, kept in the database for the admins.

The action server writes, the web service's admin API reads. Writing is
best-effort from the chat's point of view: the caller logs a failure and the
buyer still gets the answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bot.db.database import Database
from bot.db.models import AnswerFeedback, UnansweredQuestion

#: Reasons an unanswered question is stored with (see UnansweredQuestion).
REASONS = frozenset({"no_answer", "suggested", "not_understood", "not_helpful"})
#: Longest question text kept (the chat already refuses longer messages).
MAX_TEXT = 2000


@dataclass(frozen=True)
class Helpfulness:
    """How often an entry's answer helped, as buyers said."""

    helpful: int
    not_helpful: int


class FeedbackStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def record_unanswered(
        self, text: str, language: str, conversation_id: str, reason: str, entry_id: str | None = None
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        text = text.strip()[:MAX_TEXT]
        if not text or text.startswith("/"):
            return  # a button payload, not something the buyer wrote
        with self.database.session() as session:
            session.add(
                UnansweredQuestion(
                    text=text,
                    language=language,
                    conversation_id=conversation_id[:128],
                    reason=reason,
                    entry_id=entry_id,
                )
            )

    def record_feedback(
        self, conversation_id: str, entry_id: str, language: str, question: str, helpful: bool
    ) -> None:
        with self.database.session() as session:
            session.add(
                AnswerFeedback(
                    conversation_id=conversation_id[:128],
                    entry_id=entry_id,
                    language=language,
                    question=question.strip()[:MAX_TEXT],
                    helpful=helpful,
                )
            )

    def unanswered(
        self, since: datetime, language: str | None = None, limit: int = 5000
    ) -> list[UnansweredQuestion]:
        """The newest ``limit`` unanswered questions since ``since``, newest first."""
        query = select(UnansweredQuestion).where(UnansweredQuestion.created_at >= since)
        if language:
            query = query.where(UnansweredQuestion.language == language)
        query = query.order_by(UnansweredQuestion.created_at.desc(), UnansweredQuestion.id.desc()).limit(
            limit
        )
        with self.database.session() as session:
            return list(session.scalars(query))

    def helpfulness(self, since: datetime) -> dict[str, Helpfulness]:
        """Entry id → helpful and not-helpful replies since ``since``."""
        query = (
            select(AnswerFeedback.entry_id, AnswerFeedback.helpful, func.count())
            .where(AnswerFeedback.created_at >= since)
            .group_by(AnswerFeedback.entry_id, AnswerFeedback.helpful)
        )
        counts: Counter[tuple[str, bool]] = Counter()
        with self.database.session() as session:
            for entry_id, helpful, count in session.execute(query):
                counts[(entry_id, bool(helpful))] += count
        entries = {entry_id for entry_id, _ in counts}
        return {e: Helpfulness(counts[(e, True)], counts[(e, False)]) for e in sorted(entries)}
