"""The lookup lockout holds under concurrent guesses, and IPv6 counts by /64.

Twenty guesses sent at once (threads, each with its own connection, against a
real database file, and PostgreSQL when TEST_DATABASE_URL is set) must record
exactly five failures: before the lock, all twenty counted "fewer than five"
and went on to guess.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

import actions.dependencies as dependencies
from bot.db.database import Database, upgrade
from bot.db.models import LookupAttempt
from bot.orders import demo
from bot.orders.lockout import MAX_FAILED_LOOKUPS, address_group
from bot.orders.tracking import Asker, Outcome, Tracking, track

GUESSES = 20


@pytest.fixture
def shop(database_url: str, monkeypatch: pytest.MonkeyPatch, knowledge_base: Path) -> Iterator[str]:
    upgrade(database_url)
    database = Database(database_url)
    demo.load(database)
    database.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    dependencies.settings.cache_clear()
    dependencies.database.cache_clear()
    yield database_url
    dependencies.database().dispose()
    dependencies.database.cache_clear()


def guess(conversation: str, address: str, proof: str, number: str = "10231") -> Tracking:
    return track(dependencies.database(), Asker(conversation, address), number, proof)


def failures(**where: str) -> int:
    with dependencies.database().session() as session:
        query = select(func.count()).select_from(LookupAttempt).where(LookupAttempt.succeeded.is_(False))
        for column, value in where.items():
            query = query.where(getattr(LookupAttempt, column) == value)
        return int(session.scalar(query) or 0)


def test_twenty_concurrent_guesses_record_exactly_five_failures(shop: str) -> None:
    start = threading.Barrier(GUESSES)

    def one(attempt: int) -> Tracking:
        start.wait()
        return guess("mallory", "203.0.113.9", f"wrong{attempt}@example.com")

    with ThreadPoolExecutor(GUESSES) as pool:
        results = list(pool.map(one, range(GUESSES)))
    assert all(r.order is None for r in results)
    assert failures(conversation_id="mallory") == MAX_FAILED_LOOKUPS
    locked = sum(r.outcome is Outcome.LOCKED for r in results)
    assert locked == GUESSES - MAX_FAILED_LOOKUPS + 1  # the fifth locks too
    right = guess("mallory", "203.0.113.9", "emily.carter@example.com")
    assert right.outcome is Outcome.LOCKED  # even the right proof


def test_concurrent_guesses_from_many_conversations_count_per_address(shop: str) -> None:
    start = threading.Barrier(GUESSES)

    def one(attempt: int) -> Tracking:
        start.wait()
        return guess(f"fresh-{attempt}", "198.51.100.7", f"wrong{attempt}@example.com")

    with ThreadPoolExecutor(GUESSES) as pool:
        list(pool.map(one, range(GUESSES)))
    assert failures(client_address="198.51.100.7") == MAX_FAILED_LOOKUPS


def test_ipv6_addresses_in_one_64_share_the_lockout(shop: str) -> None:
    for attempt in range(MAX_FAILED_LOOKUPS):
        guess(f"v6-{attempt}", f"2001:db8:7:1::{attempt + 1:x}", "wrong@example.com")
    same_network = guess("v6-other", "2001:db8:7:1:ffff:ffff:ffff:fffe", "emily.carter@example.com")
    assert same_network.outcome is Outcome.LOCKED and same_network.order is None
    next_network = guess("v6-next", "2001:db8:7:2::1", "emily.carter@example.com")
    assert next_network.order is not None and next_network.order.number == "10231"


def test_address_groups() -> None:
    assert address_group("2001:DB8:7:1:aaaa::1") == "2001:db8:7:1::/64"
    assert address_group("::ffff:192.0.2.1") == address_group("192.0.2.1") == "192.0.2.1"
    assert address_group("192.0.2.1") != address_group("192.0.2.2")  # IPv4: the full address
    assert address_group("") == ""
