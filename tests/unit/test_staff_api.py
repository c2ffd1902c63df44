"""Staff sign-in, sessions, CSRF, roles, and claiming through the web service."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.cli import main
from bot.db.database import Database, upgrade
from bot.db.models import Escalation, StaffMember, StaffSession
from bot.db.types import utcnow
from bot.settings import Settings
from bot.staff.accounts import AccountError, add_staff
from bot.staff.passwords import verify_password
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(var_dir=tmp_path / "var", knowledge_base_dir=tmp_path / "kb")
    (tmp_path / "kb").mkdir()
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en es")
        add_staff(session, "boss@shop.test", "Max Admin", "admin", PASSWORD, "en")
        add_staff(session, "mgr@shop.test", "Mia Manager", "manager", PASSWORD, "zh en")
        session.add(
            Escalation(
                conversation_id="c1",
                language="es",
                reason="request_human",
                due_at=utcnow() + timedelta(hours=4),
            )
        )
    return settings


async def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post("/api/staff/login", json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    cookie = response.cookies["staff_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    return str((await response.json())["csrf_token"])


async def test_passwords_are_stored_as_scrypt_hashes(settings: Settings) -> None:
    with Database(settings.database_url).session() as session:
        staff = session.scalars(select(StaffMember).where(StaffMember.email == "agent@shop.test")).one()
        assert staff.password_hash and staff.password_hash.startswith("scrypt$")
        assert PASSWORD not in staff.password_hash
        assert verify_password(PASSWORD, staff.password_hash)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "agent@shop.test", "password": "wrong password!"}, 401),
        ({"email": "nobody@shop.test", "password": PASSWORD}, 401),
        ({"email": "agent@shop.test"}, 400),
        (["not", "an", "object"], 400),
    ],
)
async def test_wrong_sign_ins_are_refused(
    aiohttp_client: Factory, settings: Settings, body: Any, status: int
) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/staff/login", json=body)
    assert response.status == status
    assert "staff_session" not in response.cookies


async def test_sign_in_is_json_only(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/staff/login", data={"email": "agent@shop.test", "password": PASSWORD})
    assert response.status == 415  # a cross-site HTML form cannot sign anyone in


async def test_no_session_no_queue_and_csrf_on_changes(aiohttp_client: Factory, settings: Settings) -> None:
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/api/staff/escalations")).status == 401
    csrf = await sign_in(client, "agent@shop.test")
    queue = await (await client.get("/api/staff/escalations")).json()
    [escalation] = queue["escalations"]
    assert escalation["language"] == "es" and escalation["seconds_left"] > 0
    missing = await client.post(f"/api/staff/escalations/{escalation['id']}/claim")
    assert missing.status == 403 and (await missing.json())["error"]["code"] == "csrf"
    wrong = await client.post(
        f"/api/staff/escalations/{escalation['id']}/claim", headers={"X-CSRF-Token": "x"}
    )
    assert wrong.status == 403
    ok = await client.post(f"/api/staff/escalations/{escalation['id']}/claim", headers={"X-CSRF-Token": csrf})
    assert ok.status == 200


async def test_two_staff_claim_through_the_api_one_wins(aiohttp_client: Factory, settings: Settings) -> None:
    app = create_app(settings)
    first = await aiohttp_client(app)
    second_app = create_app(settings)
    second = await aiohttp_client(second_app)
    csrf_1 = await sign_in(first, "agent@shop.test")
    csrf_2 = await sign_in(second, "mgr@shop.test")
    [escalation] = (await (await first.get("/api/staff/escalations")).json())["escalations"]
    url = f"/api/staff/escalations/{escalation['id']}/claim"
    one = await first.post(url, headers={"X-CSRF-Token": csrf_1})
    two = await second.post(url, headers={"X-CSRF-Token": csrf_2})
    assert sorted([one.status, two.status]) == [200, 409]


async def test_agents_cannot_reach_the_admin_api_and_admins_can(
    aiohttp_client: Factory, settings: Settings
) -> None:
    agent = await aiohttp_client(create_app(settings))
    await sign_in(agent, "agent@shop.test")
    assert (await agent.get("/api/admin/kb/entries")).status == 403
    admin = await aiohttp_client(create_app(settings))
    csrf = await sign_in(admin, "boss@shop.test")
    assert (await admin.get("/api/admin/kb/entries")).status == 200
    upload = b"entries: []\n"
    assert (await admin.put("/api/admin/kb/files/new.yml", data=upload)).status == 403  # no CSRF header
    created = await admin.put("/api/admin/kb/files/new.yml", data=upload, headers={"X-CSRF-Token": csrf})
    assert created.status == 201


async def test_sign_out_ends_the_session_and_expired_sessions_are_refused(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    csrf = await sign_in(client, "agent@shop.test")
    assert (await client.post("/api/staff/logout", headers={"X-CSRF-Token": csrf})).status == 200
    assert (await client.get("/api/staff/me")).status == 401
    await sign_in(client, "agent@shop.test")
    with Database(settings.database_url).session() as session:
        for staff_session in session.scalars(select(StaffSession)):
            staff_session.expires_at = utcnow() - timedelta(seconds=1)
    assert (await client.get("/api/staff/me")).status == 401


@pytest.mark.parametrize(
    ("email", "role", "password", "languages"),
    [
        ("not-an-email", "agent", PASSWORD, ""),
        ("a@b.test", "boss", PASSWORD, ""),
        ("a@b.test", "agent", "short", ""),
        ("a@b.test", "agent", PASSWORD, "en it"),
    ],
)
def test_bad_accounts_are_refused(
    settings: Settings, email: str, role: str, password: str, languages: str
) -> None:
    with Database(settings.database_url).session() as session, pytest.raises(AccountError):
        add_staff(session, email, "X", role, password, languages)


def test_staff_add_command(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAR_DIR", str(settings.var_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    args = ["staff", "add", "new@shop.test", "--name", "New", "--role", "manager", "--password-stdin"]
    assert main(args) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["staff", "add", "x@shop.test", "--password-stdin"]) == 2
