"""The web service: the hub between buyers, the assistant and (later) staff.

``create_app(settings)`` builds the aiohttp application. Shared resources (the
HTTP session to Rasa, the response catalogue) live in typed app keys and are
opened and closed in ``cleanup_ctx``; nothing happens at import time.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bot.events import LocalBus
from bot.languages import SUPPORTED_LANGUAGES, normalise_language
from bot.responses import Catalogue
from bot.settings import PROJECT_ROOT, Settings
from bot.web.admin import setup_admin
from bot.web.chat import setup_chat
from bot.web.console import setup_console
from bot.web.context import (
    ADDRESS_THROTTLE,
    CATALOGUE,
    DATABASE,
    HUB,
    LANGUAGES,
    RASA_SESSION,
    SETTINGS,
    STATIC_DIR,
    THROTTLE,
    ConversationLanguages,
    error_response,
    first_language,
    read_limited,
    say,
)
from bot.web.labels import setup_labels
from bot.web.live import BUS, Hub
from bot.web.staff import setup_staff
from bot.web.throttle import Throttle
from bot.web.widget import cors_middleware, setup_widget

logger = logging.getLogger(__name__)

#: Largest request body accepted (bytes). A chat message is far smaller; this
#: only stops abuse before any JSON is parsed.
MAX_BODY_BYTES = 64 * 1024
#: Largest NLG request from Rasa. bot/rasa_nlg.py sends the response name, its arguments
#: and the slots (a few hundred bytes, whatever the conversation's length), not the tracker.
MAX_NLG_BODY_BYTES = 256 * 1024
#: The header Rasa's NLG client sends the shared NLG_TOKEN in (bot/rasa_nlg.py).
NLG_TOKEN_HEADER = "X-NLG-Token"
#: The header the REST channel of Rasa checks RASA_TOKEN in (bot/rasa_channel.py).
RASA_TOKEN_HEADER = "X-Rasa-Token"


@dataclass
class NlgListener:
    """The loopback listener for Rasa's callbacks: its port once bound, and the sizes of
    the requests it received (``GET /nlg/stats``: the e2e tests check they stay small)."""

    port: int = 0
    requests: int = 0
    largest_body: int = 0
    recent_sizes: deque[int] = field(default_factory=lambda: deque(maxlen=200))

    def record(self, size: int) -> None:
        self.requests += 1
        self.largest_body = max(self.largest_body, size)
        self.recent_sizes.append(size)


NLG_LISTENER = web.AppKey("nlg_listener", NlgListener)
#: On the callback app: the public app whose state (languages, catalogue) it shares.
MAIN_APP = web.AppKey("main_app", web.Application)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure into a JSON error: clients never see an HTML error page."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        language = first_language(request.app, None, request.headers.get("Accept-Language"))
        message = say(
            request.app,
            "utter_message_too_long",
            language,
            max_length=request.app[SETTINGS].max_message_length,
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
        # Rasa's HTTP API takes its plain auth token only as ?token= (a header only with JWT).
        token = request.app[SETTINGS].rasa_token
        params = {"token": token} if token else {}
        try:
            async with request.app[RASA_SESSION].get(
                "/status", params=params, timeout=ClientTimeout(total=3)
            ) as response:
                body["rasa"] = "up" if response.status == 200 else f"http {response.status}"
        except (ClientError, TimeoutError):
            body["rasa"] = "down"
    return web.json_response(body)


def _nlg_authorised(request: web.Request) -> bool:
    """Whether the caller holds NLG_TOKEN (constant-time); no token set: nobody does."""
    expected = request.app[MAIN_APP][SETTINGS].nlg_token
    given = request.headers.get(NLG_TOKEN_HEADER, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def nlg(request: web.Request) -> web.Response:
    """Rasa's NLG endpoint: one bot response, in the conversation's language.

    Served only on the loopback callback listener, to callers with the NLG token.
    Rasa (bot/rasa_nlg.py) posts ``{response, arguments, slots, sender_id, channel}``.
    The language is the ``language`` argument (a switch that has not reached the slot
    yet), else the ``language`` slot. The conversation's language is remembered as the
    prior for the buyer's next message.
    """
    app = request.app[MAIN_APP]
    settings = app[SETTINGS]
    if not _nlg_authorised(request):
        return _refused(401, "unauthorized", "Wrong or missing NLG token.")
    # Refused before reading when the declared length is too long, else after the limit:
    # never more than MAX_NLG_BODY_BYTES is held, whatever the caller sends.
    if (request.content_length or 0) > MAX_NLG_BODY_BYTES:
        return _nlg_too_large()
    raw = await read_limited(request, MAX_NLG_BODY_BYTES)
    if raw is None:
        return _nlg_too_large()
    request.app[NLG_LISTENER].record(len(raw))
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return error_response(400, "invalid_json", "The request body must be valid JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("response"), str):
        return error_response(400, "invalid_body", "Expected {response, arguments, slots, sender_id}.")
    arguments: dict[str, Any] = _mapping(body.get("arguments"))
    slots: dict[str, Any] = _mapping(body.get("slots"))
    language = (
        normalise_language(arguments.get("language"))
        or normalise_language(slots.get("language"))
        or settings.default_language
    )
    sender = body.get("sender_id")
    if isinstance(sender, str) and sender:
        app[LANGUAGES].set(sender, language)
    values = {k: v for k, v in slots.items() if isinstance(v, (str, int, float))}
    values.update({k: v for k, v in arguments.items() if isinstance(v, (str, int, float))})
    values.update(
        store_name=settings.store_name,
        support_email=settings.support_email,
        max_length=settings.max_message_length,
    )
    message = app[CATALOGUE].render(body["response"], language, values)
    if message is None:
        logger.error("Rasa asked for unknown response %s", body["response"])
        return web.json_response({"text": None})
    return web.json_response(message)


def _nlg_too_large() -> web.Response:
    logger.error("NLG request over %d bytes refused", MAX_NLG_BODY_BYTES)
    return _refused(413, "too_large", "The NLG request is too large.")


def _refused(status: int, code: str, detail: str) -> web.Response:
    """An error that also closes the connection: the unread rest of the body is dropped,
    not read and discarded (aiohttp would otherwise keep reading it for seconds)."""
    response = error_response(status, code, detail)
    response.force_close()
    return response


async def nlg_stats(request: web.Request) -> web.Response:
    """How many NLG requests arrived and how large they were (for tests and operators)."""
    if not _nlg_authorised(request):
        return _refused(401, "unauthorized", "Wrong or missing NLG token.")
    listener = request.app[NLG_LISTENER]
    return web.json_response(
        {
            "requests": listener.requests,
            "largest_body_bytes": listener.largest_body,
            "recent_body_bytes": list(listener.recent_sizes),
        }
    )


def create_callback_app(main: web.Application) -> web.Application:
    """The app of the loopback listener: only Rasa's callbacks, with their own body limit."""
    callbacks = web.Application(middlewares=[error_middleware], client_max_size=MAX_NLG_BODY_BYTES)
    callbacks[MAIN_APP] = main
    callbacks[SETTINGS] = main[SETTINGS]
    callbacks[NLG_LISTENER] = main[NLG_LISTENER]
    callbacks[CATALOGUE] = main[CATALOGUE]
    callbacks.router.add_post("/nlg", nlg)
    callbacks.router.add_get("/nlg/stats", nlg_stats)
    return callbacks


