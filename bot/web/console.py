"""Handoff between the bot and a person, and the staff console's live side.

While an escalation is claimed, the buyer's messages go to the console (logged,
pushed to staff over WebSocket) instead of Rasa; a staff reply is logged and
pushed to the buyer's chat. "Resolve" hands the conversation back to the bot,
which asks for a rating. Canned replies are sent in the buyer's language
(data/canned_replies.yml), so an agent can serve a buyer whose language they
do not read.

The staff pages and APIs hold customers' data behind a staff cookie, so they
defend against other sites: the console's socket accepts only the service's own
origin (a page elsewhere cannot open it with the staff member's cookie), and
every staff response forbids framing and any script or style not served from
here (STAFF_HEADERS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import ClientError, WSMsgType, web
from sqlalchemy import insert, select, update

from bot.conversation_log import record_replies
from bot.db.models import Conversation, ConversationMessage, Customer, Escalation, EscalationNote, StaffMember
from bot.db.types import utcnow
from bot.events import STAFF, BotMessage, QueueChanged, StaffMessage, Typing
from bot.languages import SUPPORTED_LANGUAGES
from bot.orders.queries import orders_of
from bot.responses import fill
from bot.settings import PROJECT_ROOT
from bot.web.context import DATABASE, HUB, RASA_SESSION, SETTINGS, STATIC_DIR, read_limited
from bot.web.live import BUS, EscalationWatcher, staff_frames
from bot.web.staff import _error, _escalation_json, signed_in, staff_only

logger = logging.getLogger(__name__)

CANNED_FILE = PROJECT_ROOT / "data" / "canned_replies.yml"
#: Longest staff reply or note, and largest WebSocket frame accepted.
MAX_TEXT = 4000
MAX_FRAME_BYTES = 16 * 1024

#: Sent with the staff pages, their scripts and the staff and admin APIs. The pages
#: load their code and styles from /static (no inline code: an injected <script>
#: or onerror= does not run), talk only to this service (its WebSocket included:
#: 'self' covers ws:/wss: on the same host), and may not be framed (clickjacking).
STAFF_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: Paths that get STAFF_HEADERS (prefixes).
STAFF_PATHS = (
    "/console",
    "/dashboard",
    "/api/staff/",
    "/api/admin/",
    "/ws/staff",
    "/static/staff-i18n.js",
    "/static/console.",
    "/static/dashboard.",
)
#: The staff pages' scripts and styles, served from STATIC_DIR under /static/.
STAFF_ASSETS = {
    "console.js": "text/javascript",
    "console.css": "text/css",
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
}


@lru_cache(maxsize=2)
def canned_replies(path: Path = CANNED_FILE) -> dict[str, dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))["replies"]
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in data.items()}


def _load(request: web.Request, escalation_id: int) -> Escalation | None:
    with request.app[DATABASE].session() as session:
        escalation = session.get(Escalation, escalation_id)
        if escalation is not None:
            session.expunge(escalation)
        return escalation


def _escalation_id(request: web.Request) -> int | None:
    try:
        return int(request.match_info["escalation_id"])
    except ValueError:
        return None


async def _json(request: web.Request) -> dict[str, Any] | None:
    raw = await read_limited(request, MAX_TEXT * 4)
    if raw is None:
        return None
    try:
        body = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


async def detail(request: web.Request) -> web.Response:
    """An escalation with its transcript, notes and the customer's context."""
    escalation_id = _escalation_id(request)

    def read() -> dict[str, Any] | None:
        with request.app[DATABASE].session() as session:
            escalation = session.get(Escalation, escalation_id) if escalation_id else None
            if escalation is None:
                return None
            messages = session.scalars(
                select(ConversationMessage)
                .where(ConversationMessage.conversation_id == escalation.conversation_id)
                .order_by(ConversationMessage.id)
            ).all()
            notes = session.execute(
                select(EscalationNote, StaffMember.name)
                .join(StaffMember, StaffMember.id == EscalationNote.staff_id)
                .where(EscalationNote.escalation_id == escalation.id)
                .order_by(EscalationNote.id)
            ).all()
            customer = session.get(Customer, escalation.customer_id) if escalation.customer_id else None
            conversation = session.get(Conversation, escalation.conversation_id)
            return {
                "escalation": _escalation_json(escalation),
                "detected_language": (conversation.language if conversation else None) or escalation.language,
                "transcript": [
                    {
                        "id": m.id,
                        "sender": m.sender,
                        "text": m.text,
                        "at": m.created_at.isoformat(),
                        **(m.data or {}),
                    }
                    for m in messages
                ],
                "notes": [{"by": name, "text": n.text, "at": n.created_at.isoformat()} for n, name in notes],
                "customer": {
                    "name": customer.name,
                    "email": customer.email,
                    "tier": customer.tier,
                    "country": customer.country,
                    "orders": [
                        {"number": o.number, "status": o.status, "total": f"{o.total} {o.currency}"}
                        for o in orders_of(session, customer.id)
                    ],
                }
                if customer
                else None,
            }

    found = await request.app[DATABASE].run(read)
    if found is None:
        return _error(404, "not_found", "No such escalation.")
    return web.json_response(found)


