"""What the seller's store loads: the widget script, its configuration, and a demo store.

``/widget.js`` is the one script a seller adds to their pages;
``/api/widget/config`` gives it the labels in every language and the limits it
checks before sending. ``/store`` is a stand-in for a seller's shop (on unless
``DEMO_STORE=0``; off by default in production) where the widget can be tried
as an anonymous visitor, a standard or a VIP demo customer.

Stores live on other origins than this service: the widget's HTTP calls are
answered with CORS headers for the origins in ``WIDGET_ORIGINS`` (default any:
the chat API uses no cookies, a customer is only ever identified by a token the
store signed), and WebSockets from other origins are refused when the list is set.
"""

from __future__ import annotations

import html
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from bot.languages import NATIVE_NAMES, RTL_LANGUAGES, SUPPORTED_LANGUAGES, language_from_locale
from bot.orders import demo
from bot.orders.tokens import sign
from bot.ui_labels import labels_by_language, labels_for
from bot.web.context import SETTINGS, error_response, static_file

#: Paths a store's pages call from their own origin.
CROSS_ORIGIN_PREFIXES = ("/api/chat", "/api/widget/", "/api/ui/labels/", "/ws/chat")
#: Demo customers of the demo store (bot/orders/demo.py): (customer id, email) by role.
DEMO_SHOPPERS = {"standard": "c-1001", "vip": "c-1002"}


def _allowed_origin(request: web.Request) -> str | None:
    origin = request.headers.get(hdrs.ORIGIN)
    allowed = request.app[SETTINGS].widget_origins
    if origin is None:
        return None
    if "*" in allowed or origin.rstrip("/") in allowed:
        return origin
    return None


@web.middleware
async def cors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """CORS for the widget's calls from the store's origin; other paths are untouched."""
    if not request.path.startswith(CROSS_ORIGIN_PREFIXES):
        return await handler(request)
    origin = _allowed_origin(request)
    if request.headers.get(hdrs.ORIGIN) and origin is None and request.path == "/ws/chat":
        return error_response(403, "origin_not_allowed", "This store is not allowed to embed the chat.")
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    if origin is not None and not response.prepared:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
        response.headers[hdrs.VARY] = "Origin"
        if request.method == "OPTIONS":
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = "GET, POST, OPTIONS"
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = (
                "Content-Type, X-Customer-Token, X-Conversation-Key"
            )
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = "3600"
    return response


async def widget_script(request: web.Request) -> web.Response:
    """The widget, gzipped for browsers that accept it (a quarter of the bytes)."""
    response = web.Response(
        body=static_file("widget.js"),
        content_type="text/javascript",
        charset="utf-8",
        headers={hdrs.CACHE_CONTROL: "public, max-age=300"},
    )
    response.enable_compression()
    return response


async def widget_config(request: web.Request) -> web.Response:
    """Everything the widget needs before it shows itself, in one cacheable response."""
    settings = request.app[SETTINGS]
    response = web.json_response(
        {
            "languages": list(SUPPORTED_LANGUAGES),
            "rtl": sorted(RTL_LANGUAGES),
            "max_message_length": settings.max_message_length,
            "labels": labels_by_language("widget"),
        },
        headers={hdrs.CACHE_CONTROL: "public, max-age=300"},
    )
    response.enable_compression()
    return response


async def store_page(request: web.Request) -> web.Response:
    """The demo store: ``?as=anonymous|standard|vip`` picks the shopper, ``?lang=`` the language."""
    settings = request.app[SETTINGS]
    if not settings.demo_store:
        return error_response(404, "not_found", "The demo store is off (DEMO_STORE=0).")
    shopper = request.query.get("as", "anonymous")
    if shopper not in ("anonymous", *DEMO_SHOPPERS):
        shopper = "anonymous"
    language = (
        language_from_locale(request.query.get("lang"))
        or language_from_locale(request.headers.get(hdrs.ACCEPT_LANGUAGE))
        or settings.default_language
    )
    labels = labels_for("store", language)
    token, name = "", ""
    if shopper in DEMO_SHOPPERS:
        customer_id, name, email = _demo_customer(DEMO_SHOPPERS[shopper])
        # What a real store's server does for a signed-in customer (README: customer tokens).
        token = sign(customer_id, email, int(time.time()) + 3600, settings.customer_token_secret)
    template = static_file("store.html").decode("utf-8")
    values = {
        "lang": language,
        "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        "store_name": settings.store_name,
        "token": token,
        # The widget follows the browser's language unless the shopper picked one here.
        "locale": language if request.query.get("lang") else "",
        "signed_in": labels["signed_in_as"].replace("{name}", name) if name else labels["not_signed_in"],
        "shopper_options": _options(
            [(value, labels["as_" + value]) for value in ("anonymous", "standard", "vip")], shopper
        ),
        "language_options": _options([(code, NATIVE_NAMES[code]) for code in SUPPORTED_LANGUAGES], language),
        **{f"label_{key}": text for key, text in labels.items()},
    }
    page = template
    for key, value in values.items():
        safe = value if key.endswith("_options") else html.escape(value, quote=True)
        page = page.replace("{{" + key + "}}", safe)
    return web.Response(text=page, content_type="text/html", headers={hdrs.CACHE_CONTROL: "no-store"})


def _options(choices: list[tuple[str, str]], selected: str) -> str:
    options = []
    for value, text in choices:
        chosen = " selected" if value == selected else ""
        options.append(f'<option value="{html.escape(value)}"{chosen}>{html.escape(text)}</option>')
    return "".join(options)


def _demo_customer(customer_id: str) -> tuple[str, str, str]:
    for cid, name, email, *_ in demo.CUSTOMERS:
        if cid == customer_id:
            return cid, name, email
    raise KeyError(customer_id)


def setup_widget(app: web.Application) -> None:
    app.router.add_get("/widget.js", widget_script)
    app.router.add_get("/api/widget/config", widget_config)
    app.router.add_get("/store", store_page)
