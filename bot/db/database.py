"""Connecting to the database and bringing its schema up to date.

SQLite (a file under ``var/``) by default, PostgreSQL through ``DATABASE_URL``.
The schema is only ever changed by the Alembic migrations in
``bot/db/migrations``: ``upgrade()`` runs at start-up (``python -m bot run`` and
``serve``) and from ``python -m bot db upgrade``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: Tables another program keeps in our database: Rasa's SQL tracker store creates
#: ``events`` when DATABASE_URL is PostgreSQL (Settings.rasa_tracker_environment).
#: None of our models may use these names.
RASA_TABLES = frozenset({"events"})


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's autogenerate filter: leave Rasa's tables alone. Without it a revision
    generated against a shared PostgreSQL database would drop ``events``, and with it
    every conversation's tracker."""
    return not (type_ == "table" and name in RASA_TABLES)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the web service read while the action server writes; the busy
    timeout makes a writer wait for the other process instead of failing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, the file's directory is created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """An engine and its session factory, shared by a whole process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite lets one connection write at a time, and threads racing for the lock
        # sleep in its busy handler (up to 100 ms at a go): one thread queues them
        # instead. Other databases use the event loop's thread pool.
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
            if url.startswith("sqlite")
            else None
        )

    async def run(self, work: Callable[[], T]) -> T:
        """Run blocking database work (a function that opens its own session) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed at the end of the block, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.engine.dispose()


@contextmanager
def throwaway_database(server_url: str, prefix: str = "assistant_tmp") -> Iterator[str]:
    """A new, empty database on the server of ``server_url`` for the block (tests,
    benchmarks); dropped afterwards, open connections and all."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (creating the database file if needed)."""
    from alembic import command

    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin
    make_engine(url).dispose()  # creates the SQLite file's directory
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