class _Refused(Exception):
    """A reply that cannot be sent: (status, code, detail) for the console."""


async def reply(request: web.Request) -> web.Response:
    """A staff reply: ``{"text": ...}`` or ``{"canned": "<id>"}`` (sent in the buyer's language).

    Checked and stored in one database round trip: a busy console's replies wait
    for nothing else before they are pushed to the buyer.
    """
    staff: StaffMember = request["staff"]
    escalation_id = _escalation_id(request) or 0
    body = await _json(request)
    if body is None:
        return _error(400, "invalid_body", f'Send JSON {{"text": "..."}} of at most {MAX_TEXT} characters.')
    settings = request.app[SETTINGS]
    canned = canned_replies().get(body["canned"]) if isinstance(body.get("canned"), str) else None
    if isinstance(body.get("canned"), str) and canned is None:
        return _error(400, "unknown_canned", "No such canned reply.")
    raw = body.get("text")
    typed = raw.strip() if isinstance(raw, str) else ""
    if canned is None and not typed:
        return _error(400, "empty", "The reply is empty.")
    if len(typed) > MAX_TEXT:
        return _error(413, "too_long", f"Replies are at most {MAX_TEXT} characters.")

    def store() -> tuple[str, int, str]:
        with request.app[DATABASE].session() as session:
            db = session.connection()  # Core statements: the reply path is the console's busiest
            escalation = db.execute(
                select(
                    Escalation.status,
                    Escalation.claimed_by_id,
                    Escalation.language,
                    Escalation.conversation_id,
                ).where(Escalation.id == escalation_id)
            ).first()
            if escalation is None:
                raise _Refused(404, "not_found", "No such escalation.")
            if escalation.status != "claimed" or escalation.claimed_by_id != staff.id:
                raise _Refused(
                    409, "not_yours", "Claim this conversation before replying (or it was resolved)."
                )
            text = typed
            if canned is not None:
                language = escalation.language if escalation.language in canned else settings.default_language
                text = fill(canned[language], {"agent": staff.name, "store_name": settings.store_name})
            message_id = db.scalar(
                insert(ConversationMessage)
                .values(
                    conversation_id=escalation.conversation_id,
                    sender="staff",
                    text=text,
                    data={"agent": staff.name},
                    created_at=utcnow(),
                )
                .returning(ConversationMessage.id)
            )
            db.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id, Escalation.first_response_at.is_(None))
                .values(first_response_at=utcnow())
            )
            return text, int(message_id or 0), escalation.conversation_id

    try:
        text, message_id, conversation_id = await request.app[DATABASE].run(store)
    except _Refused as refused:
        status, code, detail = refused.args
        return _error(status, code, detail)
    await request.app[BUS].publish(StaffMessage(conversation_id, text, staff.name, message_id))
    return web.json_response({"sent": message_id, "text": text})


async def note(request: web.Request) -> web.Response:
    staff: StaffMember = request["staff"]
    escalation_id = _escalation_id(request) or 0
    body = await _json(request)
    text = body.get("text") if body else None
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        return _error(400, "invalid_note", f"A note is 1 to {MAX_TEXT} characters of text.")

    def store() -> bool:
        with request.app[DATABASE].session() as session:
            if session.get(Escalation, escalation_id) is None:
                return False
            session.add(EscalationNote(escalation_id=escalation_id, staff_id=staff.id, text=text.strip()))
            return True

    if not await request.app[DATABASE].run(store):
        return _error(404, "not_found", "No such escalation.")
    return web.json_response({"noted": True})


