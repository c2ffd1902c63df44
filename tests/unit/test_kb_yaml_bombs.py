"""YAML alias bombs ("billion laughs") and oversized structures are refused unread.

A few hundred bytes of anchors and aliases expand into millions of strings once the
entries are read (``str()`` of a question list, tokenizing, indexing): seconds to
minutes of CPU in the admin API and in every process that watches the folder. Every
entry point that takes an admin's YAML refuses them from the parser's events, before
anything is built, with a file:line problem, and changes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import KNOWLEDGE_BASE

from bot.db.database import upgrade
from bot.knowledge.loader import ALIASES_REFUSED, MAX_DEPTH, MAX_NODES, load_file
from bot.knowledge.service import KnowledgeService
from bot.settings import Settings
from bot.tokenization import Tokenizers
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
TOKEN = "bomb-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Six levels of nine: each question is 9**6 = 531,441 "lol"s once expanded (a seventh
#: level makes it 4.8 million, and tens of seconds). A valid knowledge-base file otherwise.
BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
entries:
  - id: lol
    topic: shipping
    questions:
      en: [*f]
    answer:
      en: lol
"""
#: CPU the whole process (server threads included) may spend refusing one file.
CPU_BOUND_SECONDS = 0.5


@contextmanager
def cpu_spent() -> Iterator[list[float]]:
    """CPU seconds of this process (every thread) during the block: the attack burns
    CPU, and a wall clock would also count the other jobs on a shared machine."""
    spent: list[float] = []
    start = time.process_time()
    yield spent
    spent.append(time.process_time() - start)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    directory = tmp_path / "kb"
    directory.mkdir()
    (directory / "store.yml").write_text("placeholders:\n  delivery_days: 7-14\n", encoding="utf-8")
    (directory / "faq.yml").write_text(KNOWLEDGE_BASE, encoding="utf-8")
    return directory


@pytest.fixture
async def client(aiohttp_client: Factory, tmp_path: Path, kb: Path) -> TestClient:
    settings = Settings(var_dir=tmp_path / "var", knowledge_base_dir=kb, admin_token=TOKEN)
    upgrade(settings.database_url)
    return await aiohttp_client(create_app(settings))


def folder(kb: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(kb.iterdir())}


def assert_refused_with_the_line(body: dict[str, Any], name: str) -> None:
    problems = body["error"]["problems"]
    assert problems, body
    assert problems[0]["file"] == name and problems[0]["line"] == 1
    assert "anchors and aliases are not allowed" in problems[0]["message"]


async def test_validate_refuses_an_alias_bomb_unread(client: TestClient, kb: Path) -> None:
    before = folder(kb)
    with cpu_spent() as spent:
        response = await client.post("/api/admin/kb/validate?name=lol.yml", data=BOMB.encode(), headers=AUTH)
        body = await response.json()
    assert response.status == 422, body
    assert body["error"]["code"] == "unsafe_yaml"
    assert_refused_with_the_line(body, "lol.yml")
    assert spent[0] < CPU_BOUND_SECONDS
    assert folder(kb) == before


@pytest.mark.parametrize("name", ["lol.yml", "faq.yml"])
async def test_upload_refuses_an_alias_bomb_and_changes_nothing(
    client: TestClient, kb: Path, name: str
) -> None:
    before = folder(kb)
    with cpu_spent() as spent:
        response = await client.put(f"/api/admin/kb/files/{name}", data=BOMB.encode(), headers=AUTH)
        body = await response.json()
    assert response.status == 422, body
    assert_refused_with_the_line(body, name)
    assert spent[0] < CPU_BOUND_SECONDS
    assert folder(kb) == before
    listed = await (await client.get("/api/admin/kb/entries", headers=AUTH)).json()
    assert "shipping-time" in [entry["id"] for entry in listed["entries"]]


async def test_an_entry_is_not_added_to_a_bomb_put_in_the_folder_by_hand(
    client: TestClient, kb: Path
) -> None:
    (kb / "lol.yml").write_text(BOMB, encoding="utf-8")
    before = folder(kb)
    entry = {
        "id": "gift-cards",
        "topic": "payment",
        "file": "lol.yml",
        "questions": {"en": ["gift cards?"]},
        "answer": {"en": "Yes."},
    }
    with cpu_spent() as spent:
        response = await client.post("/api/admin/kb/entries", json=entry, headers=AUTH)
        body = await response.json()
    assert response.status == 409, body
    assert_refused_with_the_line(body, "lol.yml")
    assert spent[0] < CPU_BOUND_SECONDS
    assert folder(kb) == before


async def test_an_entry_nested_too_deeply_is_refused(client: TestClient, kb: Path) -> None:
    before = folder(kb)
    deep: Any = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    entry = {"id": "deep", "topic": "payment", "questions": {"en": deep}, "answer": {"en": "Yes."}}
    response = await client.post("/api/admin/kb/entries", json=entry, headers=AUTH)
    assert response.status == 400, await response.text()
    # Deeper than Python's own recursion limit: still a 400, never a 500.
    response = await client.post(
        "/api/admin/kb/entries",
        data=b'{"id": "deep", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        headers=AUTH,
    )
    assert response.status == 400, await response.text()
    assert folder(kb) == before


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = time.time_ns() + 1_000_000_000  # visible even with coarse mtimes
    os.utime(path, ns=(stamp, stamp))


def test_the_folder_watcher_keeps_the_previous_version_of_a_bombed_file(kb: Path) -> None:
    service = KnowledgeService(kb, Tokenizers(), check_interval=0)
    assert "shipping-time" in service.current().base.entries
    write(kb / "faq.yml", BOMB)
    with cpu_spent() as spent:
        snapshot = service.current()
    assert spent[0] < CPU_BOUND_SECONDS
    assert "shipping-time" in snapshot.base.entries and "lol" not in snapshot.base.entries
    assert [str(p) for p in snapshot.problems] == [f"faq.yml:1: {ALIASES_REFUSED}"]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("entries: []\nx: &only-an-anchor 1\n", 2, "anchors and aliases are not allowed"),
        (
            "base: &b {topic: shipping}\nentries:\n  - <<: *b\n    id: x\n",
            1,
            "anchors and aliases are not allowed",
        ),
        ("entries:\n  - " + "[" * 5000 + "]" * 5000 + "\n", 2, f"more than {MAX_DEPTH} deep"),
        # The mapping, its key and the list are nodes too: the last value allowed is on line MAX_NODES - 2.
        ("entries:\n" + "  - 1\n" * MAX_NODES, MAX_NODES - 1, f"more than {MAX_NODES:,} values"),
    ],
)
def test_the_loader_refuses_aliases_deep_nesting_and_huge_files(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = tmp_path / "x.yml"
    path.write_text(text, encoding="utf-8")
    with cpu_spent() as spent:
        entries, problems = load_file(path, set())
    assert spent[0] < 2 * CPU_BOUND_SECONDS
    assert not entries and len(problems) == 1, problems
    assert problems[0].line == line and words in problems[0].message
