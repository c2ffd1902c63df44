"""The fault and load suite (bench/soak.py), short: `make test` runs it on every change.

Ten buyers in 10 languages chat with the whole assistant (`python -m bot run`) for
about a minute while the web service, the action server and Rasa are each killed
once with SIGKILL. The supervisor must bring each back; no buyer message may be
lost, answered twice or out of order, no HTTP 5xx may appear and no process's
memory may keep growing. The PostgreSQL variant runs when TEST_DATABASE_URL names a
server: shorter, it restarts PostgreSQL and kills the web service and the action server
but not Rasa (Rasa's restart does not depend on the database, the SQLite run and
tests/e2e/test_tracker_store_postgres.py cover it, and it is the slowest to come back).
The long runs with every fault are `make soak` and `make bench`.
"""

from __future__ import annotations

import os
import sys

import pytest

from bot.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))

import soak


def short_run(database: str, faults: list[str], seconds: float = 60) -> soak.Options:
    return soak.Options(
        buyers=10,
        seconds=seconds,
        # The fastest to come back first: Rasa reloads its model, which takes longest.
        faults=faults,
        database=database,
        postgres_url=os.environ.get("TEST_DATABASE_URL", ""),
        warmup_seconds=10,
        grace_seconds=120,
        benchmarks_file=None,  # figures are written by `make bench`, not by tests
    )


def assert_clean(run: soak.Run) -> None:
    figures = soak.figures(run)
    print(soak.markdown(run))
    assert figures["sent"] >= 20, f"too little load to judge: {figures['sent']} messages"
    assert len(run.faults) == len(run.options.faults), f"faults injected: {figures['faults']}"
    assert not run.problems, "\n".join(run.problems)


def test_short_soak_on_sqlite() -> None:
    if not (PROJECT_ROOT / "models" / "current.tar.gz").exists():
        pytest.fail("no trained model at models/current.tar.gz: run `make train`")
    assert_clean(soak.soak(short_run("sqlite", ["web", "actions", "rasa"])))


def test_short_soak_on_postgresql() -> None:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it to its PostgreSQL)")
    assert_clean(soak.soak(short_run("postgres", ["web", "postgres", "actions"], seconds=40)))
