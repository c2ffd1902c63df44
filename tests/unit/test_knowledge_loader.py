"""Knowledge-base files: every kind of mistake is reported with file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.cli import main
from bot.knowledge.loader import MAX_FILE_BYTES, load_directory
from bot.languages import SUPPORTED_LANGUAGES
from bot.settings import PROJECT_ROOT

GOOD = """\
entries:
  - id: shipping-time
    topic: shipping
    questions:
      en:
        - how long does shipping take
      es:
        - cuanto tarda el envio
    answer:
      en: Orders leave within {handling_days} days from {store_name}.
      es: Los pedidos salen en {handling_days} dias.
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    write(tmp_path, "store.yml", "placeholders:\n  handling_days: '1-2'\n")
    return tmp_path


def problems_of(directory: Path) -> list[str]:
    return [str(p) for p in load_directory(directory)[1]]


def test_a_good_file_loads(kb: Path) -> None:
    write(kb, "shipping.yml", GOOD)
    base, problems = load_directory(kb)
    assert problems == []
    entry = base.entries["shipping-time"]
    assert entry.questions["es"] == ("cuanto tarda el envio",)
    assert entry.line == 2
    assert base.placeholders == {"handling_days": "1-2"}
    assert base.coverage(("en", "es", "fr")) == {"shipping-time": ["fr"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("entries:\n  - id: a\n    topic: a: b\n", "bad.yml:3: YAML syntax error"),
        (
            GOOD.replace("      es: Los pedidos salen en {handling_days} dias.\n", "").replace(
                "    answer:\n      en: Orders leave within {handling_days} days from {store_name}.\n", ""
            ),
            "bad.yml:2: shipping-time: missing answer",
        ),
        (
            GOOD.replace("      en:\n        - how long", "      xx:\n        - how long"),
            "bad.yml:2: shipping-time: unknown language code 'xx'",
        ),
        (
            GOOD.replace("      es:\n        - cuanto tarda el envio\n", "      es: []\n"),
            "bad.yml:2: shipping-time: the question list for 'es' is empty",
        ),
        (
            GOOD.replace("{handling_days} days", "{free_shipping} days"),
            "bad.yml:2: shipping-time: the answer in 'en' uses undefined placeholder {free_shipping}",
        ),
        (GOOD.replace("topic: shipping", "topic: gossip"), "bad.yml:2: shipping-time: topic 'gossip'"),
        (GOOD.replace("id: shipping-time", "id: Shipping Time!"), "bad.yml:2: id 'Shipping Time!'"),
        ("- just a list\n", "bad.yml:1: must have a top-level 'entries:' list"),
    ],
)
def test_each_kind_of_error(kb: Path, text: str, expected: str) -> None:
    write(kb, "bad.yml", text)
    problems = problems_of(kb)
    assert any(p.startswith(expected) for p in problems), problems


def test_duplicate_ids_across_and_within_files(kb: Path) -> None:
    write(kb, "a.yml", GOOD)
    write(kb, "b.yml", GOOD)
    problems = problems_of(kb)
    assert problems == ["b.yml:2: duplicate id 'shipping-time' (also at a.yml:2)"]
    base, _ = load_directory(kb)
    assert list(base.entries) == ["shipping-time"]  # a.yml still served


def test_non_utf8_and_oversize_files(kb: Path) -> None:
    (kb / "latin1.yml").write_bytes("entries:\n  - id: caf\xe9\n".encode("latin-1"))
    (kb / "huge.yml").write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    problems = problems_of(kb)
    assert "latin1.yml:2: is not UTF-8 text (save it as UTF-8)" in problems
    assert any(p.startswith("huge.yml: is 1,000,001 bytes") for p in problems)


def test_a_file_with_errors_contributes_nothing(kb: Path) -> None:
    write(kb, "good.yml", GOOD)
    write(kb, "mixed.yml", GOOD.replace("shipping-time", "other").replace("topic: shipping", "topic: nope"))
    base, problems = load_directory(kb)
    assert set(base.entries) == {"shipping-time"}
    assert len(problems) == 1


def test_validate_command(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(kb, "shipping.yml", GOOD)
    assert main(["kb", "validate", str(kb)]) == 0
    out = capsys.readouterr().out
    assert "1 entries loaded, 0 error(s)." in out
    assert "shipping-time: zh fr de pt ru ar ja ko" in out
    write(kb, "bad.yml", "entries: [\n")
    assert main(["kb", "validate", str(kb)]) == 1
    assert "error: bad.yml:" in capsys.readouterr().out


def test_the_shipped_knowledge_base_is_valid_and_complete() -> None:
    base, problems = load_directory(PROJECT_ROOT / "knowledge_base")
    assert [str(p) for p in problems] == []
    assert base.coverage(SUPPORTED_LANGUAGES) == {}
