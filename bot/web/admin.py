"""The knowledge-base admin API: entries, files, validation, unanswered questions.

All routes are under ``/api/admin/kb`` and need ``Authorization: Bearer
<ADMIN_TOKEN>`` (until staff accounts replace the token). Every change is
validated and written atomically with a backup (bot/knowledge/editor.py); the
processes that answer pick it up within a second (bot/knowledge/service.py).
Errors are JSON ``{"error": {"code", "detail", "problems"?}}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from bot.db.database import Database
from bot.knowledge.editor import EditError, KnowledgeEditor, entry_as_dict
from bot.knowledge.feedback import FeedbackStore
from bot.knowledge.loader import MAX_DEPTH, MAX_FILE_BYTES, RefusedYaml, entry_files
from bot.knowledge.model import Problem
from bot.knowledge.service import KnowledgeService
from bot.knowledge.unanswered import group_questions
from bot.languages import SUPPORTED_LANGUAGES
from bot.service.dashboard import as_csv, figures
from bot.settings import Settings
from bot.tokenization import Tokenizers
from bot.web.context import DATABASE, read_limited
from bot.web.staff import COOKIE, CSRF_HEADER, SAFE_METHODS, signed_in

#: Largest JSON body for one entry.
MAX_ENTRY_BYTES = 256 * 1024
#: Longest period the unanswered-question report looks back.
MAX_DAYS = 366

SETTINGS_KEY = web.AppKey("admin_settings", Settings)
KNOWLEDGE = web.AppKey("knowledge", KnowledgeService)
EDITOR = web.AppKey("editor", KnowledgeEditor)
FEEDBACK = web.AppKey("feedback", FeedbackStore)

TOKENIZERS = web.AppKey("tokenizers", Tokenizers)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, detail: str, problems: list[Problem] | None = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if problems is not None:
        body["problems"] = [_problem(p) for p in problems]
    return web.json_response({"error": body}, status=status)


def _problem(problem: Problem) -> dict[str, Any]:
    return {"file": problem.path.name, "line": problem.line, "message": problem.message, "text": str(problem)}


def admin_only(handler: Handler) -> Handler:
    """Refuse requests without the admin token (compared in constant time)."""

    async def checked(request: web.Request) -> web.StreamResponse:
        token = request.app[SETTINGS_KEY].admin_token
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not given and request.cookies.get(COOKIE):
            denied = await _admin_session_denied(request)
            if denied is not None:
                return denied
        elif not token or not given or not hmac.compare_digest(given.encode(), token.encode()):
            response = _error(
                401, "unauthorized", "This needs an admin: sign in, or send 'Authorization: Bearer <token>'."
            )
            response.headers["WWW-Authenticate"] = 'Bearer realm="admin"'
            return response
        try:
            return await handler(request)
        except EditError as error:
            return _error(error.status, error.code, error.detail, error.problems or None)

    return checked


async def _admin_session_denied(request: web.Request) -> web.Response | None:
    """None when the session cookie belongs to a signed-in admin (with the CSRF header
    on changes); otherwise the error to answer with."""
    found = await asyncio.to_thread(signed_in, request.app[DATABASE], request)
    if found is None:
        return _error(401, "not_signed_in", "Please sign in (your session may have expired).")
    staff, csrf = found
    if staff.role != "admin":
        return _error(403, "forbidden", "Only admins can change the knowledge base.")
    if request.method not in SAFE_METHODS and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, ""), csrf
    ):
        return _error(403, "csrf", f"Missing or wrong {CSRF_HEADER} header.")
    return None


async def _read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise EditError(
            413, "too_large", f"The body is {request.content_length:,} bytes; the limit is {limit:,}."
        )
    data = await read_limited(request, limit)
    if data is None:
        raise EditError(413, "too_large", f"The body is over the limit of {limit:,} bytes.")
    return data


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await _read_body(request, MAX_ENTRY_BYTES)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise EditError(400, "invalid_json", "The body must be a JSON object in UTF-8.") from error
    if not isinstance(body, dict):
        raise EditError(400, "invalid_json", "The body must be a JSON object (one entry).")
    if _depth(body) > MAX_DEPTH:
        raise EditError(400, "invalid_json", f"The entry nests more than {MAX_DEPTH} levels deep.")
    return body


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and objects nest in ``value`` (counting stops past ``limit``), so
    an entry is refused before it is turned into YAML nodes."""
    if not isinstance(value, (dict, list)) or limit < 0:
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


async def _snapshot(request: web.Request) -> Any:
    """The knowledge base as on disk right now (admins must see their change at once)."""
    service = request.app[KNOWLEDGE]

    def fresh() -> Any:
        service.refresh()
        return service.current()

    return await asyncio.to_thread(fresh)


@admin_only
async def list_entries(request: web.Request) -> web.Response:
    snapshot = await _snapshot(request)
    entries = [
        {
            "id": entry.id,
            "topic": entry.topic,
            "file": entry.source.name if entry.source else None,
            "languages": sorted(entry.languages()),
            "missing_languages": [lang for lang in SUPPORTED_LANGUAGES if lang not in entry.languages()],
        }
        for entry in sorted(snapshot.base.entries.values(), key=lambda e: e.id)
    ]
    return web.json_response({"entries": entries, "problems": [_problem(p) for p in snapshot.problems]})


