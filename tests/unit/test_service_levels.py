"""Business hours across time zones and DST, routing, and the concurrent-claim race."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.db.database import Database, upgrade
from bot.db.models import Customer, Escalation, StaffMember
from bot.service import escalations
from bot.service.hours import ServiceConfigError, load, parse

UTC = timezone.utc
CONFIG = parse(
    {
        "teams": {
            "support": {"time_zone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}},
            "asia": {"time_zone": "Asia/Shanghai", "hours": {"mon-sat": "09:00-21:00"}},
        },
        "default_team": "support",
        "first_response_minutes": {"vip": 15, "standard": 240},
    }
)


def test_the_shipped_service_file_loads() -> None:
    config = load()
    assert config.target("vip") == timedelta(minutes=15)
    assert config.target("standard") == timedelta(hours=4)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (datetime(2026, 11, 27, 8, 30, tzinfo=UTC), True),  # Friday 09:30 in Berlin (UTC+1)
        (datetime(2026, 11, 27, 7, 59, tzinfo=UTC), False),  # 08:59 Berlin
        (datetime(2026, 7, 3, 7, 30, tzinfo=UTC), True),  # summer: 09:30 Berlin is 07:30 UTC
        (datetime(2026, 11, 28, 10, 0, tzinfo=UTC), False),  # Saturday
    ],
)
def test_hours_are_local_to_the_team_in_winter_and_summer(moment: datetime, is_open: bool) -> None:
    assert CONFIG.team("support").is_open(moment) is is_open


def test_next_opening_across_the_dst_change() -> None:
    # Saturday 24 Oct 2026 evening; clocks go back on Sunday 25 Oct in Berlin.
    opening = CONFIG.team("support").next_opening(datetime(2026, 10, 24, 18, 0, tzinfo=UTC))
    assert opening == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # Monday 09:00 CET = 08:00 UTC
    before = CONFIG.team("support").next_opening(datetime(2026, 10, 23, 18, 0, tzinfo=UTC))
    assert before == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)


def test_same_instant_different_teams() -> None:
    saturday_noon_utc = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 05:00 in Berlin
    assert CONFIG.team("asia").is_open(saturday_noon_utc)
    assert not CONFIG.team("support").is_open(saturday_noon_utc)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"teams": {"x": {"time_zone": "Mars/Olympus", "hours": {}}}},
        {"teams": {"x": {"time_zone": "UTC", "hours": {"mon": "18:00-09:00"}}}},
        {"teams": {"x": {"time_zone": "UTC", "hours": {"funday": "09:00-17:00"}}}},
        {"teams": {"x": {"time_zone": "UTC"}}, "default_team": "y"},
    ],
)
def test_a_wrong_service_file_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ServiceConfigError):
        parse(bad)


@pytest.fixture
def database(database_url: str) -> Database:
    upgrade(database_url)
    return Database(database_url)


OPEN_TIME = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 11:00 Berlin
CLOSED_TIME = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # Saturday


def people(database: Database, manager_seen: datetime | None, other_seen: datetime | None) -> None:
    with database.session() as session:
        mei = StaffMember(email="mei@x.test", name="Mei", role="manager", last_seen_at=manager_seen)
        lucas = StaffMember(email="lucas@x.test", name="Lucas", role="manager", last_seen_at=other_seen)
        session.add_all([mei, lucas])
        session.flush()
        session.add(Customer(external_id="vip", email="v@x.test", tier="vip", manager_id=mei.id))
        session.add(Customer(external_id="std", email="s@x.test", tier="standard"))


def escalate(database: Database, who: str, now: datetime) -> tuple[Escalation, escalations.Decision]:
    with database.session() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == who)).one()
        escalation, decision, _ = escalations.create(
            session, CONFIG, f"conv-{who}", "es", "request_human", customer, now=now
        )
        return escalation, decision


def test_a_vip_goes_to_their_own_manager(database: Database) -> None:
    people(database, manager_seen=OPEN_TIME, other_seen=OPEN_TIME)
    escalation, decision = escalate(database, "vip", OPEN_TIME)
    assert (decision.route, decision.assigned_to.name if decision.assigned_to else None) == ("manager", "Mei")
    assert escalation.due_at == OPEN_TIME + timedelta(minutes=15) and escalation.priority == 10


def test_manager_offline_goes_to_another_manager_then_to_the_queue_marked_vip(database: Database) -> None:
    people(database, manager_seen=OPEN_TIME - timedelta(hours=2), other_seen=OPEN_TIME)
    _, decision = escalate(database, "vip", OPEN_TIME)
    assert (decision.route, decision.assigned_to.name if decision.assigned_to else None) == (
        "managers",
        "Lucas",
    )
    with database.session() as session:
        for staff in session.scalars(select(StaffMember)):
            staff.on_duty = False
        session.execute(update(Escalation).values(status="resolved"))
    escalation, decision = escalate(database, "vip", OPEN_TIME)
    assert decision.route == "queue" and escalation.tier == "vip" and escalation.priority == 10


def test_out_of_hours_the_target_runs_from_the_next_opening(database: Database) -> None:
    people(database, manager_seen=None, other_seen=None)
    escalation, decision = escalate(database, "std", CLOSED_TIME)
    assert not decision.open_now
    monday_nine_berlin = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert decision.answer_from == monday_nine_berlin
    assert escalation.due_at == monday_nine_berlin + timedelta(hours=4)


def test_one_open_escalation_per_conversation(database: Database) -> None:
    people(database, manager_seen=None, other_seen=None)
    first, _ = escalate(database, "std", OPEN_TIME)
    second, _ = escalate(database, "std", OPEN_TIME)
    assert first.id == second.id


def race(database: Database, escalation_id: int, staff_ids: tuple[int, int]) -> list[bool]:
    """Two threads claim the same escalation at the same moment."""
    barrier = threading.Barrier(len(staff_ids))
    results: list[bool] = []

    def take(staff_id: int) -> None:
        barrier.wait()
        with database.session() as session:
            won = escalations.claim(session, escalation_id, staff_id)
        results.append(won)

    threads = [threading.Thread(target=take, args=(staff_id,)) for staff_id in staff_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_staff_claiming_at_once_exactly_one_wins(database: Database) -> None:
    people(database, manager_seen=OPEN_TIME, other_seen=OPEN_TIME)
    for round_ in range(5):
        with database.session() as session:
            escalation = Escalation(
                conversation_id=f"race-{round_}", language="en", reason="request_human", due_at=OPEN_TIME
            )
            session.add(escalation)
            session.flush()
            escalation_id = escalation.id
        assert sorted(race(database, escalation_id, (1, 2))) == [False, True]
        with database.session() as session:
            claimed = session.get(Escalation, escalation_id)
            assert claimed is not None and claimed.status == "claimed" and claimed.claimed_by_id in (1, 2)


def test_the_queue_shows_priority_then_deadline(database: Database, tmp_path: Path) -> None:
    people(database, manager_seen=OPEN_TIME, other_seen=OPEN_TIME)
    escalate(database, "std", OPEN_TIME)
    escalate(database, "vip", OPEN_TIME)
    with database.session() as session:
        mei = session.scalars(select(StaffMember).where(StaffMember.name == "Mei")).one()
        lucas = session.scalars(select(StaffMember).where(StaffMember.name == "Lucas")).one()
        assert [e.tier for e in escalations.queue(session, mei)] == ["vip", "standard"]
        assert [e.tier for e in escalations.queue(session, lucas)] == ["standard"]  # Mei's VIP is hers
