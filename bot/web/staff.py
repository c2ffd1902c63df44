"""Staff sign-in and the escalation queue API.

Sign-in sets an HTTP-only, SameSite=Strict cookie (Secure in production) and
returns the session's CSRF token; every state-changing request must send it
back in ``X-CSRF-Token``. Roles: agents and managers work the queue; admins
also reach the admin API. Errors are JSON like everywhere else.
"""

from __future__ import annotations

import hmac
import json
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.conversation_log import record_replies
from bot.db.database import Database
from bot.db.models import Escalation, StaffMember
from bot.db.types import utcnow
from bot.orders.lockout import address_group
from bot.service import escalations
from bot.settings import Settings
from bot.staff.accounts import (
    DUMMY_HASH,
    account_key,
    current_session,
    end_session,
    find_active,
    start_session,
)
from bot.staff.hashing import PasswordChecks
from bot.staff.signin_limits import MemorySignInLimits, SignInLimits
from bot.web.context import CATALOGUE, DATABASE, HUB, client_address, read_limited

COOKIE = "staff_session"
#: How stale last_seen_at may get before a request refreshes it (online means 5 minutes).
SEEN_REFRESH = timedelta(minutes=1)
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Largest sign-in body.
MAX_LOGIN_BYTES = 4096
#: Longest email counted as an account by the sign-in limits.
MAX_EMAIL_LENGTH = 320

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": {"code": code, "detail": detail}}, status=status)


def _staff_json(staff: StaffMember) -> dict[str, Any]:
    return {
        "id": staff.id,
        "email": staff.email,
        "name": staff.name,
        "role": staff.role,
        "languages": staff.languages,
    }


def _member_json(staff: StaffMember, now: datetime) -> dict[str, Any]:
    """A colleague as the console's "Transfer to…" menu shows them (no email)."""
    return {
        "id": staff.id,
        "name": staff.name,
        "role": staff.role,
        "team": staff.team,
        "languages": staff.languages,
        "on_duty": staff.on_duty,
        "online": staff.last_seen_at is not None and now - staff.last_seen_at <= escalations.ONLINE_WINDOW,
    }


class SessionCache:
    """Staff sessions checked in the last few seconds, so that each of a busy
    console's requests does not cost a database round trip. Signing out drops the
    entry at once; a session ended elsewhere (expiry, an account deactivated from
    the command line) stops working within ``seconds``."""

    def __init__(self, seconds: float = 5.0, capacity: int = 10_000) -> None:
        self.seconds = seconds
        self.capacity = capacity
        self._entries: dict[str, tuple[float, tuple[StaffMember, str]]] = {}

    def get(self, token: str) -> tuple[StaffMember, str] | None:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(token, None)
            return None
        return entry[1]

    def put(self, token: str, found: tuple[StaffMember, str]) -> None:
        if len(self._entries) >= self.capacity:
            self._entries.clear()  # rare: many sessions at once; they are re-checked
        self._entries[token] = (time.monotonic() + self.seconds, found)

    def drop(self, token: str) -> None:
        self._entries.pop(token, None)


STAFF_SESSIONS = web.AppKey("staff_sessions", SessionCache)
SIGNIN_LIMITS = web.AppKey("signin_limits", SignInLimits)
PASSWORD_CHECKS = web.AppKey("password_checks", PasswordChecks)


def _too_many_attempts(wait: float) -> web.Response:
    """The one answer to a sign-in refused before its password is checked: locked
    account, locked address, or every password check busy (the same for known and
    unknown accounts)."""
    response = _error(429, "too_many_attempts", "Too many sign-in attempts; try again shortly.")
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def signed_in(database: Database, request: web.Request) -> tuple[StaffMember, str] | None:
    """(staff member, CSRF token) of the request's session cookie, if it is live."""
    token = request.cookies.get(COOKIE)
    with database.session() as session:
        found = current_session(session, token)
        if found is None:
            return None
        staff_session, staff = found
        now = utcnow()
        if staff.last_seen_at is None or now - staff.last_seen_at > SEEN_REFRESH:
            staff.last_seen_at = now  # "online" needs minutes, not every request
            session.flush()
        session.expunge(staff)
        return staff, staff_session.csrf_token