@admin_only
async def get_entry(request: web.Request) -> web.Response:
    snapshot = await _snapshot(request)
    entry = snapshot.base.entries.get(request.match_info["entry_id"])
    if entry is None:
        return _error(404, "not_found", f"There is no entry {request.match_info['entry_id']!r}.")
    return web.json_response(
        {"entry": entry_as_dict(entry), "file": entry.source.name if entry.source else None}
    )


@admin_only
async def create_entry(request: web.Request) -> web.Response:
    body = await _json_body(request)
    file_name = body.get("file")
    if file_name is not None and not isinstance(file_name, str):
        return _error(400, "bad_file_name", "'file' must be a file name such as shipping.yml.")
    name = await asyncio.to_thread(request.app[EDITOR].save_entry, body, file_name, True)
    return web.json_response({"id": body["id"], "file": name}, status=201)


@admin_only
async def update_entry(request: web.Request) -> web.Response:
    body = await _json_body(request)
    entry_id = request.match_info["entry_id"]
    if body.setdefault("id", entry_id) != entry_id:
        return _error(400, "id_mismatch", "The id in the body differs from the one in the address.")
    name = await asyncio.to_thread(request.app[EDITOR].save_entry, body, None, False)
    return web.json_response({"id": entry_id, "file": name})


@admin_only
async def delete_entry(request: web.Request) -> web.Response:
    entry_id = request.match_info["entry_id"]
    name = await asyncio.to_thread(request.app[EDITOR].delete_entry, entry_id)
    return web.json_response({"id": entry_id, "file": name, "deleted": True})


@admin_only
async def list_files(request: web.Request) -> web.Response:
    snapshot = await _snapshot(request)
    editor = request.app[EDITOR]
    counts: dict[str, int] = {}
    for entry in snapshot.base.entries.values():
        if entry.source:
            counts[entry.source.name] = counts.get(entry.source.name, 0) + 1
    files = []
    for path in entry_files(editor.directory):
        problems = [_problem(p) for p in snapshot.problems if p.path.name == path.name]
        files.append({"name": path.name, "entries": counts.get(path.name, 0), "problems": problems})
    return web.json_response({"files": files})


@admin_only
async def get_file(request: web.Request) -> web.Response:
    data = await asyncio.to_thread(request.app[EDITOR].read_file, request.match_info["name"])
    return web.Response(body=data, content_type="application/yaml", charset="utf-8")


@admin_only
async def put_file(request: web.Request) -> web.Response:
    """Upload a whole file (the body is the YAML). Refused whole if it has any error."""
    name = request.match_info["name"]
    request.app[EDITOR].path_for(name)
    data = await _read_body(request, MAX_FILE_BYTES)
    created = await asyncio.to_thread(request.app[EDITOR].write_file, name, data)
    return web.json_response({"file": name, "created": created}, status=201 if created else 200)


@admin_only
async def delete_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    await asyncio.to_thread(request.app[EDITOR].delete_file, name)
    return web.json_response({"file": name, "deleted": True})


@admin_only
async def validate_file(request: web.Request) -> web.Response:
    """Check a file's content without saving it: ``POST /validate?name=shipping.yml``."""
    name = request.query.get("name", "upload.yml")
    request.app[EDITOR].path_for(name)
    data = await _read_body(request, MAX_FILE_BYTES)
    problems = await asyncio.to_thread(request.app[EDITOR].check, name, data)
    if any(isinstance(p, RefusedYaml) for p in problems):
        return _error(422, "unsafe_yaml", f"{name} was refused unread.", problems)
    return web.json_response(
        {"file": name, "valid": not problems, "problems": [_problem(p) for p in problems]}
    )


@admin_only
async def live_problems(request: web.Request) -> web.Response:
    """Problems of the files on disk now (their previous versions are what answers)."""
    snapshot = await _snapshot(request)
    return web.json_response(
        {
            "problems": [_problem(p) for p in snapshot.problems],
            "entries": len(snapshot.base.entries),
            "loaded_at": datetime.fromtimestamp(snapshot.loaded_at, timezone.utc).isoformat(),
        }
    )


def _since(request: web.Request) -> datetime:
    raw = request.query.get("days", "30")
    try:
        days = int(raw)
    except ValueError as error:
        raise EditError(400, "bad_days", "'days' must be a whole number of days.") from error
    if not 1 <= days <= MAX_DAYS:
        raise EditError(400, "bad_days", f"'days' must be between 1 and {MAX_DAYS}.")
    return datetime.now(timezone.utc) - timedelta(days=days)


