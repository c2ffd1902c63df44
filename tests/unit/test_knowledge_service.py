"""Hot reload: an edit is live at once; a broken file leaves the old answers in place."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.knowledge.service import KnowledgeService
from bot.tokenization import Tokenizers

ENTRY = """\
entries:
  - id: {id}
    topic: shipping
    questions:
      en:
        - {question}
    answer:
      en: {answer}
"""


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # Make sure the change is visible even on file systems with coarse mtimes.
    stamp = time.time_ns() + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def service(tmp_path: Path) -> KnowledgeService:
    write(
        tmp_path / "shipping.yml",
        ENTRY.format(id="shipping-time", question="how long is delivery", answer="Seven days."),
    )
    return KnowledgeService(tmp_path, Tokenizers(), check_interval=0)


def answer_for(service: KnowledgeService, text: str) -> str | None:
    snapshot = service.current()
    matches = snapshot.index.search(text, "en")
    return snapshot.base.entries[matches[0].entry_id].answers["en"] if matches else None


def test_an_edit_is_live_within_two_seconds(service: KnowledgeService, tmp_path: Path) -> None:
    assert answer_for(service, "delivery time") == "Seven days."
    write(
        tmp_path / "shipping.yml",
        ENTRY.format(id="shipping-time", question="how long is delivery", answer="Five days now."),
    )
    started = time.monotonic()
    assert answer_for(service, "delivery time") == "Five days now."
    assert time.monotonic() - started < 2


def test_a_new_file_is_picked_up(service: KnowledgeService, tmp_path: Path) -> None:
    write(
        tmp_path / "payment.yml",
        ENTRY.format(id="payment-methods", question="can I pay with paypal", answer="Yes, PayPal works."),
    )
    assert answer_for(service, "paypal?") == "Yes, PayPal works."


def test_a_broken_edit_keeps_the_previous_version(service: KnowledgeService, tmp_path: Path) -> None:
    assert answer_for(service, "delivery time") == "Seven days."
    write(tmp_path / "shipping.yml", "entries:\n  - id: shipping-time\n    topic: [broken\n")
    snapshot = service.current()
    assert answer_for(service, "delivery time") == "Seven days."
    assert snapshot.problems and "shipping.yml" in str(snapshot.problems[0])
    # Fixing the file makes the fix live and clears the problem.
    write(
        tmp_path / "shipping.yml",
        ENTRY.format(id="shipping-time", question="how long is delivery", answer="Fixed."),
    )
    assert answer_for(service, "delivery time") == "Fixed."
    assert service.current().problems == ()


def test_a_duplicate_id_in_a_new_file_is_rejected(service: KnowledgeService, tmp_path: Path) -> None:
    write(tmp_path / "zz.yml", ENTRY.format(id="shipping-time", question="other", answer="Hijacked."))
    snapshot = service.current()
    assert answer_for(service, "delivery time") == "Seven days."
    assert any("duplicate id" in str(p) for p in snapshot.problems)


def test_unchanged_files_are_not_reloaded(service: KnowledgeService) -> None:
    service.current()
    assert service.refresh() is False


def test_a_reload_only_tokenizes_the_texts_that_changed(tmp_path: Path) -> None:
    class CountingTokenizers(Tokenizers):
        calls = 0

        def tokenize(self, text: str, language: str):  # type: ignore[no-untyped-def]
            CountingTokenizers.calls += 1
            return super().tokenize(text, language)

    for name in ("a", "b"):
        write(
            tmp_path / f"{name}.yml",
            ENTRY.format(id=f"entry-{name}", question=f"question {name}", answer=f"Answer {name}."),
        )
    service = KnowledgeService(tmp_path, CountingTokenizers(), check_interval=0)
    service.current()
    first = CountingTokenizers.calls
    write(tmp_path / "b.yml", ENTRY.format(id="entry-b", question="question b", answer="A new answer."))
    service.current()
    assert CountingTokenizers.calls - first == 2  # entry-b's question and new answer only
