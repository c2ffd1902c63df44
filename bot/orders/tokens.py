"""Signed customer tokens: how the seller's site tells the widget who the buyer is.

The store's server signs ``customer_id``, ``email`` and an expiry time with a
secret it shares with this service (``CUSTOMER_TOKEN_SECRET``):

    payload   = {"customer_id": "c-1001", "email": "ana@example.com", "expires": 1767225600}
    message   = customer_id + "\\n" + email + "\\n" + str(expires)
    signature = hex(HMAC-SHA256(secret, message))
    token     = base64url(JSON(payload + {"signature": signature}))

A valid, unexpired token identifies the customer; anything else is ignored (the
buyer is anonymous) and logged. README.md shows how to make one in Python and
in JavaScript.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

#: Longest token accepted (a real one is ~200 bytes).
MAX_TOKEN_LENGTH = 2048


class InvalidToken(ValueError):
    """Why a token was not accepted (for the log, never shown to the buyer)."""


@dataclass(frozen=True)
class CustomerIdentity:
    customer_id: str
    email: str
    expires: int


def _message(customer_id: str, email: str, expires: int) -> bytes:
    return f"{customer_id}\n{email}\n{expires}".encode()


def sign(customer_id: str, email: str, expires: int, secret: str) -> str:
    """A token for the customer (what the store's server does; used in tests and the demo)."""
    signature = hmac.new(secret.encode(), _message(customer_id, email, expires), hashlib.sha256).hexdigest()
    body = {"customer_id": customer_id, "email": email, "expires": expires, "signature": signature}
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


def verify(token: str, secret: str, now: float | None = None) -> CustomerIdentity:
    """The identity in ``token`` if its signature is right and it has not expired."""
    if not secret:
        raise InvalidToken("no CUSTOMER_TOKEN_SECRET is set")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("empty or oversize token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidToken("not base64url JSON") from error
    if not isinstance(body, dict):
        raise InvalidToken("not a JSON object")
    customer_id, email, expires, signature = (
        body.get("customer_id"),
        body.get("email"),
        body.get("expires"),
        body.get("signature"),
    )
    if not (isinstance(customer_id, str) and isinstance(email, str) and isinstance(signature, str)):
        raise InvalidToken("missing customer_id, email or signature")
    if not isinstance(expires, int) or isinstance(expires, bool):
        raise InvalidToken("expires must be a Unix time in seconds")
    expected = hmac.new(secret.encode(), _message(customer_id, email, expires), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise InvalidToken("bad signature")
    if expires < (time.time() if now is None else now):
        raise InvalidToken("expired")
    return CustomerIdentity(customer_id, email.strip().lower(), expires)
