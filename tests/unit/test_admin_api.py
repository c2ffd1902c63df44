"""The knowledge-base admin API: auth, entry and file changes, bad input, reports."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import KNOWLEDGE_BASE

from bot.db.database import Database, upgrade
from bot.knowledge.feedback import FeedbackStore
from bot.knowledge.loader import MAX_FILE_BYTES
from bot.settings import PROJECT_ROOT, Settings
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

NEW_ENTRY = {
    "id": "gift-cards",
    "topic": "payment",
    "questions": {"en": ["Do you sell gift cards?", "gift card"], "es": ["¿venden tarjetas regalo?"]},
    "answer": {
        "en": "Yes: gift cards from 10 to 200 euros.\nThey never expire.",
        "es": "Sí, desde 10 euros.",
    },
}


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    directory = tmp_path / "kb"
    directory.mkdir()
    (directory / "store.yml").write_text("placeholders:\n  delivery_days: 7-14\n", encoding="utf-8")
    (directory / "faq.yml").write_text("# Our FAQ: keep this comment\n" + KNOWLEDGE_BASE, encoding="utf-8")
    return directory


@pytest.fixture
def settings(tmp_path: Path, kb: Path) -> Settings:
    settings = Settings(var_dir=tmp_path / "var", knowledge_base_dir=kb, admin_token=TOKEN)
    upgrade(settings.database_url)
    return settings


@pytest.fixture
async def client(aiohttp_client: Factory, settings: Settings) -> TestClient:
    return await aiohttp_client(create_app(settings))


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": "Basic x"}],
)
async def test_every_admin_route_needs_the_token(client: TestClient, headers: dict[str, str]) -> None:
    for method, path in [
        ("GET", "/api/admin/kb/entries"),
        ("POST", "/api/admin/kb/entries"),
        ("DELETE", "/api/admin/kb/entries/shipping-time"),
        ("PUT", "/api/admin/kb/files/faq.yml"),
        ("GET", "/api/admin/kb/unanswered"),
    ]:
        response = await client.request(method, path, headers=headers)
        assert response.status == 401, path
        assert (await response.json())["error"]["code"] == "unauthorized"


async def test_list_and_get_entries(client: TestClient) -> None:
    body = await (await client.get("/api/admin/kb/entries", headers=AUTH)).json()
    ids = [e["id"] for e in body["entries"]]
    assert ids == ["returns-policy", "returns-shipping-cost", "shipping-time"]
    shipping = body["entries"][2]
    assert shipping["languages"] == ["en", "es"] and "zh" in shipping["missing_languages"]
    entry = await (await client.get("/api/admin/kb/entries/shipping-time", headers=AUTH)).json()
    assert entry["file"] == "faq.yml"
    assert entry["entry"]["answer"]["es"] == "El envío tarda {delivery_days} días desde {store_name}."
    missing = await client.get("/api/admin/kb/entries/nope", headers=AUTH)
    assert missing.status == 404


async def test_create_update_delete_an_entry(client: TestClient, kb: Path, settings: Settings) -> None:
    response = await client.post("/api/admin/kb/entries", json=NEW_ENTRY, headers=AUTH)
    assert response.status == 201, await response.text()
    assert await response.json() == {"id": "gift-cards", "file": "payment.yml"}
    assert "gift-cards" in (kb / "payment.yml").read_text(encoding="utf-8")
    again = await client.post("/api/admin/kb/entries", json=NEW_ENTRY, headers=AUTH)
    assert again.status == 409

    changed = {**NEW_ENTRY, "answer": {**NEW_ENTRY["answer"], "en": "Gift cards: from 5 euros."}}
    response = await client.put("/api/admin/kb/entries/gift-cards", json=changed, headers=AUTH)
    assert response.status == 200, await response.text()
    entry = await (await client.get("/api/admin/kb/entries/gift-cards", headers=AUTH)).json()
    assert entry["entry"]["answer"]["en"] == "Gift cards: from 5 euros."
    # The previous version was kept.
    assert list(settings.kb_backup_dir.glob("payment.yml.*"))

    response = await client.delete("/api/admin/kb/entries/gift-cards", headers=AUTH)
    assert response.status == 200
    assert (await client.get("/api/admin/kb/entries/gift-cards", headers=AUTH)).status == 404


async def test_editing_one_entry_keeps_the_rest_of_the_file_and_its_comments(
    client: TestClient, kb: Path
) -> None:
    entry = {
        "id": "returns-policy",
        "topic": "returns",
        "questions": {"en": ["What is your return policy?"]},
        "answer": {"en": "60 days now."},
    }
    response = await client.put("/api/admin/kb/entries/returns-policy", json=entry, headers=AUTH)
    assert response.status == 200, await response.text()
    text = (kb / "faq.yml").read_text(encoding="utf-8")
    assert text.startswith("# Our FAQ: keep this comment\n")
    assert "60 days now." in text and "¿Cuánto tarda el envío?" in text


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({**NEW_ENTRY, "answer": {"en": "Costs {gift_price}."}}, "undefined placeholder {gift_price}"),
        ({**NEW_ENTRY, "questions": {"it": ["carta regalo?"]}}, "unknown language code 'it'"),
        ({**NEW_ENTRY, "questions": {"en": []}}, "question list for 'en' is empty"),
        ({**NEW_ENTRY, "topic": "cooking"}, "topic 'cooking'"),
        ({**NEW_ENTRY, "id": "shipping-time"}, "already exists"),
    ],
)
async def test_invalid_entries_are_refused_and_nothing_changes(
    client: TestClient, kb: Path, entry: dict[str, Any], expected: str
) -> None:
    before = {p.name: p.read_bytes() for p in kb.iterdir()}
    response = await client.post("/api/admin/kb/entries", json=entry, headers=AUTH)
    assert response.status in (409, 422)
    assert expected in json.dumps((await response.json())["error"], ensure_ascii=False)
    assert {p.name: p.read_bytes() for p in kb.iterdir()} == before


async def test_upload_a_file_replaces_it_atomically_with_a_backup(
    client: TestClient, kb: Path, settings: Settings
) -> None:
    upload = KNOWLEDGE_BASE.replace(
        "You can return items within 30 days.", "You can return items within 45 days."
    )
    response = await client.put("/api/admin/kb/files/faq.yml", data=upload.encode(), headers=AUTH)
    assert response.status == 200, await response.text()
    assert (kb / "faq.yml").read_text(encoding="utf-8") == upload
    [backup] = settings.kb_backup_dir.glob("faq.yml.*")
    assert "keep this comment" in backup.read_text(encoding="utf-8")
    assert not list(kb.glob(".*.tmp"))  # no temporary file left behind
    created = await client.put("/api/admin/kb/files/extra.yml", data=b"entries: []\n", headers=AUTH)
    assert created.status == 201


@pytest.mark.parametrize(
    ("name", "data", "status", "expected"),
    [
        ("faq.yml", b"entries:\n  - id: x\n   topic: [", 422, "YAML syntax error"),
        ("faq.yml", "entries: []\n# caf\xe9\n".encode("latin-1"), 422, "not UTF-8"),
        (
            "faq.yml",
            b"entries:\n  - id: a\n    topic: shipping\n    questions: {en: [q]}\n",
            422,
            "missing answer",
        ),
        ("other.yml", KNOWLEDGE_BASE.encode(), 422, "duplicate id 'shipping-time'"),
        ("..%2Fescape.yml", b"entries: []", 400, "bad_file_name"),
        ("store.yml", b"placeholders: {}", 400, "bad_file_name"),
        (".hidden.yml", b"entries: []", 400, "bad_file_name"),
        ("notes.txt", b"entries: []", 400, "bad_file_name"),
        ("faq.yml", b"#" * (MAX_FILE_BYTES + 10), 413, "too_large"),
    ],
)
async def test_bad_uploads_are_refused_and_the_old_file_stays(
    client: TestClient, kb: Path, name: str, data: bytes, status: int, expected: str
) -> None:
    before = (kb / "faq.yml").read_bytes()
    response = await client.put(f"/api/admin/kb/files/{name}", data=data, headers=AUTH)
    assert response.status == status, await response.text()
    assert expected in await response.text()
    assert (kb / "faq.yml").read_bytes() == before
    assert sorted(p.name for p in kb.iterdir()) == ["faq.yml", "store.yml"]
    body = await (await client.get("/api/admin/kb/entries", headers=AUTH)).json()
    assert len(body["entries"]) == 3


async def test_validate_reports_problems_with_lines_without_saving(client: TestClient, kb: Path) -> None:
    data = b"entries:\n  - id: gift\n    topic: payment\n    questions:\n      en: [gift card?]\n"
    response = await client.post("/api/admin/kb/validate?name=new.yml", data=data, headers=AUTH)
    body = await response.json()
    assert body["valid"] is False
    assert body["problems"][0]["line"] == 2 and "missing answer" in body["problems"][0]["message"]
    assert not (kb / "new.yml").exists()


async def test_oversize_entry_bodies_and_bad_json_are_refused(client: TestClient) -> None:
    big = {**NEW_ENTRY, "answer": {"en": "x" * 300_000}}
    response = await client.post("/api/admin/kb/entries", json=big, headers=AUTH)
    assert response.status == 413
    response = await client.post("/api/admin/kb/entries", data=b"{not json", headers=AUTH)
    assert response.status == 400
    response = await client.post("/api/admin/kb/entries", json=["a list"], headers=AUTH)
    assert response.status == 400


async def test_html_in_an_entry_is_kept_as_text_and_returned_as_json(client: TestClient) -> None:
    entry = {**NEW_ENTRY, "answer": {**NEW_ENTRY["answer"], "en": "<script>alert(1)</script> Gift cards!"}}
    response = await client.post("/api/admin/kb/entries", json=entry, headers=AUTH)
    assert response.status == 201
    got = await client.get("/api/admin/kb/entries/gift-cards", headers=AUTH)
    assert got.content_type == "application/json"
    assert (await got.json())["entry"]["answer"]["en"] == "<script>alert(1)</script> Gift cards!"


async def test_unanswered_questions_are_grouped_by_similarity(
    aiohttp_client: Factory, settings: Settings
) -> None:
    # Against the starter knowledge base: how rare a word is there weighs the grouping.
    settings = replace(settings, knowledge_base_dir=PROJECT_ROOT / "knowledge_base")
    client = await aiohttp_client(create_app(settings))
    store = FeedbackStore(Database(settings.database_url))
    for conversation, text in enumerate(
        ["do you sell gift cards", "gift card available?", "can I buy a gift card", "do you ship to Mars"]
    ):
        store.record_unanswered(text, "en", f"c{conversation}", "no_answer")
    store.record_unanswered("¿tienen tarjetas regalo?", "es", "c9", "suggested")
    store.record_feedback("c1", "shipping-time", "en", "when will it come", helpful=False)

    body = await (await client.get("/api/admin/kb/unanswered?days=7", headers=AUTH)).json()
    assert body["questions"] == 5
    first = body["groups"][0]
    assert first["count"] == 3 and first["language"] == "en" and first["conversations"] == 3
    assert set(first["questions"]) == {
        "do you sell gift cards",
        "gift card available?",
        "can I buy a gift card",
    }
    assert sorted(g["count"] for g in body["groups"]) == [1, 1, 3]
    only_es = await (await client.get("/api/admin/kb/unanswered?language=es", headers=AUTH)).json()
    assert [g["example"] for g in only_es["groups"]] == ["¿tienen tarjetas regalo?"]
    assert (await client.get("/api/admin/kb/unanswered?days=0", headers=AUTH)).status == 400
    assert (await client.get("/api/admin/kb/unanswered?language=xx", headers=AUTH)).status == 400
    feedback = await (await client.get("/api/admin/kb/feedback", headers=AUTH)).json()
    assert feedback["entries"] == {"shipping-time": {"helpful": 0, "not_helpful": 1}}


async def test_live_problems_show_a_broken_file_while_the_old_version_answers(
    client: TestClient, kb: Path
) -> None:
    await client.get("/api/admin/kb/entries", headers=AUTH)  # loads the good version
    (kb / "faq.yml").write_text("entries: [\n", encoding="utf-8")  # an admin's bad edit on disk
    body = await (await client.get("/api/admin/kb/problems", headers=AUTH)).json()
    assert body["problems"][0]["file"] == "faq.yml" and "YAML syntax error" in body["problems"][0]["message"]
    assert body["entries"] == 3


def test_time_stored_is_utc_and_aware(settings: Settings) -> None:
    store = FeedbackStore(Database(settings.database_url))
    store.record_unanswered("hello?", "en", "c", "no_answer")
    [question] = store.unanswered(datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert question.created_at.tzinfo is not None
