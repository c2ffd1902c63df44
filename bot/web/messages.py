"""Checking and cleaning what buyers send before it reaches the assistant."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass

#: Conversation ids are issued by the server (:func:`new_conversation_id`, 192 bits);
#: anything shorter than 128 bits of base64url is refused, so an id cannot be guessed.
_CONVERSATION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
#: A conversation key: base64url of an HMAC-SHA256 (43 characters).
_CONVERSATION_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
#: C0/C1 control characters except tab and newline, plus bidi overrides that can
#: disguise text, zero-width characters and the BOM.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u202a-\u202e\u2066-\u2069\ufeff]")
#: IANA zone names: "Europe/Paris", "America/Argentina/Buenos_Aires", "UTC".
_TIME_ZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
_SPACES_RE = re.compile(r"[ \t]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


class InvalidMessage(ValueError):
    """The request cannot be relayed; ``code`` names why, for the client."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class IncomingMessage:
    """A buyer's message after validation."""

    conversation_id: str
    text: str
    locale: str | None
    client_msg_id: str | None
    #: The store's signed customer token, unchecked (the web service verifies it).
    customer_token: str | None = None
    #: The buyer's IANA time zone from the browser ("Europe/Paris"), for opening hours.
    time_zone: str | None = None
    #: What the buyer saw themselves send when ``text`` is a button's payload (its title).
    shown: str | None = None
    #: The proof of ownership the server issued with the conversation id (unchecked here).
    conversation_key: str | None = None
    #: True when the request named no conversation: the server issued this id just now.
    new_conversation: bool = False


def valid_conversation_id(value: object) -> bool:
    return isinstance(value, str) and bool(_CONVERSATION_ID_RE.match(value))


def new_conversation_id() -> str:
    """A conversation id nobody can guess (192 random bits)."""
    return secrets.token_urlsafe(24)


def conversation_key(secret: str, conversation_id: str) -> str:
    """The key that proves a client was given ``conversation_id`` by this service.

    An HMAC of the id under the service's secret: any worker can check it without
    a database read or a row per visitor, and nobody without the secret can make
    one, so a client-invented or copied id without its key reads nothing.
    """
    mac = hmac.new(secret.encode(), b"conversation:" + conversation_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def valid_conversation_key(secret: str, conversation_id: str, key: object) -> bool:
    if not isinstance(key, str) or not _CONVERSATION_KEY_RE.match(key):
        return False
    return hmac.compare_digest(conversation_key(secret, conversation_id), key)


def clean_text(text: str) -> str:
    """Normalise to NFC, drop control and invisible formatting characters, trim spaces."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL_RE.sub("", text)
    text = _SPACES_RE.sub(" ", text)
    text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def parse_incoming(body: object) -> IncomingMessage:
    """Validate a chat request body; raise :class:`InvalidMessage` on anything wrong.

    A missing conversation id starts a new conversation (the server issues its id).
    ``payload`` (a button's payload such as ``/affirm``) is accepted in place of ``text``.
    """
    if not isinstance(body, dict):
        raise InvalidMessage("invalid_body", "The request body must be a JSON object.")
    new = not body.get("conversation_id")
    conversation_id = new_conversation_id() if new else body.get("conversation_id")
    if not isinstance(conversation_id, str) or not valid_conversation_id(conversation_id):
        raise InvalidMessage(
            "invalid_conversation_id",
            "conversation_id must be one this service issued (32-64 letters, digits, '_' or '-').",
        )
    key = body.get("conversation_key")
    key = key if isinstance(key, str) and len(key) <= 64 else None
    raw = body.get("payload") if body.get("payload") not in (None, "") else body.get("text", "")
    if not isinstance(raw, str):
        raise InvalidMessage("invalid_text", "text must be a string.")
    locale = body.get("locale")
    if locale is not None and (not isinstance(locale, str) or len(locale) > 35):
        locale = None
    client_msg_id = body.get("client_msg_id")
    if client_msg_id is not None and (not isinstance(client_msg_id, str) or len(client_msg_id) > 64):
        raise InvalidMessage(
            "invalid_client_msg_id", "client_msg_id must be a string of up to 64 characters."
        )
    token = body.get("customer_token")
    if not isinstance(token, str) or not token or len(token) > 2048:
        token = None  # anything else is treated as no token: the buyer is anonymous
    time_zone = body.get("time_zone")
    if not isinstance(time_zone, str) or len(time_zone) > 64 or not _TIME_ZONE_RE.match(time_zone):
        time_zone = None
    shown = body.get("shown")
    shown = clean_text(shown)[:200] or None if isinstance(shown, str) and body.get("payload") else None
    return IncomingMessage(
        conversation_id, clean_text(raw), locale, client_msg_id, token, time_zone, shown, key, new
    )