async def callback_listener(app: web.Application) -> AsyncIterator[None]:
    """Serve Rasa's callbacks on 127.0.0.1:NLG_PORT for as long as the web service runs.

    A second listener rather than a route on the public port: a buyer (or anyone on the
    internet) cannot reach it at all, and the token check comes on top.
    """
    settings = app[SETTINGS]
    if not settings.nlg_token:
        logger.warning("NLG_TOKEN is not set: Rasa's NLG requests will be refused")
    runner = web.AppRunner(create_callback_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.nlg_port)
    await site.start()
    address = runner.addresses[0]
    app[NLG_LISTENER].port = int(address[1])
    logger.info("Rasa's callbacks (NLG) on 127.0.0.1:%d", app[NLG_LISTENER].port)
    yield
    await runner.cleanup()


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def console_page(request: web.Request) -> web.FileResponse:
    """The staff console (sign-in, queue, conversation); its data comes from /api/staff."""
    return web.FileResponse(STATIC_DIR / "console.html")


async def dashboard_page(request: web.Request) -> web.FileResponse:
    """The admins' satisfaction dashboard; its figures come from /api/admin/dashboard."""
    return web.FileResponse(STATIC_DIR / "dashboard.html")


async def staff_i18n_script(request: web.Request) -> web.FileResponse:
    """The interface-language code both staff pages load (labels, language menu, RTL)."""
    return web.FileResponse(
        STATIC_DIR / "staff-i18n.js", headers={"Content-Type": "text/javascript; charset=utf-8"}
    )


