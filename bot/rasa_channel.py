"""Rasa's REST channel, answering only the web service (credentials.yml).

Runs inside the Rasa server, so it imports only Rasa, Sanic and the standard library.

The web service relays every buyer message to this channel with the verified
customer in the metadata; the actions trust that metadata to show a customer's
orders. Rasa's stock REST channel takes messages from any local process, so a
forged post naming a VIP customer would read her orders. This one refuses every
request without RASA_TOKEN in the ``X-Rasa-Token`` header (constant-time check),
and keeps the stock channel's name and URL (/webhooks/rest/webhook).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request

#: The header the web service sends RASA_TOKEN in (bot/web/app.py's Rasa session).
TOKEN_HEADER = "X-Rasa-Token"


class SecretRestInput(RestInput):  # type: ignore[misc]  # Rasa is Any to the app env's mypy
    """The REST channel with a required shared token."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("RASA_TOKEN is not set: the REST channel would take messages from anyone")
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SecretRestInput:
        return cls((credentials or {}).get("token") or os.environ.get("RASA_TOKEN", ""))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook: Blueprint = super().blueprint(on_new_message)

        @webhook.middleware("request")  # type: ignore[misc,untyped-decorator]
        async def require_token(request: Request) -> Any:
            given = request.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return response.json({"error": "Wrong or missing token."}, status=401)
            return None

        return webhook
