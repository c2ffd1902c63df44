"""``GET /api/ui/labels/{catalogue}``: interface labels for the widget and the staff pages.

``?lang=xx`` picks the language (else the browser's Accept-Language, else the
store's default); ``?lang=all`` returns every language at once, which the
widget uses to switch language without another request when the assistant
detects the buyer's.
"""

from __future__ import annotations

from aiohttp import web

from bot.languages import RTL_LANGUAGES, SUPPORTED_LANGUAGES, language_from_locale
from bot.ui_labels import CATALOGUES, labels_by_language, labels_for
from bot.web.context import SETTINGS, error_response


async def labels(request: web.Request) -> web.Response:
    name = request.match_info["catalogue"]
    if name not in CATALOGUES:
        return error_response(
            404, "not_found", f"No such label catalogue; there are: {', '.join(CATALOGUES)}."
        )
    wanted = request.query.get("lang", "")
    headers = {"Cache-Control": "public, max-age=300"}
    if wanted == "all":
        return web.json_response(
            {
                "languages": list(SUPPORTED_LANGUAGES),
                "rtl": sorted(RTL_LANGUAGES),
                "labels": labels_by_language(name),
            },
            headers=headers,
        )
    language = (
        language_from_locale(wanted)
        or language_from_locale(request.headers.get("Accept-Language"))
        or request.app[SETTINGS].default_language
    )
    return web.json_response(
        {
            "language": language,
            "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
            "languages": list(SUPPORTED_LANGUAGES),
            "labels": labels_for(name, language),
        },
        headers=headers,
    )


def setup_labels(app: web.Application) -> None:
    app.router.add_get("/api/ui/labels/{catalogue}", labels)
