"""Shared fixtures: a small knowledge base the actions answer from, and databases.

``database_url`` runs a test on SQLite and, when TEST_DATABASE_URL points at a
PostgreSQL server (``.ci/run`` sets it), again on a throw-away PostgreSQL database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import actions.dependencies as dependencies
from bot.db.database import throwaway_database, upgrade
from bot.knowledge.feedback import FeedbackStore

ALWAYS_OPEN = """\
teams:
  support:
    time_zone: UTC
    hours:
      mon-sun: "00:00-23:59:59"
default_team: support
first_response_minutes: {vip: 15, standard: 240}
"""

KNOWLEDGE_BASE = """\
entries:
  - id: shipping-time
    topic: shipping
    questions:
      en:
        - How long does delivery take?
        - when will my parcel arrive
      es:
        - ¿Cuánto tarda el envío?
        - cuando llega mi paquete
    answer:
      en: Delivery takes {delivery_days} days from {store_name}.
      es: El envío tarda {delivery_days} días desde {store_name}.
  - id: returns-policy
    topic: returns
    questions:
      en:
        - What is your return policy?
        - can I send an item back
    answer:
      en: You can return items within 30 days.
  - id: returns-shipping-cost
    topic: returns
    questions:
      en:
        - Who pays for return shipping?
        - return shipping cost
    answer:
      en: Return shipping is free for faulty items.
"""


@pytest.fixture
def knowledge_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the actions at a small knowledge base (and fresh settings)."""
    directory = tmp_path / "kb"
    directory.mkdir()
    (directory / "store.yml").write_text("placeholders:\n  delivery_days: 7-14\n", encoding="utf-8")
    (directory / "faq.yml").write_text(KNOWLEDGE_BASE, encoding="utf-8")
    database_url = f"sqlite:///{tmp_path / 'assistant.db'}"
    upgrade(database_url)
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(directory))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("STORE_NAME", "Sol Shop")
    service = tmp_path / "service.yml"  # a team that is always there, so tests do not depend on the clock
    service.write_text(ALWAYS_OPEN, encoding="utf-8")
    monkeypatch.setenv("SERVICE_FILE", str(service))
    _clear_dependencies()
    yield directory
    _clear_dependencies()


def _clear_dependencies() -> None:
    dependencies.settings.cache_clear()
    dependencies.knowledge.cache_clear()
    dependencies.feedback_store.cache_clear()
    dependencies.database.cache_clear()


@pytest.fixture
def stored() -> FeedbackStore:
    """What the actions stored (use with the knowledge_base fixture)."""
    return dependencies.feedback_store()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it to its PostgreSQL)")
    with throwaway_database(server, "assistant_test") as url:
        yield url
