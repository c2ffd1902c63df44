"""Start rasa-sdk's action server after loading the knowledge base, for Rasa's calls only.

Loading tokenizes every question variant (a few seconds for the starter
knowledge base); doing it before the server answers its health check means
the supervisor waits for it, not the first buyer who asks a question.

rasa-sdk's server runs any action for any caller: a local process could post a
tracker naming a VIP customer and read her orders. Every route but ``/health``
therefore requires the ``ACTION_SERVER_SECRET`` that Rasa sends in a header
(endpoints.yml ``action_endpoint.headers``); anything else gets 401 and no data.
"""

from __future__ import annotations

import hmac
import os
import sys
from collections.abc import Sequence
from typing import Any

import pluggy

hookimpl = pluggy.HookimplMarker("rasa_sdk")

#: The header Rasa sends the shared secret in (endpoints.yml).
SECRET_HEADER = "X-Action-Secret"
#: Routes anyone may call: the supervisor's readiness check.
OPEN_PATHS = frozenset({"/health"})


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison; an empty expected secret matches nothing."""
    return bool(expected) and hmac.compare_digest((given or "").encode(), expected.encode())


def require_secret(app: Any, secret: str) -> None:
    """Refuse every request to ``app`` (a Sanic app) without ``secret`` in SECRET_HEADER."""
    from sanic import response

    @app.on_request  # type: ignore[untyped-decorator]
    async def check_secret(request: Any) -> Any:
        if request.path in OPEN_PATHS:
            return None
        if not secret_matches(request.headers.get(SECRET_HEADER), secret):
            return response.json({"error": "Wrong or missing action server secret."}, status=401)
        return None


class SecretPlugin:
    """A rasa-sdk plugin: rasa-sdk calls it with its Sanic app before serving."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    @hookimpl  # type: ignore[misc]
    def attach_sanic_app_extensions(self, app: Any) -> None:
        require_secret(app, self.secret)


def main(argv: Sequence[str] | None = None) -> None:
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.plugin import plugin_manager

    from actions.dependencies import knowledge
    from bot.settings import Settings, SettingsError

    try:
        secret = Settings.from_env().action_server_secret
    except SettingsError as error:
        sys.exit(f"Configuration error: {error}")
    if not secret:
        sys.exit("ACTION_SERVER_SECRET is not set: the action server would answer any caller.")
    args = create_argument_parser().parse_args(argv)
    knowledge().current()
    plugin_manager().register(SecretPlugin(secret), "action-secret")
    os.environ.setdefault("SANIC_HOST", "127.0.0.1")
    main_from_args(args)


if __name__ == "__main__":
    main(sys.argv[1:])
