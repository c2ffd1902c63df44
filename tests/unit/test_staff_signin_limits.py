"""Staff sign-in under attack: a flood of wrong passwords, guessing, unknown accounts.

Each test runs the real app through pytest-aiohttp's client and real scrypt hashes.
A flood must not stall the service (scrypt ran on SQLite's single database thread,
so every query waited behind every guess); guessing locks the account, the right
password included, until the lockout ends; an unknown account is answered exactly
like a wrong password, after as much work.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from bot.db.database import Database, upgrade
from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.staff.signin_limits import MemorySignInLimits
from bot.web.app import create_app
from bot.web.staff import SIGNIN_LIMITS

Factory = Callable[..., Awaitable[Any]]
PASSWORD = "correct horse battery"
WRONG = "wrong password!!"
LOCKOUT = 60.0


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    settings = Settings(
        var_dir=tmp_path / "var",
        knowledge_base_dir=tmp_path / "kb",
        signin_lockout_seconds=LOCKOUT,
        **overrides,
    )
    (tmp_path / "kb").mkdir(exist_ok=True)
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en")
        add_staff(session, "mgr@shop.test", "Mia Manager", "manager", PASSWORD, "en")
    return settings


async def login(client: TestClient, email: str, password: str, **headers: str) -> ClientResponse:
    response = await client.post(
        "/api/staff/login", json={"email": email, "password": password}, headers=headers
    )
    await response.read()
    return response


class FakeClock:
    """The limiter's clock, moved by the test instead of waiting for the lockout."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def client_with_clock(aiohttp_client: Factory, settings: Settings) -> tuple[TestClient, FakeClock]:
    app = create_app(settings)
    limits = app[SIGNIN_LIMITS]
    assert isinstance(limits, MemorySignInLimits)
    assert limits.lockout_seconds == settings.signin_lockout_seconds
    clock = FakeClock()
    limits.clock = clock
    return await aiohttp_client(app), clock


async def test_a_flood_of_wrong_sign_ins_does_not_stall_other_requests(
    aiohttp_client: Factory, tmp_path: Path
) -> None:
    client = await aiohttp_client(create_app(make_settings(tmp_path)))
    response = await login(client, "mgr@shop.test", PASSWORD)
    assert response.status == 200
    # Warm up: the first database read of a fresh app.
    assert (await client.get("/api/staff/escalations")).status == 200

    flood = [
        asyncio.create_task(login(client, f"guess{i}@shop.test" if i % 2 else "agent@shop.test", WRONG))
        for i in range(40)
    ]
    # Once a guess has been checked (answered 401), the others have arrived: being checked,
    # waiting for a check, or refused.
    pending = set(flood)
    while not any(task.done() and task.result().status == 401 for task in flood):
        _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    started = time.perf_counter()
    queue = await client.get("/api/staff/escalations")  # a read on the database thread
    elapsed = time.perf_counter() - started
    statuses = [response.status for response in await asyncio.gather(*flood)]

    assert queue.status == 200
    print(f"unrelated read during the flood: {elapsed * 1000:.0f} ms; answers {sorted(statuses)}")
    assert elapsed < 0.5, f"an unrelated read took {elapsed:.2f} s during the flood"
    assert set(statuses) <= {401, 429}, statuses
    assert 429 in statuses  # the password checks are bounded: the rest is refused at once
    body = await (await login(client, "agent@shop.test", WRONG)).json()
    assert body["error"]["code"] in ("wrong_credentials", "too_many_attempts")


