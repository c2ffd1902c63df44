"""The web service: the hub between buyers, the assistant and (later) staff.

``create_app(settings)`` builds the aiohttp application. Shared resources (the
HTTP session to Rasa, the response catalogue) live in typed app keys and are
opened and closed in ``cleanup_ctx``; nothing happens at import time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from sqlalchemy.exc import SQLAlchemyError

from bot.conversation_log import record_buyer_message, record_replies, replies_to
from bot.languages import SUPPORTED_LANGUAGES, normalise_language
from bot.orders.tokens import InvalidToken
from bot.orders.tokens import verify as verify_token
from bot.responses import Catalogue
from bot.settings import PROJECT_ROOT, Settings
from bot.web.admin import setup_admin
from bot.web.console import buyer_message_to_person, setup_console
from bot.web.context import (
    CATALOGUE,
    DATABASE,
    HUB,
    LANGUAGES,
    RASA_SESSION,
    SETTINGS,
    ConversationLanguages,
    error_response,
    read_limited,
    render,
    reply_language,
)
from bot.web.live import Hub
from bot.web.messages import IncomingMessage, InvalidMessage, parse_incoming
from bot.web.staff import setup_staff

logger = logging.getLogger(__name__)

#: Largest request body accepted (bytes). A chat message is far smaller; this
#: only stops abuse before any JSON is parsed.
MAX_BODY_BYTES = 64 * 1024
#: Largest NLG request from Rasa (it carries the conversation's whole tracker).
MAX_NLG_BODY_BYTES = 32 * 1024 * 1024

STATIC_DIR = Path(__file__).resolve().parent / "static"


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into a JSON error: clients never see an HTML error page."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        language = reply_language(request)
        message = render(
            request, "utter_message_too_long", language, max_length=request.app[SETTINGS].max_message_length
        )
        return error_response(413, "too_large", message["text"], language=language)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(
            error.status, error.reason.lower().replace(" ", "_"), error.text or error.reason
        )
    except Exception:
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "Something went wrong on our side.")


async def health(request: web.Request) -> web.Response:
    """Liveness of the web service, and whether Rasa answers (``?deep=1``)."""
    body: dict[str, Any] = {"status": "ok"}
    if request.query.get("deep"):
        try:
            async with request.app[RASA_SESSION].get("/status", timeout=ClientTimeout(total=3)) as response:
                body["rasa"] = "up" if response.status == 200 else f"http {response.status}"
        except (ClientError, TimeoutError):
            body["rasa"] = "down"
    return web.json_response(body)


async def chat(request: web.Request) -> web.Response:
    """Relay one buyer message to Rasa's REST channel and return the assistant's replies.

    Body: ``{conversation_id?, text | payload, locale?, client_msg_id?}``.
    """
    settings = request.app[SETTINGS]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response(400, "invalid_json", "The request body must be valid JSON.")
    try:
        message = parse_incoming(body)
    except InvalidMessage as error:
        return error_response(400, error.code, error.detail)

    language = reply_language(request, message)
    if len(message.text) > settings.max_message_length:
        text = render(request, "utter_message_too_long", language, max_length=settings.max_message_length)[
            "text"
        ]
        return error_response(
            413, "message_too_long", text, language=language, conversation_id=message.conversation_id
        )
    if not message.text:
        return _chat_reply(message, language, [render(request, "utter_empty_message", language)])

    customer = _verified_customer(settings, message)
    duplicate = await _log_buyer_message(request, message, customer)
    if duplicate is not None:
        return _chat_reply(message, language, duplicate)  # a retry: answered already
    if await buyer_message_to_person(request, message.conversation_id, message.text):
        # A person has this conversation: their reply arrives over /ws/chat.
        return _chat_reply(message, language, [], with_person=True)
    metadata = {
        "conversation_language": request.app[LANGUAGES].get(message.conversation_id),
        "locale": message.locale,
        # The only way the assistant learns who the buyer is: a token the store signed.
        "customer": customer,
        "client_address": request.remote or "",
    }
    try:
        async with request.app[RASA_SESSION].post(
            "/webhooks/rest/webhook",
            json={"sender": message.conversation_id, "message": message.text, "metadata": metadata},
        ) as response:
            if response.status != 200:
                raise ClientError(f"Rasa answered HTTP {response.status}")
            replies = await response.json()
    except (ClientError, TimeoutError, json.JSONDecodeError) as error:
        logger.error("Rasa unavailable for %s: %s", message.conversation_id, error)
        text = render(request, "utter_service_unavailable", language)["text"]
        return error_response(
            503, "assistant_unavailable", text, language=language, conversation_id=message.conversation_id
        )
    language = request.app[LANGUAGES].get(message.conversation_id) or language
    shown = [_reply(r) for r in replies if isinstance(r, dict)]
    await _log(request, record_replies, message.conversation_id, shown, language)
    return _chat_reply(message, language, shown)


async def _log(request: web.Request, write: Callable[..., Any], *args: Any) -> Any:
    """Run a conversation-log function in a session (off the event loop).

    A database failure is logged and the chat goes on: Rasa keeps its own
    tracker, so the conversation itself is not lost.
    """

    def work() -> Any:
        with request.app[DATABASE].session() as session:
            return write(session, *args)

    try:
        return await asyncio.to_thread(work)
    except SQLAlchemyError:
        logger.exception("Conversation log write failed for %s", args[0] if args else "?")
        return None


async def _log_buyer_message(
    request: web.Request, message: IncomingMessage, customer: dict[str, str] | None
) -> list[dict[str, Any]] | None:
    """Store the buyer's message; the earlier replies if it is a retry of one answered already."""
    if message.client_msg_id:
        earlier = await _log(request, replies_to, message.conversation_id, message.client_msg_id)
        if earlier:
            return list(earlier)
        if earlier == []:
            return None  # stored, never answered (the assistant was down): ask it now
    new = await _log(
        request,
        record_buyer_message,
        message.conversation_id,
        message.text,
        message.client_msg_id,
        customer["id"] if customer else None,
    )
    if new is False and message.client_msg_id:  # the same retry arrived twice at once
        return list(await _log(request, replies_to, message.conversation_id, message.client_msg_id) or [])
    return None


