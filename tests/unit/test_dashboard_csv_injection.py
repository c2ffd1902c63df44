"""The dashboard's CSV export never hands a spreadsheet a live formula (CSV injection).

A staff member's name, a topic or a language code is text someone else chose; a
spreadsheet that opens the export runs any cell starting with ``=``, ``+``, ``-`` or
``@`` (and tab / carriage return tricks) as a formula, e.g. a ``HYPERLINK`` that
leaks data when clicked. Such cells are exported with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.db.database import Database, upgrade
from bot.db.models import Rating, StaffMember
from bot.service.dashboard import as_csv, neutralise
from bot.settings import PROJECT_ROOT, Settings
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
TOKEN = "csv-admin-token-0123456789abcdef"
DAY = datetime(2026, 11, 10, 12, 0, tzinfo=timezone.utc)
FORMULA = '=HYPERLINK("http://x","y")'


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(
        var_dir=tmp_path, admin_token=TOKEN, knowledge_base_dir=PROJECT_ROOT / "knowledge_base"
    )
    upgrade(settings.database_url)
    with Database(settings.database_url).session() as session:
        evil = StaffMember(email="evil@x.test", name=FORMULA, role="agent")
        session.add(evil)
        session.flush()
        session.add(
            Rating(
                conversation_id="c1",
                stars=5,
                language="en",
                staff_id=evil.id,
                topic="@SUM(A1)",
                created_at=DAY,
            )
        )
    return settings


async def test_a_formula_in_a_staff_name_is_exported_as_text(
    aiohttp_client: Factory, settings: Settings
) -> None:
    client = await aiohttp_client(create_app(settings))
    response = await client.get(
        "/api/admin/dashboard.csv?from=2026-11-01&to=2026-11-30",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 200, await response.text()
    rows = list(csv.reader(io.StringIO(await response.text())))
    keys = {row[1] for row in rows if row and row[0].startswith("csat_by_")}
    assert "'" + FORMULA in keys and FORMULA not in keys
    assert "'@SUM(A1)" in keys
    # Every cell a spreadsheet would evaluate is neutralised, wherever it is.
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # Numbers stay numbers.
    assert ["csat_by_language", "en", "1", "5.0", "100.0", ""] in rows


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+A1", "@cmd", "\t=1", "\r=1"])
def test_every_formula_start_is_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    data: dict[str, Any] = {
        "from": cell,
        "to": "x",
        "conversations": 0,
        "containment": None,
        "escalations": 0,
        "first_response": {},
        "csat": {"ratings": 0, "average": None, "csat": None},
        "csat_by": {"staff": {cell: {"ratings": 1, "average": -1.5, "csat": 0.0}}},
    }
    rows = list(csv.reader(io.StringIO(as_csv(data))))
    assert ["period", "from", "", "", "", "'" + cell] in rows
    assert ["csat_by_staff", "'" + cell, "1", "-1.5", "0.0", ""] in rows


@pytest.mark.parametrize("cell", ["Ann", "75011", "", "a=b", "'=already quoted"])
def test_plain_text_is_left_alone(cell: str) -> None:
    assert neutralise(cell) == cell