async def transfer(request: web.Request) -> web.Response:
    """Give a claimed escalation to another staff member, or back to the queue (``to: null``)."""
    staff: StaffMember = request["staff"]
    escalation_id = _escalation_id(request) or 0
    body = await _json(request) or {}
    target = body.get("to")

    def move() -> str | None:
        with request.app[DATABASE].session() as session:
            escalation = session.get(Escalation, escalation_id)
            if escalation is None or escalation.status != "claimed" or escalation.claimed_by_id != staff.id:
                return "This conversation is not yours to transfer."
            if target is not None and (
                not isinstance(target, int) or session.get(StaffMember, target) is None
            ):
                return "No such staff member."
            escalation.status, escalation.claimed_by_id, escalation.claimed_at = "queued", None, None
            escalation.assigned_to_id = target
            return None

    problem = await request.app[DATABASE].run(move)
    if problem:
        return _error(409, "cannot_transfer", problem)
    await request.app[BUS].publish(QueueChanged())
    return web.json_response({"transferred": escalation_id, "to": target})


async def resolve(request: web.Request) -> web.Response:
    """Close the escalation and hand the conversation back to the bot, which asks for a rating."""
    staff: StaffMember = request["staff"]
    escalation_id = _escalation_id(request) or 0

    def close() -> Escalation | None:
        with request.app[DATABASE].session() as session:
            escalation = session.get(Escalation, escalation_id)
            if escalation is None or escalation.status != "claimed" or escalation.claimed_by_id != staff.id:
                return None
            escalation.status, escalation.resolved_at = "resolved", utcnow()
            session.flush()
            session.expunge(escalation)
            return escalation

    escalation = await request.app[DATABASE].run(close)
    if escalation is None:
        return _error(409, "cannot_resolve", "This conversation is not yours, or it is already resolved.")
    await request.app[BUS].publish(QueueChanged())
    await hand_back(request, escalation.conversation_id)
    return web.json_response({"resolved": escalation_id})


async def hand_back(request: web.Request, conversation_id: str) -> None:
    """Tell the bot the person is done: Rasa answers (asking for a rating); the replies
    are logged and pushed to the buyer."""
    try:
        async with request.app[RASA_SESSION].post(
            "/webhooks/rest/webhook", json={"sender": conversation_id, "message": "/conversation_resolved"}
        ) as response:
            replies = await response.json() if response.status == 200 else []
    except (ClientError, TimeoutError, json.JSONDecodeError) as error:
        logger.error("Could not hand %s back to the bot: %s", conversation_id, error)
        return
    shown = [{k: r[k] for k in ("text", "buttons") if r.get(k)} for r in replies if isinstance(r, dict)]

    def store() -> list[dict[str, Any]]:
        with request.app[DATABASE].session() as session:
            return record_replies(session, conversation_id, shown, None)

    for message in await request.app[DATABASE].run(store):
        await request.app[BUS].publish(BotMessage(conversation_id, message))


async def canned(request: web.Request) -> web.Response:
    """The canned replies, each in every language (the console shows the staff member's own)."""
    return web.json_response({"replies": canned_replies(), "languages": list(SUPPORTED_LANGUAGES)})