@admin_only
async def unanswered(request: web.Request) -> web.Response:
    """Unanswered and not-helped questions, grouped by similarity, biggest group first."""
    since = _since(request)
    language = request.query.get("language") or None
    if language is not None and language not in SUPPORTED_LANGUAGES:
        return _error(400, "bad_language", f"'language' must be one of {' '.join(SUPPORTED_LANGUAGES)}.")
    snapshot = await _snapshot(request)
    questions = await asyncio.to_thread(request.app[FEEDBACK].unanswered, since, language)
    groups = await asyncio.to_thread(group_questions, questions, request.app[TOKENIZERS], snapshot.index)
    return web.json_response(
        {"since": since.isoformat(), "questions": len(questions), "groups": [g.as_json() for g in groups]}
    )


def _period(request: web.Request) -> tuple[datetime, datetime]:
    """``from`` and ``to`` (YYYY-MM-DD, UTC days, ``to`` included); default the last 30 days."""
    try:
        end = (
            datetime.fromisoformat(request.query["to"]).replace(tzinfo=timezone.utc) + timedelta(days=1)
            if request.query.get("to")
            else datetime.now(timezone.utc)
        )
        start = (
            datetime.fromisoformat(request.query["from"]).replace(tzinfo=timezone.utc)
            if request.query.get("from")
            else end - timedelta(days=30)
        )
    except (ValueError, OverflowError) as error:  # OverflowError: the day after 9999-12-31
        raise EditError(400, "bad_period", "'from' and 'to' are dates like 2026-11-01.") from error
    if not timedelta(0) < end - start <= timedelta(days=MAX_DAYS):
        raise EditError(400, "bad_period", f"The period must be 1 to {MAX_DAYS} days, 'from' before 'to'.")
    return start, end


async def _dashboard_figures(request: web.Request) -> dict[str, Any]:
    start, end = _period(request)

    def read() -> dict[str, Any]:
        with request.app[DATABASE].session() as session:
            return figures(session, start, end)

    data = await asyncio.to_thread(read)
    snapshot = await _snapshot(request)
    questions = await asyncio.to_thread(request.app[FEEDBACK].unanswered, start)
    questions = [q for q in questions if q.created_at < end]
    groups = await asyncio.to_thread(group_questions, questions, request.app[TOKENIZERS], snapshot.index)
    data["unanswered"] = {"questions": len(questions), "top_groups": [g.as_json() for g in groups[:10]]}
    return data


@admin_only
async def dashboard(request: web.Request) -> web.Response:
    """Conversations, containment, escalations, first responses, CSAT by language, tier,
    staff member and topic, and the knowledge base's unanswered questions."""
    return web.json_response(await _dashboard_figures(request))


@admin_only
async def dashboard_csv(request: web.Request) -> web.Response:
    data = await _dashboard_figures(request)
    response = web.Response(text=as_csv(data), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="satisfaction.csv"'
    return response


@admin_only
async def helpfulness(request: web.Request) -> web.Response:
    """Per entry: how many buyers said its answer helped or did not."""
    since = _since(request)
    counts = await asyncio.to_thread(request.app[FEEDBACK].helpfulness, since)
    return web.json_response(
        {
            "since": since.isoformat(),
            "entries": {
                entry_id: {"helpful": h.helpful, "not_helpful": h.not_helpful}
                for entry_id, h in counts.items()
            },
        }
    )


def setup_admin(app: web.Application, settings: Settings, tokenizers: Tokenizers | None = None) -> None:
    """Add the admin routes and what they need (opened and closed with the app)."""
    tokenizers = tokenizers or Tokenizers()
    app[SETTINGS_KEY] = settings
    app[TOKENIZERS] = tokenizers
    app[KNOWLEDGE] = KnowledgeService(settings.knowledge_base_dir, tokenizers)
    app[EDITOR] = KnowledgeEditor(settings.knowledge_base_dir, settings.kb_backup_dir)

    async def database(app: web.Application) -> Any:
        db = Database(settings.database_url)
        app[DATABASE] = db
        app[FEEDBACK] = FeedbackStore(db)
        yield
        db.dispose()

    app.cleanup_ctx.append(database)
    prefix = "/api/admin/kb"
    app.router.add_get(f"{prefix}/entries", list_entries)
    app.router.add_post(f"{prefix}/entries", create_entry)
    app.router.add_get(f"{prefix}/entries/{{entry_id}}", get_entry)
    app.router.add_put(f"{prefix}/entries/{{entry_id}}", update_entry)
    app.router.add_delete(f"{prefix}/entries/{{entry_id}}", delete_entry)
    app.router.add_get(f"{prefix}/files", list_files)
    app.router.add_get(f"{prefix}/files/{{name}}", get_file)
    app.router.add_put(f"{prefix}/files/{{name}}", put_file)
    app.router.add_delete(f"{prefix}/files/{{name}}", delete_file)
    app.router.add_post(f"{prefix}/validate", validate_file)
    app.router.add_get(f"{prefix}/problems", live_problems)
    app.router.add_get(f"{prefix}/unanswered", unanswered)
    app.router.add_get(f"{prefix}/feedback", helpfulness)
    app.router.add_get("/api/admin/dashboard", dashboard)
    app.router.add_get("/api/admin/dashboard.csv", dashboard_csv)
