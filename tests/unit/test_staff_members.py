"""``GET /api/staff/members``: the colleagues the console offers under "Transfer to…"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import Escalation, StaffMember
from bot.db.types import utcnow
from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(var_dir=tmp_path / "var", knowledge_base_dir=tmp_path / "kb")
    (tmp_path / "kb").mkdir()
    upgrade(settings.database_url)
    now = utcnow()
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en es")
        add_staff(session, "mgr@shop.test", "Mia Manager", "manager", PASSWORD, "zh en")
        add_staff(session, "away@shop.test", "Bo Away", "agent", PASSWORD, "fr")
        add_staff(session, "off@shop.test", "Di Offduty", "agent", PASSWORD, "de")
        add_staff(session, "gone@shop.test", "Ex Employee", "agent", PASSWORD, "en")
        members = {m.email: m for m in session.scalars(select(StaffMember))}
        members["mgr@shop.test"].last_seen_at = now - timedelta(minutes=2)
        members["mgr@shop.test"].team = "vip"
        members["away@shop.test"].last_seen_at = now - timedelta(minutes=30)
        members["off@shop.test"].last_seen_at = now - timedelta(minutes=1)
        members["off@shop.test"].on_duty = False
        members["gone@shop.test"].active = False
        session.add(
            Escalation(
                conversation_id="c1", language="es", reason="request_human", due_at=now + timedelta(hours=4)
            )
        )
    return settings


async def sign_in(client: TestClient, email: str) -> str:
    response = await client.post("/api/staff/login", json={"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return str((await response.json())["csrf_token"])


async def test_members_need_a_signed_in_staff_member(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get("/api/staff/members")
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "not_signed_in"


async def test_members_are_the_active_staff_with_their_availability(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    await sign_in(client, "agent@shop.test")
    response = await client.get("/api/staff/members")
    assert response.status == 200
    members = (await response.json())["members"]
    by_name = {m["name"]: m for m in members}
    assert list(by_name) == ["Ann Agent", "Bo Away", "Di Offduty", "Mia Manager"]  # by name, no ex-staff
    assert by_name["Mia Manager"] == {
        "id": by_name["Mia Manager"]["id"],
        "name": "Mia Manager",
        "role": "manager",
        "team": "vip",
        "languages": "zh en",
        "on_duty": True,
        "online": True,
    }
    assert by_name["Ann Agent"]["online"]  # signing in counts as being seen
    assert not by_name["Bo Away"]["online"]  # last seen half an hour ago
    assert by_name["Di Offduty"]["online"] and not by_name["Di Offduty"]["on_duty"]
    assert all("email" not in m and "password_hash" not in m for m in members)


async def test_a_claimed_conversation_is_transferred_to_a_listed_member(
    aiohttp_client: Factory, settings: Settings
) -> None:
    agent = await aiohttp_client(create_app(settings))
    csrf = await sign_in(agent, "agent@shop.test")
    [escalation] = (await (await agent.get("/api/staff/escalations")).json())["escalations"]
    url = f"/api/staff/escalations/{escalation['id']}"
    assert (await agent.post(f"{url}/claim", headers={"X-CSRF-Token": csrf})).status == 200
    members = (await (await agent.get("/api/staff/members")).json())["members"]
    [manager] = [m for m in members if m["role"] == "manager"]

    response = await agent.post(f"{url}/transfer", json={"to": manager["id"]}, headers={"X-CSRF-Token": csrf})
    assert response.status == 200
    assert (await response.json()) == {"transferred": escalation["id"], "to": manager["id"]}

    manager_client = await aiohttp_client(create_app(settings))
    await sign_in(manager_client, "mgr@shop.test")
    queue = (await (await manager_client.get("/api/staff/escalations")).json())["escalations"]
    assert [e["id"] for e in queue] == [escalation["id"]]
    assert (await (await agent.get("/api/staff/escalations")).json())["escalations"] == []
