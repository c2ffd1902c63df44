"""Escalations: routing to the right person, the queue, and claiming.

Routing: a VIP's escalation goes to their dedicated manager when that manager is
available (active, on duty, console seen in the last minutes, team within its
hours); otherwise to the available manager with the fewest open escalations;
otherwise to the general queue, still marked VIP (higher priority). Standard
customers go to the general queue. The first-response target runs from now, or
from the next opening when nobody is there.

Claiming is one conditional UPDATE (``status = 'queued'``), so when two staff
members claim at once exactly one row changes and exactly one of them wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db.models import Customer, Escalation, Order, StaffMember
from bot.db.types import utcnow
from bot.orders.lockout import last_verified, verified_in
from bot.service.hours import ServiceConfig

#: A console seen within this long counts as online.
ONLINE_WINDOW = timedelta(minutes=5)
PRIORITY = {"vip": 10, "standard": 0}
OPEN = ("queued", "claimed")


@dataclass(frozen=True)
class Decision:
    route: str  # manager | managers | queue
    assigned_to: StaffMember | None
    due_at: datetime
    #: When a person can answer: now, or the next opening of the queue's team.
    answer_from: datetime
    open_now: bool


def is_available(staff: StaffMember, config: ServiceConfig, now: datetime) -> bool:
    return (
        staff.active
        and staff.on_duty
        and staff.last_seen_at is not None
        and now - staff.last_seen_at <= ONLINE_WINDOW
        and config.team(staff.team).is_open(now)
    )


def _open_load(session: Session, staff_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.status.in_(OPEN), Escalation.assigned_to_id == staff_id)
        )
        or 0
    )


def route(session: Session, customer: Customer | None, config: ServiceConfig, now: datetime) -> Decision:
    tier = customer.tier if customer else "standard"
    target = config.target(tier)
    if tier == "vip":
        manager = session.get(StaffMember, customer.manager_id) if customer and customer.manager_id else None
        if manager is not None and is_available(manager, config, now):
            return Decision("manager", manager, now + target, now, True)
        managers = session.scalars(
            select(StaffMember).where(StaffMember.role == "manager", StaffMember.active.is_(True))
        ).all()
        available = [m for m in managers if is_available(m, config, now)]
        if available:
            chosen = min(available, key=lambda m: (_open_load(session, m.id), m.id))
            return Decision("managers", chosen, now + target, now, True)
    team = config.team(None)
    opening = team.next_opening(now) or now
    return Decision("queue", None, opening + target, opening, opening == now)


def order_context(
    session: Session, conversation_id: str, typed: str | None, customer: Customer | None
) -> tuple[str | None, bool]:
    """The order an escalation is about, and whether it is proven to be the buyer's.

    A number the buyer only typed is shown to staff as unverified: anyone can type
    a stranger's order number. It is verified when the lookup with its proof
    succeeded in this conversation, or the signed-in customer owns it. With no
    number typed, the one last proven in the conversation is the context.
    """
    number = typed or last_verified(session, conversation_id)
    if number is None:
        return None, False
    if verified_in(session, conversation_id, number):
        return number, True
    owner = session.scalar(select(Order.customer_id).where(Order.number == number))
    return number, customer is not None and owner is not None and owner == customer.id


def open_escalation(session: Session, conversation_id: str) -> Escalation | None:
    return session.scalars(
        select(Escalation).where(Escalation.conversation_id == conversation_id, Escalation.status.in_(OPEN))
    ).first()


def create(
    session: Session,
    config: ServiceConfig,
    conversation_id: str,
    language: str,
    reason: str,
    customer: Customer | None = None,
    order_number: str | None = None,
    buyer_time_zone: str | None = None,
    now: datetime | None = None,
    order_verified: bool = False,
) -> tuple[Escalation, Decision, bool]:
    """Open an escalation (or find the conversation's open one): (escalation, routing, created)."""
    now = now or utcnow()
    decision = route(session, customer, config, now)
    existing = open_escalation(session, conversation_id)
    if existing is not None:
        return existing, decision, False
    tier = customer.tier if customer else "standard"
    escalation = Escalation(
        conversation_id=conversation_id,
        customer_id=customer.id if customer else None,
        tier=tier,
        language=language,
        reason=reason,
        order_number=order_number,
        order_verified=order_verified and order_number is not None,
        route=decision.route,
        assigned_to_id=decision.assigned_to.id if decision.assigned_to else None,
        priority=PRIORITY.get(tier, 0),
        buyer_time_zone=buyer_time_zone,
        created_at=now,
        due_at=decision.due_at,
    )
    session.add(escalation)
    session.flush()
    return escalation, decision, True


def claim(session: Session, escalation_id: int, staff_id: int, now: datetime | None = None) -> bool:
    """Take a queued escalation; False if someone else got it first (or it is not queued)."""
    result = session.execute(
        update(Escalation)
        .where(Escalation.id == escalation_id, Escalation.status == "queued")
        .values(status="claimed", claimed_by_id=staff_id, claimed_at=now or utcnow())
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def sees(escalation: Escalation, staff_id: int) -> bool:
    """Whether ``escalation`` is in staff member ``staff_id``'s queue: the rule of
    ``queue`` below, for one row in memory, so a live push never shows what the queue
    API hides. Change the two together."""
    if escalation.status == "queued":
        return escalation.assigned_to_id is None or escalation.assigned_to_id == staff_id
    return escalation.status == "claimed" and escalation.claimed_by_id == staff_id


def queue(session: Session, staff: StaffMember) -> list[Escalation]:
    """What a staff member sees: queued escalations for them or for anyone, then their own
    claimed ones; highest priority first, then the nearest deadline."""
    query = (
        select(Escalation)
        .where(
            (
                (Escalation.status == "queued")
                & ((Escalation.assigned_to_id.is_(None)) | (Escalation.assigned_to_id == staff.id))
            )
            | ((Escalation.status == "claimed") & (Escalation.claimed_by_id == staff.id))
        )
        .order_by(Escalation.priority.desc(), Escalation.due_at, Escalation.id)
    )
    return list(session.scalars(query))
