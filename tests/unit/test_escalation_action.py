"""Handing over to a person: the escalation is stored with its context, and the
buyer hears who answers and when, in their language and time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from trackers import tracker, user

import actions.dependencies as dependencies
from actions.escalation import ActionEscalate, ActionSaveContactEmail
from bot.db.database import Database
from bot.db.models import Escalation
from bot.orders import demo
from bot.service.hours import DAYS

CLOSED = """\
teams:
  support:
    time_zone: Europe/Berlin
    hours: {}
default_team: support
first_response_minutes: {vip: 15, standard: 240}
"""


def stored(knowledge_base: Path) -> list[Escalation]:
    database = Database(f"sqlite:///{knowledge_base.parent / 'assistant.db'}")
    with database.session() as session:
        return list(session.scalars(select(Escalation)))


async def escalate(metadata: dict[str, Any] | None = None, slots: dict[str, Any] | None = None) -> Any:
    dispatcher = CollectingDispatcher()
    t = tracker(
        [user("i want a human", "request_human", metadata=metadata)], {"language": "es", **(slots or {})}
    )
    events = await ActionEscalate().run(dispatcher, t, {})
    return dispatcher, events


async def test_the_escalation_is_stored_with_its_context(knowledge_base: Path) -> None:
    dispatcher, _ = await escalate(slots={"order_number": "#１０２３４"})
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_queued" and message["wait"] == "4 horas"
    [escalation] = stored(knowledge_base)
    assert (escalation.language, escalation.reason, escalation.order_number, escalation.tier) == (
        "es",
        "request_human",
        "10234",
        "standard",
    )
    await escalate()
    assert len(stored(knowledge_base)) == 1  # one open escalation per conversation


async def test_a_vip_is_told_about_their_manager(knowledge_base: Path) -> None:
    database = dependencies.database()
    demo.load(database)
    with database.session() as session:
        from bot.db.models import StaffMember
        from bot.db.types import utcnow

        for staff in session.scalars(select(StaffMember)):
            staff.last_seen_at = utcnow()
    ana = {"customer": {"id": "c-1002", "email": "ana.garcia@example.com"}}
    dispatcher, _ = await escalate(metadata=ana)
    [message] = dispatcher.messages
    assert (message["response"], message["manager"], message["wait"]) == (
        "utter_handoff_manager",
        "Lucas Martin",
        "15 minutos",
    )


async def test_out_of_hours_says_when_in_the_buyers_time_and_asks_for_an_email(
    knowledge_base: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    closed = tmp_path / "closed.yml"
    # Open only three days from today (Berlin time): closed now, whatever the clock says.
    day = DAYS[(datetime.now(ZoneInfo("Europe/Berlin")).weekday() + 3) % 7]
    closed.write_text(CLOSED.replace("hours: {}", f'hours: {{"{day}": "09:00-17:00"}}'), encoding="utf-8")
    monkeypatch.setenv("SERVICE_FILE", str(closed))
    dependencies.settings.cache_clear()
    dispatcher, events = await escalate(metadata={"time_zone": "America/Mexico_City"})
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_out_of_hours"
    assert (
        "UTC" not in message["opening"] and "2:00" in message["opening"]
    )  # 09:00 Berlin = 02:00 Mexico City
    assert SlotSet("awaiting_contact_email", True) in events
    dispatcher = CollectingDispatcher()
    t = tracker([user("es ana@example.com", "inform")], {"language": "es"})
    await ActionSaveContactEmail().run(dispatcher, t, {})
    assert dispatcher.messages[0]["email"] == "ana@example.com"
    assert stored(knowledge_base)[0].contact_email == "ana@example.com"
