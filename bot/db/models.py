"""The tables, as typed SQLAlchemy models.

Every change here needs a migration in ``bot/db/migrations/versions`` (the
tests compare the models with the migrated schema).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


class UnansweredQuestion(Base):
    """A buyer's question the knowledge base did not answer well.

    ``reason``: ``no_answer`` (nothing plausible), ``suggested`` (only "did you
    mean" buttons), ``not_understood`` (the NLU fallback found no confident
    entry either) or ``not_helpful`` (answered, and the buyer said it did not
    help; ``entry_id`` is the entry that was answered). Admins read these,
    grouped by similarity, to see which entry to add or improve next.
    """

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    conversation_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_unanswered_questions_created_at", "created_at"),)


class AnswerFeedback(Base):
    """A buyer's reply to "Did this help?" after a knowledge-base answer."""

    __tablename__ = "answer_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    entry_id: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text, default="")
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_answer_feedback_entry_id", "entry_id"),
        Index("ix_answer_feedback_created_at", "created_at"),
    )
