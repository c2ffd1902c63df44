"""The satisfaction dashboard's figures from a known data set, as JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.db.database import Database, upgrade
from bot.db.models import Conversation, Escalation, Rating, StaffMember
from bot.settings import PROJECT_ROOT, Settings
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
TOKEN = "dashboard-admin-token-0123456789"
DAY = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(
        var_dir=tmp_path, admin_token=TOKEN, knowledge_base_dir=PROJECT_ROOT / "knowledge_base"
    )
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        ann = StaffMember(email="ann@x.test", name="Ann", role="agent")
        session.add(ann)
        session.flush()
        for i in range(10):  # 10 conversations; 4 needed a person
            session.add(Conversation(id=f"c{i}", started_at=DAY, language="es" if i % 2 else "en"))
        for i, (minutes, tier) in enumerate([(10, "vip"), (20, "vip"), (60, "standard"), (300, "standard")]):
            target = timedelta(minutes=15 if tier == "vip" else 240)
            session.add(
                Escalation(
                    conversation_id=f"c{i}",
                    language="en",
                    reason="request_human",
                    tier=tier,
                    created_at=DAY,
                    due_at=DAY + target,
                    first_response_at=DAY + timedelta(minutes=minutes),
                    claimed_by_id=ann.id,
                    status="resolved",
                )
            )
        ratings = [
            (5, "en", "vip", ann.id, "shipping"),
            (4, "es", "vip", ann.id, "returns"),
            (2, "es", "standard", None, "shipping"),
            (5, "en", "standard", None, "payment"),
        ]
        for stars, language, tier, staff, topic in ratings:
            session.add(
                Rating(
                    conversation_id="c1",
                    stars=stars,
                    language=language,
                    tier=tier,
                    staff_id=staff,
                    topic=topic,
                    created_at=DAY,
                )
            )
        session.add(
            Rating(conversation_id="old", stars=1, language="en", created_at=DAY - timedelta(days=60))
        )
    return settings


async def test_dashboard_figures(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = await client.get("/api/admin/dashboard?from=2026-11-01&to=2026-11-30", headers=headers)
    assert response.status == 200, await response.text()
    data = await response.json()
    assert (data["conversations"], data["escalations"], data["containment"]) == (10, 4, 60.0)
    assert data["first_response"] == {
        "answered": 4,
        "median_minutes": 40.0,
        "within_target": 2,  # 10 min (VIP, 15) and 60 min (standard, 240)
        "within_target_share": 50.0,
    }
    assert data["csat"] == {"ratings": 4, "average": 4.0, "csat": 75.0}  # the old 1-star is outside
    assert data["csat_by"]["language"]["es"] == {"ratings": 2, "average": 3.0, "csat": 50.0}
    assert data["csat_by"]["tier"]["vip"]["csat"] == 100.0
    assert data["csat_by"]["staff"]["Ann"]["ratings"] == 2 and data["csat_by"]["staff"]["bot"]["ratings"] == 2
    assert set(data["csat_by"]["topic"]) == {"shipping", "returns", "payment"}
    assert "top_groups" in data["unanswered"]

    csv_response = await client.get("/api/admin/dashboard.csv?from=2026-11-01&to=2026-11-30", headers=headers)
    assert csv_response.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(await csv_response.text())))
    assert ["csat_by_language", "es", "2", "3.0", "50.0", ""] in rows
    assert ["service", "containment_percent", "", "", "", "60.0"] in rows


@pytest.mark.parametrize(
    "query", ["from=2026-13-01", "from=2026-11-30&to=2026-11-01", "from=2020-01-01&to=2026-01-01"]
)
async def test_bad_periods_are_refused(aiohttp_client: Factory, settings: Settings, query: str) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get(f"/api/admin/dashboard?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 400


async def test_the_dashboard_needs_an_admin(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/api/admin/dashboard")).status == 401
    page = await client.get("/dashboard")
    assert page.status == 200
    # The page's code is a static file (the CSP allows no inline script); it renders with textContent.
    assert "textContent" in await (await client.get("/static/dashboard.js")).text()
