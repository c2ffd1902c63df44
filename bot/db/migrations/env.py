"""Alembic's entry point: runs the migrations against ``sqlalchemy.url``."""

from __future__ import annotations

from alembic import context

from bot.db.database import include_object, make_engine
from bot.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=include_object,  # Rasa's tracker table may share the database
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
