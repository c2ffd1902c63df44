"""Dashboard periods at the ends of the calendar are refused as bad periods, not a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.db.database import upgrade
from bot.settings import PROJECT_ROOT, Settings
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
TOKEN = "period-admin-token-0123456789abcdef"


@pytest.mark.parametrize("query", ["to=9999-12-31", "to=0001-01-01"])
async def test_periods_past_the_calendar_are_bad_periods(
    aiohttp_client: Factory, tmp_path: Path, query: str
) -> None:
    settings = Settings(
        var_dir=tmp_path, admin_token=TOKEN, knowledge_base_dir=PROJECT_ROOT / "knowledge_base"
    )
    upgrade(settings.database_url)
    client = await aiohttp_client(create_app(settings))
    for path in ("/api/admin/dashboard", "/api/admin/dashboard.csv"):
        response = await client.get(f"{path}?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status == 400, await response.text()
        assert (await response.json())["error"]["code"] == "bad_period"