def _verified_customer(settings: Settings, message: IncomingMessage) -> dict[str, str] | None:
    """The customer the store's signed token names, or None (anonymous) when it is
    missing, tampered with or expired; a bad token is logged, never shown."""
    if not message.customer_token:
        return None
    try:
        identity = verify_token(message.customer_token, settings.customer_token_secret)
    except InvalidToken as error:
        logger.warning("Ignored customer token in conversation %s: %s", message.conversation_id, error)
        return None
    return {"id": identity.customer_id, "email": identity.email}


def _reply(rasa_message: dict[str, Any]) -> dict[str, Any]:
    """Keep the parts of a Rasa REST reply the widget shows."""
    reply: dict[str, Any] = {}
    for key in ("text", "buttons", "custom", "image"):
        if rasa_message.get(key):
            reply[key] = rasa_message[key]
    return reply


def _chat_reply(
    message: IncomingMessage, language: str, replies: list[dict[str, Any]], with_person: bool = False
) -> web.Response:
    return web.json_response(
        {
            "conversation_id": message.conversation_id,
            "client_msg_id": message.client_msg_id,
            "language": language,
            "messages": replies,
            "with_person": with_person,
        }
    )


async def nlg(request: web.Request) -> web.Response:
    """Rasa's NLG endpoint: one bot response, in the conversation's language.

    Rasa posts ``{response, arguments, tracker, channel}``. The language is the
    ``language`` argument (a switch that has not reached the slot yet), else the
    tracker's ``language`` slot. The conversation's language is remembered as
    the prior for the buyer's next message.
    """
    settings = request.app[SETTINGS]
    if settings.nlg_token and request.query.get("token") != settings.nlg_token:
        return error_response(401, "unauthorized", "Wrong or missing NLG token.")
    # Rasa sends the whole conversation tracker with every response, so this body
    # grows with the conversation: it gets its own, much larger limit than the chat's.
    raw = await read_limited(request, MAX_NLG_BODY_BYTES)
    if raw is None:
        logger.error("NLG request over %d bytes: the conversation's tracker is too long", MAX_NLG_BODY_BYTES)
        return error_response(413, "too_large", "The NLG request is too large.")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response(400, "invalid_json", "The request body must be valid JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("response"), str):
        return error_response(400, "invalid_body", "Expected {response, arguments, tracker}.")
    arguments: dict[str, Any] = _mapping(body.get("arguments"))
    tracker: dict[str, Any] = _mapping(body.get("tracker"))
    slots: dict[str, Any] = _mapping(tracker.get("slots"))
    language = (
        normalise_language(arguments.get("language"))
        or normalise_language(slots.get("language"))
        or settings.default_language
    )
    sender = tracker.get("sender_id")
    if isinstance(sender, str) and sender:
        request.app[LANGUAGES].set(sender, language)
    values = {k: v for k, v in slots.items() if isinstance(v, (str, int, float))}
    values.update({k: v for k, v in arguments.items() if isinstance(v, (str, int, float))})
    values.update(
        store_name=settings.store_name,
        support_email=settings.support_email,
        max_length=settings.max_message_length,
    )
    message = request.app[CATALOGUE].render(body["response"], language, values)
    if message is None:
        logger.error("Rasa asked for unknown response %s", body["response"])
        return web.json_response({"text": None})
    return web.json_response(message)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def console_page(request: web.Request) -> web.FileResponse:
    """The staff console (sign-in, queue, conversation); its data comes from /api/staff."""
    return web.FileResponse(STATIC_DIR / "console.html")


async def dashboard_page(request: web.Request) -> web.FileResponse:
    """The admins' satisfaction dashboard; its figures come from /api/admin/dashboard."""
    return web.FileResponse(STATIC_DIR / "dashboard.html")


async def index(request: web.Request) -> web.FileResponse:
    """A plain test page to chat with the assistant (the storefront widget comes later)."""
    return web.FileResponse(STATIC_DIR / "chat.html")


async def languages(request: web.Request) -> web.Response:
    return web.json_response({"languages": list(SUPPORTED_LANGUAGES)})


def create_app(settings: Settings, catalogue: Catalogue | None = None) -> web.Application:
    """Build the web application for ``settings``.

    ``catalogue`` is loaded from domain.yml and data/translations when not given.
    """
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[CATALOGUE] = catalogue or Catalogue.load(
        PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "translations", settings.default_language
    )
    app[LANGUAGES] = ConversationLanguages()
    app[HUB] = Hub()

    async def close_sockets(app: web.Application) -> None:
        await app[HUB].close_all()

    app.on_shutdown.append(close_sockets)

    async def rasa_session(app: web.Application) -> AsyncIterator[None]:
        session = ClientSession(
            base_url=settings.rasa_url, timeout=ClientTimeout(total=settings.rasa_timeout_seconds)
        )
        app[RASA_SESSION] = session
        yield
        await session.close()

    app.cleanup_ctx.append(rasa_session)
    app.router.add_get("/", index)
    app.router.add_get("/console", console_page)
    app.router.add_get("/dashboard", dashboard_page)
    app.router.add_get("/health", health)
    app.router.add_get("/api/languages", languages)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/nlg", nlg)
    setup_admin(app, settings)
    setup_staff(app, settings, DATABASE)
    setup_console(app)
    return app
