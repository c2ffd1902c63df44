"""The schema comes only from the migrations, on SQLite and on PostgreSQL.

PostgreSQL runs when TEST_DATABASE_URL points at a server (``.ci/run`` sets it
to the CI machine's 127.0.0.1:5432); each run gets its own throw-away database.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, inspect

from bot.db.database import RASA_TABLES, Database, downgrade, include_object, upgrade
from bot.db.models import Base
from bot.knowledge.feedback import FeedbackStore


def test_migrations_build_exactly_the_models(database_url: str) -> None:
    upgrade(database_url)
    database = Database(database_url)
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert differences == []


def test_upgrade_twice_and_downgrade(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # already at head: nothing to do
    downgrade(database_url, "base")
    database = Database(database_url)
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    database.dispose()


def test_feedback_round_trip_with_aware_times(database_url: str) -> None:
    upgrade(database_url)
    database = Database(database_url)
    store = FeedbackStore(database)
    store.record_unanswered("¿venden tarjetas regalo?", "es", "c1", "no_answer")
    store.record_unanswered("'; DROP TABLE unanswered_questions; --", "en", "c2", "not_understood")
    store.record_unanswered('/ask_question{"faq_id": "x"}', "en", "c2", "suggested")  # a payload: not stored
    store.record_feedback("c1", "shipping-time", "es", "cuando llega", helpful=True)
    store.record_feedback("c2", "shipping-time", "en", "when", helpful=False)

    since = datetime.now(timezone.utc) - timedelta(minutes=5)
    questions = store.unanswered(since)
    assert [q.text for q in questions] == [
        "'; DROP TABLE unanswered_questions; --",
        "¿venden tarjetas regalo?",
    ]
    assert all(q.created_at.tzinfo is not None and q.created_at > since for q in questions)
    assert [q.text for q in store.unanswered(since, language="es")] == ["¿venden tarjetas regalo?"]
    assert store.unanswered(datetime.now(timezone.utc) + timedelta(minutes=1)) == []
    counts = store.helpfulness(since)
    assert (counts["shipping-time"].helpful, counts["shipping-time"].not_helpful) == (1, 1)
    database.dispose()


def test_an_unknown_reason_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    with pytest.raises(ValueError):
        FeedbackStore(Database(url)).record_unanswered("x", "en", "c", "because")


def test_rasas_tracker_table_shares_the_database_without_a_clash(database_url: str) -> None:
    """With PostgreSQL, Rasa's SQL tracker store creates ``events`` in our database."""
    assert not RASA_TABLES & set(Base.metadata.tables)
    upgrade(database_url)
    database = Database(database_url)
    assert not RASA_TABLES & set(inspect(database.engine).get_table_names())
    rasa = MetaData()
    Table(  # as rasa.core.tracker_store.SQLTrackerStore.SQLEvent declares it
        "events",
        rasa,
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255), nullable=False, index=True),
        Column("type_name", String(255), nullable=False),
        Column("timestamp", Float),
        Column("intent_name", String(255)),
        Column("action_name", String(255)),
        Column("data", Text),
    )
    rasa.create_all(database.engine)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []  # autogenerate would not drop it
    upgrade(database_url)  # and the migrations still run beside it
    database.dispose()