def own_origin(request: web.Request) -> bool:
    """Whether the request comes from a page of this service, or from no page at all.

    Browsers send ``Origin`` with every WebSocket handshake, and the staff cookie goes
    along whatever page opens the socket: only a page served from the host and port
    the request was made to (or, behind a trusted proxy, the host it forwarded) may
    open the console's. Programs that send no Origin hold the cookie themselves.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    scheme, _, host = origin.partition("://")
    if scheme not in ("http", "https") or not host or "/" in host:
        return False  # "null" (sandboxed pages, file:), or junk
    allowed = {request.host.lower()}
    if request.app[SETTINGS].trust_forwarded_for and (forwarded := request.headers.get("X-Forwarded-Host")):
        allowed.add(forwarded.split(",")[-1].strip().lower())
    return host.lower() in allowed


async def staff_socket(request: web.Request) -> web.WebSocketResponse:
    """A signed-in console: pushes of buyer messages, new and overdue escalations and queue changes."""
    if not own_origin(request):
        return _error(403, "foreign_origin", "This socket is only for the console's own pages.")  # type: ignore[return-value]
    found = await request.app[DATABASE].run(lambda: signed_in(request.app[DATABASE], request))
    if found is None:
        return _error(401, "not_signed_in", "Please sign in.")  # type: ignore[return-value]
    staff, _ = found
    socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
    # Subscribed before the handshake: nothing published while it completes is missed.
    listener = await request.app[HUB].listen(socket, STAFF, staff_frames(staff.id))
    try:
        await socket.prepare(request)
        listener.start()
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                if frame.data == "ping":
                    await request.app[DATABASE].run(
                        lambda: signed_in(request.app[DATABASE], request)
                    )  # stays "online"
                    await socket.send_str("pong")
                elif (typing := _typing_frame(frame.data)) is not None:
                    await _show_typing(request, staff, typing)
                else:
                    await socket.send_json(
                        {"type": "error", "detail": "Use the HTTP API to act; send 'ping' here."}
                    )
            elif frame.type == WSMsgType.BINARY:
                await socket.send_json({"type": "error", "detail": "Binary frames are not accepted."})
            elif frame.type == WSMsgType.ERROR:
                break
    finally:
        await listener.stop()
    return socket


def _typing_frame(data: str) -> int | None:
    """The escalation id of a ``{"type": "typing", "escalation_id": N}`` frame, else None."""
    try:
        frame = json.loads(data)
    except (json.JSONDecodeError, RecursionError):
        return None
    if (
        isinstance(frame, dict)
        and frame.get("type") == "typing"
        and isinstance(frame.get("escalation_id"), int)
    ):
        return int(frame["escalation_id"])
    return None


async def _show_typing(request: web.Request, staff: StaffMember, escalation_id: int) -> None:
    """Tell the buyer a person is writing (only in a conversation this person has claimed)."""
    escalation = await request.app[DATABASE].run(lambda: _load(request, escalation_id))
    if escalation is not None and escalation.status == "claimed" and escalation.claimed_by_id == staff.id:
        await request.app[BUS].publish(Typing(escalation.conversation_id, staff.name))


async def add_staff_headers(request: web.Request, response: web.StreamResponse) -> None:
    """STAFF_HEADERS on every staff page, script and API response (errors included)."""
    if request.path.startswith(STAFF_PATHS):
        for name, value in STAFF_HEADERS.items():
            response.headers.setdefault(name, value)


def staff_asset(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / name, headers={"Content-Type": f"{content_type}; charset=utf-8"})

    return serve


async def watch_escalations(app: web.Application) -> AsyncIterator[None]:
    """Run the escalation watcher (bot/web/live.py) while the app runs: it publishes the
    escalations the action server opens, and the ones that become late."""
    watcher = EscalationWatcher(app[DATABASE], app[BUS], _escalation_json)
    try:
        await watcher.start()
    except Exception as error:  # e.g. no schema yet: the watcher's loop keeps trying
        logger.warning("Escalation watcher starts without a cursor: %s", error)
        watcher.last_id = None
    task = asyncio.create_task(watcher.run(), name="escalation-watcher")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def setup_console(app: web.Application) -> None:
    """The console's routes, its escalation watcher (after the database opens: see
    setup_admin) and the staff pages' headers and assets."""
    app.on_response_prepare.append(add_staff_headers)
    app.cleanup_ctx.append(watch_escalations)
    for name, content_type in STAFF_ASSETS.items():
        app.router.add_get(f"/static/{name}", staff_asset(name, content_type))
    guard = staff_only(database_key=DATABASE)
    app.router.add_get("/api/staff/escalations/{escalation_id}", guard(detail))
    app.router.add_post("/api/staff/escalations/{escalation_id}/reply", guard(reply))
    app.router.add_post("/api/staff/escalations/{escalation_id}/notes", guard(note))
    app.router.add_post("/api/staff/escalations/{escalation_id}/transfer", guard(transfer))
    app.router.add_post("/api/staff/escalations/{escalation_id}/resolve", guard(resolve))
    app.router.add_get("/api/staff/canned", guard(canned))
    app.router.add_get("/ws/staff", staff_socket)