def staff_only(*roles: str, database_key: web.AppKey[Database]) -> Callable[[Handler], Handler]:
    """Require a signed-in staff member with one of ``roles`` (all roles when empty),
    and the CSRF header on anything but GET."""

    def decorate(handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            token = request.cookies.get(COOKIE, "")
            cache = request.app[STAFF_SESSIONS]
            found = cache.get(token) if token else None
            if found is None:
                found = await request.app[database_key].run(
                    lambda: signed_in(request.app[database_key], request)
                )
                if found is not None:
                    cache.put(token, found)
            if found is None:
                return _error(401, "not_signed_in", "Please sign in (your session may have expired).")
            staff, csrf = found
            if roles and staff.role not in roles:
                return _error(403, "forbidden", "Your role cannot do this.")
            if request.method not in SAFE_METHODS and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, ""), csrf
            ):
                return _error(403, "csrf", f"Missing or wrong {CSRF_HEADER} header.")
            request["staff"] = staff
            return await handler(request)

        return checked

    return decorate


def setup_staff(app: web.Application, settings: Settings, database_key: web.AppKey[Database]) -> None:
    """Add the sign-in and queue routes."""
    app[STAFF_SESSIONS] = SessionCache()
    app[SIGNIN_LIMITS] = MemorySignInLimits(
        settings.signin_failures_per_account,
        settings.signin_failures_per_address,
        settings.signin_lockout_seconds,
    )
    app[PASSWORD_CHECKS] = PasswordChecks()

    async def close_password_checks(app: web.Application) -> None:
        app[PASSWORD_CHECKS].close()

    app.on_cleanup.append(close_password_checks)
    secure = settings.environment == "production"
    guard = staff_only(database_key=database_key)

    async def login(request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            return _error(415, "json_only", "Send the sign-in as JSON.")
        raw = await read_limited(request, MAX_LOGIN_BYTES)
        if raw is None:
            return _error(413, "too_large", "The sign-in request is too large.")
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return _error(400, "invalid_json", "The body must be JSON: {email, password}.")
        email, password = (
            (body.get("email"), body.get("password")) if isinstance(body, dict) else (None, None)
        )
        if not isinstance(email, str) or not isinstance(password, str):
            return _error(400, "invalid_body", "The body must be JSON: {email, password}.")

        account = account_key(email)[:MAX_EMAIL_LENGTH]
        # IPv6 buyers and attackers hold a whole /64: count it as one address.
        address = address_group(client_address(request))
        database = request.app[database_key]
        checks, limits = request.app[PASSWORD_CHECKS], request.app[SIGNIN_LIMITS]

        def stored_hash() -> tuple[int, str] | None:
            with database.session() as session:
                staff = find_active(session, account)
                return (staff.id, staff.password_hash) if staff and staff.password_hash else None

        # The database thread only reads the hash; scrypt runs on the checks' own pool.
        with checks.place() as placed:
            if not placed:
                return _too_many_attempts(1.0)
            wait = await limits.hit(address, account)
            if wait > 0:
                return _too_many_attempts(wait)
            found = await database.run(stored_hash)
            right = await checks.verify(password, found[1] if found else DUMMY_HASH)
            if found is None or not right:
                await limits.failed(address, account)
                return _error(401, "wrong_credentials", "Wrong email or password.")
            await limits.succeeded(address, account)
        staff_id = found[0]

        def begin() -> tuple[dict[str, Any], str, str] | None:
            with database.session() as session:
                staff = session.get(StaffMember, staff_id)
                if staff is None or not staff.active:
                    return None  # deactivated meanwhile
                token, csrf = start_session(session, staff)
                return _staff_json(staff), token, csrf

        result = await database.run(begin)
        if result is None:
            return _error(401, "wrong_credentials", "Wrong email or password.")
        staff_json, token, csrf = result
        response = web.json_response({"staff": staff_json, "csrf_token": csrf})
        response.set_cookie(COOKIE, token, httponly=True, secure=secure, samesite="Strict", path="/")
        return response

    @guard
    async def logout(request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE, "")

        def forget() -> None:
            with request.app[database_key].session() as session:
                end_session(session, token)

        await request.app[database_key].run(forget)
        request.app[STAFF_SESSIONS].drop(token)
        response = web.json_response({"signed_out": True})
        response.del_cookie(COOKIE, path="/")
        return response

    @guard
    async def me(request: web.Request) -> web.Response:
        return web.json_response({"staff": _staff_json(request["staff"])})

    @guard
    async def queue(request: web.Request) -> web.Response:
        staff: StaffMember = request["staff"]

        def read() -> list[dict[str, Any]]:
            with request.app[database_key].session() as session:
                return [_escalation_json(e) for e in escalations.queue(session, staff)]

        return web.json_response({"escalations": await request.app[database_key].run(read)})

    @guard
    async def members(request: web.Request) -> web.Response:
        """The active staff members, to transfer a conversation to; ``online`` means their
        console was seen within the last minutes (the same window routing uses)."""

        def read() -> list[dict[str, Any]]:
            now = utcnow()
            with request.app[database_key].session() as session:
                staff = session.scalars(
                    select(StaffMember)
                    .where(StaffMember.active.is_(True))
                    .order_by(StaffMember.name, StaffMember.id)
                )
                return [_member_json(member, now) for member in staff]

        return web.json_response({"members": await request.app[database_key].run(read)})

    @guard
    async def claim(request: web.Request) -> web.Response:
        staff: StaffMember = request["staff"]
        try:
            escalation_id = int(request.match_info["escalation_id"])
        except ValueError:
            return _error(404, "not_found", "No such escalation.")

        def take() -> bool:
            with request.app[database_key].session() as session:
                return escalations.claim(session, escalation_id, staff.id)

        if not await request.app[database_key].run(take):
            return _error(409, "already_taken", "Someone else has this conversation, or it is closed.")
        await _announce(request, escalation_id, staff)
        return web.json_response({"claimed": escalation_id})

    app.router.add_post("/api/staff/login", login)
    app.router.add_post("/api/staff/logout", logout)
    app.router.add_get("/api/staff/me", me)
    app.router.add_get("/api/staff/members", members)
    app.router.add_get("/api/staff/escalations", queue)
    app.router.add_post("/api/staff/escalations/{escalation_id}/claim", claim)


async def _announce(request: web.Request, escalation_id: int, staff: StaffMember) -> None:
    """Tell the buyer, in their language, that a person has joined; log it; update consoles."""

    def conversation() -> tuple[str, str] | None:
        with request.app[DATABASE].session() as session:
            escalation = session.get(Escalation, escalation_id)
            return (escalation.conversation_id, escalation.language) if escalation else None

    found = await request.app[DATABASE].run(conversation)
    if found is None:
        return
    conversation_id, language = found
    message = request.app[CATALOGUE].render("utter_person_joined", language, {"agent": staff.name})
    if message:

        def store() -> list[dict[str, Any]]:
            with request.app[DATABASE].session() as session:
                return record_replies(session, conversation_id, [message], None, sender="system")

        [shown] = await request.app[DATABASE].run(store)
        await request.app[HUB].to_buyer(
            conversation_id, {"type": "person_joined", **shown, "agent": staff.name}
        )
    await request.app[HUB].to_staff({"type": "queue_changed"})


def _escalation_json(escalation: Escalation) -> dict[str, Any]:
    return {
        "id": escalation.id,
        "conversation_id": escalation.conversation_id,
        "tier": escalation.tier,
        "language": escalation.language,
        "reason": escalation.reason,
        "order_number": escalation.order_number,
        "order_verified": escalation.order_verified,  # False: only typed, maybe a stranger's
        "status": escalation.status,
        "route": escalation.route,
        "priority": escalation.priority,
        "created_at": escalation.created_at.isoformat(),
        "due_at": escalation.due_at.isoformat(),
        "seconds_left": int((escalation.due_at - utcnow()).total_seconds()),
    }
