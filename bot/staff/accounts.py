"""Creating staff accounts, signing in and out, and checking sessions.

A session is a random token in an HTTP-only cookie; the database keeps only its
SHA-256, so a leaked database does not let anyone sign in. Each session has its
own CSRF token, which every state-changing request must echo in a header.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.db.models import StaffMember, StaffSession
from bot.db.types import utcnow
from bot.languages import SUPPORTED_LANGUAGES
from bot.staff.passwords import MIN_LENGTH, hash_password, verify_password

ROLES = ("agent", "manager", "admin")
#: How long a sign-in lasts without signing in again.
SESSION_LIFETIME = timedelta(hours=12)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: A hash to compare against when the email is unknown, so both take as long.
DUMMY_HASH = "scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class AccountError(ValueError):
    """A staff account could not be created or changed; the message says why."""


def add_staff(
    session: Session,
    email: str,
    name: str,
    role: str,
    password: str,
    languages: str = "",
    team: str = "support",
) -> StaffMember:
    """Create a staff member, or set a new password and details for an existing one."""
    email = email.strip().lower()
    if not _EMAIL_RE.match(email):
        raise AccountError(f"{email!r} is not an email address")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_LENGTH:
        raise AccountError(f"the password must have at least {MIN_LENGTH} characters")
    codes = languages.split()
    unknown = [code for code in codes if code not in SUPPORTED_LANGUAGES]
    if unknown:
        raise AccountError(f"unknown language code(s) {' '.join(unknown)}")
    staff = session.scalars(select(StaffMember).where(StaffMember.email == email)).one_or_none()
    if staff is None:
        staff = StaffMember(email=email)
        session.add(staff)
    staff.name = name.strip() or email
    staff.role = role
    staff.languages = " ".join(codes)
    staff.team = team
    staff.active = True
    staff.password_hash = hash_password(password)
    session.flush()
    return staff


def account_key(email: str) -> str:
    """An email as accounts are stored (and sign-in attempts are counted)."""
    return email.strip().lower()


def find_active(session: Session, email: str) -> StaffMember | None:
    """The active staff member with this email (no password check)."""
    return session.scalars(
        select(StaffMember).where(StaffMember.email == account_key(email), StaffMember.active.is_(True))
    ).one_or_none()


def authenticate(session: Session, email: str, password: str) -> StaffMember | None:
    """The active staff member with this email and password, else None (same time either way).

    Hashes on the calling thread: the web service's sign-in instead reads the account
    with ``find_active`` and checks the password on its own pool (bot/staff/hashing.py).
    """
    staff = find_active(session, email)
    stored = staff.password_hash if staff is not None else None
    ok = verify_password(password, stored or DUMMY_HASH)
    return staff if ok and stored else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, staff: StaffMember, now: datetime | None = None) -> tuple[str, str]:
    """A new sign-in: (cookie token, CSRF token)."""
    now = now or utcnow()
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    session.add(
        StaffSession(
            id=_digest(token), staff_id=staff.id, csrf_token=csrf, created_at=now, expires_at=expires
        )
    )
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))  # tidy up old ones
    return token, csrf


def current_session(
    session: Session, token: str | None, now: datetime | None = None
) -> tuple[StaffSession, StaffMember] | None:
    """The live session and its (active) staff member for a cookie token."""
    if not token or len(token) > 200:
        return None
    found = session.get(StaffSession, _digest(token))
    if found is None or found.expires_at < (now or utcnow()):
        return None
    staff = session.get(StaffMember, found.staff_id)
    if staff is None or not staff.active:
        return None
    return found, staff


def end_session(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.id == _digest(token)))