async def test_guessing_locks_the_account_even_for_the_right_password(
    aiohttp_client: Factory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, signin_failures_per_account=10, signin_failures_per_address=30)
    client, clock = await client_with_clock(aiohttp_client, settings)
    statuses = [(await login(client, "agent@shop.test", WRONG)).status for _ in range(30)]
    assert statuses == [401] * 10 + [429] * 20

    locked = await login(client, "agent@shop.test", PASSWORD)
    assert locked.status == 429
    assert (await locked.json())["error"]["code"] == "too_many_attempts"
    assert 0 < int(locked.headers["Retry-After"]) <= LOCKOUT
    assert "staff_session" not in locked.cookies
    # Another account from the same address is not locked (10 failures < 30 per address).
    assert (await login(client, "mgr@shop.test", PASSWORD)).status == 200

    clock.now += LOCKOUT - 1
    assert (await login(client, " Agent@Shop.test ", PASSWORD)).status == 429  # same account, however typed
    clock.now += 2
    response = await login(client, "agent@shop.test", PASSWORD)
    assert response.status == 200, await response.text()
    assert "staff_session" in response.cookies


async def test_guessing_from_one_address_locks_that_address(aiohttp_client: Factory, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, signin_failures_per_address=5, signin_failures_per_account=10, trust_forwarded_for=True
    )
    client, clock = await client_with_clock(aiohttp_client, settings)
    attacker = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}  # the proxy's entry is the last
    statuses = [(await login(client, f"user{i}@shop.test", WRONG, **attacker)).status for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert (await login(client, "agent@shop.test", PASSWORD, **attacker)).status == 429
    # Other addresses behind the same proxy still sign in; a forged first entry changes nothing.
    assert (
        await login(client, "agent@shop.test", PASSWORD, **{"X-Forwarded-For": "203.0.113.8"})
    ).status == 200
    forged = {"X-Forwarded-For": "10.0.0.1, 203.0.113.7"}
    assert (await login(client, "mgr@shop.test", PASSWORD, **forged)).status == 429
    clock.now += LOCKOUT + 1
    assert (await login(client, "mgr@shop.test", PASSWORD, **attacker)).status == 200


async def test_an_unknown_account_is_answered_like_a_wrong_password(
    aiohttp_client: Factory, tmp_path: Path
) -> None:
    client, _ = await client_with_clock(aiohttp_client, make_settings(tmp_path))

    async def timed(email: str) -> tuple[float, int, Any]:
        started = time.perf_counter()
        response = await login(client, email, WRONG)
        return time.perf_counter() - started, response.status, await response.json()

    known = [await timed("agent@shop.test") for _ in range(3)]
    unknown = [await timed(f"nobody{i}@shop.test") for i in range(3)]
    assert {(status, str(body)) for _, status, body in known + unknown} == {
        (401, str({"error": {"code": "wrong_credentials", "detail": "Wrong email or password."}}))
    }
    known_time = statistics.median(t for t, _, _ in known)
    unknown_time = statistics.median(t for t, _, _ in unknown)
    # Both paid for a full scrypt check (tens of ms; a lookup alone takes about 1 ms).
    assert unknown_time > known_time / 4, (known_time, unknown_time)
    assert known_time > unknown_time / 4, (known_time, unknown_time)
    # The same lockout and the same answer once guessed at.
    for _ in range(10):  # agent@ has 3 failures already
        await login(client, "nobody@shop.test", WRONG)
    for _ in range(7):
        await login(client, "agent@shop.test", WRONG)
    known_locked = await login(client, "agent@shop.test", WRONG)
    unknown_locked = await login(client, "nobody@shop.test", WRONG)
    assert known_locked.status == unknown_locked.status == 429
    assert await known_locked.json() == await unknown_locked.json()


@pytest.mark.parametrize("body", [{"email": 1, "password": "x"}, {"email": "a@b.c"}])
async def test_malformed_sign_ins_are_not_counted(aiohttp_client: Factory, tmp_path: Path, body: Any) -> None:
    settings = make_settings(tmp_path, signin_failures_per_account=1, signin_failures_per_address=1)
    client = await aiohttp_client(create_app(settings))
    for _ in range(3):
        assert (await client.post("/api/staff/login", json=body)).status == 400
    assert (await login(client, "agent@shop.test", PASSWORD)).status == 200
