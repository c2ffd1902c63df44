"""An order number on an escalation says whether anyone proved it is the buyer's.

Anyone can type a stranger's order number and ask for a person; the console
used to show it as if it were theirs. The staff API now flags it: verified
after a successful lookup in the conversation or for the signed-in customer's
own order, unverified when it was only typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from trackers import tracker, user

import actions.dependencies as dependencies
from actions.escalation import ActionEscalate
from actions.orders import ActionTrackOrder, ValidateOrderTrackingForm
from bot.db.database import Database, upgrade
from bot.orders import demo
from bot.settings import Settings
from bot.staff.accounts import add_staff
from bot.web.app import create_app

Factory = Callable[..., Awaitable[Any]]
PASSWORD = "correct horse battery"
ANA = {"customer": {"id": "c-1002", "email": "ana.garcia@example.com"}, "client_address": "10.0.0.2"}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, knowledge_base: Path) -> Settings:
    settings = Settings(var_dir=tmp_path / "var", knowledge_base_dir=knowledge_base)
    upgrade(settings.database_url)
    database = Database(settings.database_url)
    demo.load(database)
    with database.session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", PASSWORD, "en")
    database.dispose()
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    dependencies.settings.cache_clear()
    dependencies.database.cache_clear()
    return settings


async def ask_for_a_person(conversation: str, slots: dict[str, Any], metadata: dict[str, Any]) -> None:
    t = tracker([user("a person please", "request_human", metadata=metadata)], slots, sender_id=conversation)
    await ActionEscalate().run(CollectingDispatcher(), t, {})


async def look_up(conversation: str, number: str, proof: str) -> None:
    metadata = {"client_address": "10.9.9.9"}
    t = tracker([user(proof, "inform", metadata=metadata)], {"order_number": number}, sender_id=conversation)
    form = ValidateOrderTrackingForm()
    result = await form.validate_order_verification(proof, CollectingDispatcher(), t, {})
    assert result == {"order_verification": proof}
    done = tracker(
        [user(proof, "inform", metadata=metadata)],
        {"order_number": number, "order_verification": proof},
        sender_id=conversation,
    )
    await ActionTrackOrder().run(CollectingDispatcher(), done, {})  # forgets the slots, as in a chat


async def queue(aiohttp_client: Factory, settings: Settings) -> dict[str, dict[str, Any]]:
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/staff/login", json={"email": "agent@shop.test", "password": PASSWORD})
    assert response.status == 200, await response.text()
    response = await client.get("/api/staff/escalations")
    assert response.status == 200
    return {e["conversation_id"]: e for e in (await response.json())["escalations"]}


async def test_typed_order_numbers_are_flagged_unverified(
    aiohttp_client: Factory, settings: Settings
) -> None:
    await ask_for_a_person("typed", {"order_number": "10235"}, {"client_address": "10.1.1.1"})
    # A failed lookup proves nothing either.
    t = tracker([user("75011", "inform")], {"order_number": "10231"}, sender_id="guessed")
    await ValidateOrderTrackingForm().validate_order_verification("75011", CollectingDispatcher(), t, {})
    await ask_for_a_person("guessed", {"order_number": "10231"}, {})
    await look_up("proved", "10231", "emily.carter@example.com")
    await ask_for_a_person("proved", {}, {"client_address": "10.9.9.9"})  # the slot was forgotten
    await look_up("other", "10231", "emily.carter@example.com")
    await ask_for_a_person("other", {"order_number": "10235"}, {})  # proved one, typed another
    await ask_for_a_person("own", {"order_number": "10233"}, ANA)  # the signed-in customer's own
    await ask_for_a_person("not-own", {"order_number": "10231"}, ANA)

    shown = await queue(aiohttp_client, settings)
    flags = {c: (shown[c]["order_number"], shown[c]["order_verified"]) for c in shown}
    assert flags == {
        "typed": ("10235", False),
        "guessed": ("10231", False),
        "proved": ("10231", True),
        "other": ("10235", False),
        "own": ("10233", True),
        "not-own": ("10231", False),
    }