async def index(request: web.Request) -> web.Response:
    """The demo store when it is on (the widget as buyers meet it); else what this service is."""
    if request.app[SETTINGS].demo_store:
        raise web.HTTPFound("/store")
    return web.Response(text="Store assistant: embed /widget.js in your store (see README).\n")


async def languages(request: web.Request) -> web.Response:
    return web.json_response({"languages": list(SUPPORTED_LANGUAGES)})


def create_app(settings: Settings, catalogue: Catalogue | None = None) -> web.Application:
    """Build the web application for ``settings``.

    ``catalogue`` is loaded from domain.yml and data/translations when not given.
    """
    app = web.Application(middlewares=[error_middleware, cors_middleware], client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[CATALOGUE] = catalogue or Catalogue.load(
        PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "translations", settings.default_language
    )
    app[LANGUAGES] = ConversationLanguages()
    app[NLG_LISTENER] = NlgListener()
    # Every live push goes through the bus (bot/events); the hub delivers it to this
    # worker's sockets. In-process by default; a Redis bus takes its place for workers.
    app[BUS] = LocalBus()
    app[HUB] = Hub(app[BUS])
    app[THROTTLE] = Throttle(settings.chat_rate_per_second, settings.chat_burst)
    app[ADDRESS_THROTTLE] = Throttle(settings.address_rate_per_second, settings.address_burst)

    async def close_sockets(app: web.Application) -> None:
        await app[HUB].close_all()

    app.on_shutdown.append(close_sockets)

    async def rasa_session(app: web.Application) -> AsyncIterator[None]:
        # Rasa's REST channel (bot/rasa_channel.py) answers only callers with RASA_TOKEN.
        headers = {RASA_TOKEN_HEADER: settings.rasa_token} if settings.rasa_token else None
        session = ClientSession(
            base_url=settings.rasa_url,
            timeout=ClientTimeout(total=settings.rasa_timeout_seconds),
            headers=headers,
        )
        app[RASA_SESSION] = session
        yield
        await session.close()

    async def event_bus(app: web.Application) -> AsyncIterator[None]:
        # Before setup_console's watcher: it publishes until it stops, then the bus closes.
        yield
        await app[BUS].close()

    app.cleanup_ctx.append(event_bus)
    app.cleanup_ctx.append(rasa_session)
    app.cleanup_ctx.append(callback_listener)
    app.router.add_get("/", index)
    app.router.add_get("/console", console_page)
    app.router.add_get("/dashboard", dashboard_page)
    app.router.add_get("/static/staff-i18n.js", staff_i18n_script)
    app.router.add_get("/health", health)
    app.router.add_get("/api/languages", languages)
    setup_chat(app)
    setup_admin(app, settings)
    setup_staff(app, settings, DATABASE)
    setup_console(app)
    setup_labels(app)
    setup_widget(app)
    return app
