"""The lockout of anonymous order lookups: five failures an hour, per conversation
and per client address, counted without races.

Order numbers are sequential, so guessing a proof is the attack this stops.
Counting the failures and then recording one more are two statements; between
them another lookup from the same attacker could count the same total, so
twenty lookups sent at once used to record ten failures against a limit of five.
:func:`acquire` therefore first takes a lock on a row per conversation and per
address (an upsert of ``lookup_guards``: a row lock on PostgreSQL, the write
lock on SQLite) which the lookup holds until its session commits; lookups from
the same conversation or address queue behind it, and each one counts what the
previous one recorded. Keys are locked in sorted order, so two lookups never wait
for each other's second lock.

Addresses: IPv4 by the full address; IPv6 by its /64, the block one subscriber
gets, so rotating through the addresses of one's own network buys no new tries.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.db.models import LookupAttempt, LookupGuard
from bot.db.types import utcnow

#: Failed anonymous lookups after which the bot stops looking up...
MAX_FAILED_LOOKUPS = 5
#: ...within this window, per conversation or per client address.
LOOKUP_WINDOW = timedelta(hours=1)


def address_group(address: str) -> str:
    """What the lockout counts an address as: IPv4 as it is, IPv6 as its /64."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return text[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _keys(conversation_id: str, group: str) -> list[str]:
    keys = [f"conversation:{conversation_id[:128]}"]
    if group:
        keys.append(f"address:{group}")
    return sorted(keys)


def _lock(session: Session, keys: list[str], now: datetime) -> None:
    """Upsert each guard row: the first write of the session, so on SQLite it takes the
    database's write lock before anything is read, and on PostgreSQL the row's lock."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    for key in keys:
        statement = insert(LookupGuard).values(key=key, touched_at=now)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[LookupGuard.key], set_={"touched_at": statement.excluded.touched_at}
            )
        )


def is_locked(session: Session, conversation_id: str, group: str, now: datetime | None = None) -> bool:
    """Five failed lookups in the last hour from this conversation or this address group."""
    since = (now or utcnow()) - LOOKUP_WINDOW
    conversation_id = conversation_id[:128]
    who = [LookupAttempt.conversation_id == conversation_id]
    if group:
        who.append(LookupAttempt.client_address == group)
    by_conversation, by_address = session.execute(
        select(
            func.count().filter(LookupAttempt.conversation_id == conversation_id),
            func.count().filter(LookupAttempt.client_address == group),
        ).where(LookupAttempt.created_at >= since, LookupAttempt.succeeded.is_(False), or_(*who))
    ).one()
    return by_conversation >= MAX_FAILED_LOOKUPS or (bool(group) and by_address >= MAX_FAILED_LOOKUPS)


def acquire(session: Session, conversation_id: str, client_address: str) -> bool:
    """Take this conversation's and address's lookup locks (held until the session ends);
    True when a lookup may go ahead, False when the lockout holds."""
    now = utcnow()
    group = address_group(client_address)
    _lock(session, _keys(conversation_id, group), now)
    return not is_locked(session, conversation_id, group, now)


def record(session: Session, conversation_id: str, client_address: str, number: str, succeeded: bool) -> bool:
    """Record a lookup made under :func:`acquire`'s locks; True if lookups are now locked."""
    group = address_group(client_address)
    session.add(
        LookupAttempt(
            conversation_id=conversation_id[:128],
            client_address=group,
            order_number=number[:32],
            succeeded=succeeded,
        )
    )
    session.flush()
    return not succeeded and is_locked(session, conversation_id, group)


def verified_in(session: Session, conversation_id: str, number: str) -> bool:
    """Whether this order number was looked up with its proof in this conversation."""
    return (
        session.scalar(
            select(LookupAttempt.id)
            .where(
                LookupAttempt.conversation_id == conversation_id[:128],
                LookupAttempt.order_number == number[:32],
                LookupAttempt.succeeded.is_(True),
            )
            .limit(1)
        )
        is not None
    )


def last_verified(session: Session, conversation_id: str) -> str | None:
    """The order number most recently proven in this conversation, if any."""
    return session.scalar(
        select(LookupAttempt.order_number)
        .where(LookupAttempt.conversation_id == conversation_id[:128], LookupAttempt.succeeded.is_(True))
        .order_by(LookupAttempt.id.desc())
        .limit(1)
    )
