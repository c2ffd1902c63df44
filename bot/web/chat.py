"""The buyer's side of the web service: one path for every chat message.

The widget talks over WebSocket (``/ws/chat``) and falls back to HTTP
(``POST /api/chat`` to send, ``POST /api/chat/history`` to catch up); both end in
:func:`handle_message`, which stores the message, sends it to a person or to
Rasa, stores the replies and returns them with their log ids. The widget keeps
each message until its replies arrive and sends it again with the same
``client_msg_id`` after a network loss; the log recognises the retry, so
nothing is lost and nothing is answered twice.

Conversations are the server's: the first contact (a WebSocket hello without an
id, or ``POST /api/chat/start``) gets a new id of 192 random bits and its key (an
HMAC, see ``bot.web.messages.conversation_key``), and nothing is stored until a
message arrives. Every message, hello and history read must show both; ids never
travel in a URL. A message without an id is refused (400 ``conversation_required``):
had the server started a conversation for it, a retry after a lost answer would
start a second one and the message would be stored and answered twice. A conversation bound to a
signed-in customer also needs that customer's token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, WSMsgType, web
from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError

from bot.conversation_log import (
    ClaimOutcome,
    Turn,
    begin_turn,
    claim_outcome,
    conversation_owner,
    history,
    mark_failed,
    record_replies,
    replies_to,
)
from bot.db.models import Conversation, ConversationMessage, Escalation, StaffMember
from bot.events import BuyerMessage, BuyerPush, ConversationBound, Event, Exchange, conversation_topic
from bot.orders.tokens import InvalidToken
from bot.orders.tokens import verify as verify_token
from bot.web.context import (
    ADDRESS_THROTTLE,
    CHAT_SOCKETS,
    CONVERSATION_LOCKS,
    DATABASE,
    HUB,
    LANGUAGES,
    RASA_SESSION,
    READ_THROTTLE,
    SETTINGS,
    THROTTLE,
    ConnectionCap,
    ConversationLocks,
    client_address,
    first_language,
    say,
)
from bot.web.live import BUS, Listener, Stop, send
from bot.web.messages import (
    IncomingMessage,
    InvalidMessage,
    conversation_key,
    new_conversation_id,
    parse_incoming,
    valid_conversation_id,
    valid_conversation_key,
)
from bot.web.throttle import Throttle

logger = logging.getLogger(__name__)

#: Largest WebSocket frame a buyer may send (a message is at most a few kB).
MAX_FRAME_BYTES = 64 * 1024
#: Messages waiting to be answered on one socket before more are refused outright.
MAX_QUEUED = 50
#: The header (HTTP) that carries the conversation key; never a query parameter.
KEY_HEADER = "X-Conversation-Key"
#: How long a buyer message may wait for the log to take it (a database restart or a
#: lock) before it is refused with 503, so the widget sends it again later.
STORE_RETRY_SECONDS = 5.0
#: How long the replies Rasa gave may wait for the log: they must end up in it.
RECORD_RETRY_SECONDS = 10.0
#: Errors a moment later may not repeat: a restarting or locked database.
TRANSIENT_ERRORS = (OperationalError, DisconnectionError)


class LogUnavailable(Exception):
    """The conversation log could not take the buyer's message, even after retries."""


@dataclass
class ChatResult:
    """What became of one buyer message."""

    conversation_id: str
    client_msg_id: str | None
    language: str
    #: The replies (bot), each with its log id when the log could be written.
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: The buyer's message as stored (None for an empty message).
    buyer: dict[str, Any] | None = None
    with_person: bool = False
    #: (HTTP status, code, text in the buyer's language) when the message was refused.
    error: tuple[int, str, str] | None = None
    retry_after: float | None = None
    #: Sent once, with a conversation the server has just issued.
    conversation_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "client_msg_id": self.client_msg_id,
            "language": self.language,
        }
        if self.conversation_key:
            body["conversation_key"] = self.conversation_key
        if self.error:
            _, code, detail = self.error
            body["error"] = {"code": code, "detail": detail, "language": self.language}
            if self.retry_after is not None:
                body["error"]["retry_after"] = round(self.retry_after, 2)
            return body
        body.update(messages=self.messages, with_person=self.with_person, message=self.buyer)
        return body


def verified_customer(app: web.Application, token: str | None, conversation_id: str) -> dict[str, str] | None:
    """The customer the store's signed token names, or None (anonymous) when it is
    missing, tampered with or expired; a bad token is logged, never shown."""
    if not token:
        return None
    try:
        identity = verify_token(token, app[SETTINGS].customer_token_secret)
    except InvalidToken as error:
        logger.warning("Ignored customer token in conversation %s: %s", conversation_id, error)
        return None
    return {"id": identity.customer_id, "email": identity.email}


def key_is_valid(app: web.Application, conversation_id: str, key: object) -> bool:
    return valid_conversation_id(conversation_id) and valid_conversation_key(
        app[SETTINGS].conversation_secret, conversation_id, key
    )


def issue_conversation(app: web.Application) -> tuple[str, str]:
    """A new conversation id and its key (nothing is stored until its first message)."""
    conversation_id = new_conversation_id()
    return conversation_id, conversation_key(app[SETTINGS].conversation_secret, conversation_id)


def _not_yours(app: web.Application, language: str) -> str:
    return str(say(app, "utter_conversation_not_yours", language)["text"])


def _claim_stale_after(app: web.Application) -> float:
    settings = app[SETTINGS]
    return settings.claim_stale_seconds or settings.rasa_timeout_seconds + 10.0


async def handle_message(
    app: web.Application,
    message: IncomingMessage,
    client_address: str,
    accept_language: str | None = None,
    origin: str | None = None,
) -> ChatResult:
    """Store a buyer message, get it answered (by Rasa or a person) and log the replies.

    ``origin``: the id of the listener of the window it came from, which is not shown
    the exchange again (it gets the reply)."""
    settings = app[SETTINGS]
    language = first_language(app, message, accept_language)
    result = ChatResult(message.conversation_id, message.client_msg_id, language)
    if message.new_conversation:
        # No id: its retry would start yet another conversation. The client asks for one
        # first (POST /api/chat/start or a hello), which is safe to repeat.
        result.conversation_id = ""
        result.error = (
            400,
            "conversation_required",
            say(app, "utter_conversation_required", language)["text"],
        )
        return result
    if not key_is_valid(app, message.conversation_id, message.conversation_key):
        # A guessed, copied or client-made id: nothing of that conversation is shown or continued.
        result.error = (403, "conversation_not_yours", _not_yours(app, language))
        return result
    if len(message.text) > settings.max_message_length:
        text = say(app, "utter_message_too_long", language, max_length=settings.max_message_length)["text"]
        result.error = (413, "message_too_long", text)
        return result
    if not message.text:
        result.messages = [say(app, "utter_empty_message", language)]
        return result
    wait = app[THROTTLE].wait(message.conversation_id) or app[ADDRESS_THROTTLE].wait(client_address)
    if wait:
        result.error = (429, "throttled", say(app, "utter_slow_down", language)["text"])
        result.retry_after = wait
        return result

    customer = verified_customer(app, message.customer_token, message.conversation_id)
    # One message of a conversation at a time, in arrival order: replies never interleave.
    async with app[CONVERSATION_LOCKS].hold(message.conversation_id):
        return await _answer(app, message, customer, result, client_address, origin)


async def _answer(
    app: web.Application,
    message: IncomingMessage,
    customer: dict[str, str] | None,
    result: ChatResult,
    client_address: str,
    origin: str | None,
) -> ChatResult:
    language = result.language
    try:
        turn = await _begin(app, message, customer)
    except LogUnavailable:
        # Not stored, so not sent to Rasa: a 503 makes the widget send it again (same
        # client_msg_id), and that copy is stored and answered like a new one.
        result.error = (503, "assistant_unavailable", say(app, "utter_service_unavailable", language)["text"])
        return result
    if turn.other_customer:
        result.error = (403, "conversation_not_yours", _not_yours(app, language))
        return result
    if turn.bound_now and customer is not None:
        # From now on the conversation holds this customer's orders: listeners that
        # cannot show her token hear nothing more of it.
        await evict_strangers(app, message.conversation_id, customer["id"])
    result.buyer = turn.message
    if turn.earlier_replies is not None:  # a retry of a message answered already
        result.messages = turn.earlier_replies
        return result
    if turn.in_flight_id is not None:  # its first copy is being answered (another worker)
        return await _wait_for_first_copy(app, turn.in_flight_id, result)
    if turn.escalation_id is not None:
        result.with_person = True
        stored = turn.message or {}
        await app[BUS].publish(
            BuyerMessage(
                turn.escalation_id,
                message.conversation_id,
                stored.get("text", message.text),
                stored.get("id"),
            )
        )
        await _echo(app, result, origin)
        return result

    metadata = {
        "conversation_language": app[LANGUAGES].get(message.conversation_id),
        "locale": message.locale,
        # The only way the assistant learns who the buyer is: a token the store signed.
        "customer": customer,
        "client_address": client_address,
        "time_zone": message.time_zone,
    }
    from bot.payloads import text_for_rasa  # a payload passes only if the bot just offered it

    to_rasa = await text_for_rasa(app[DATABASE], message.conversation_id, message.text)
    try:
        async with app[RASA_SESSION].post(
            "/webhooks/rest/webhook",
            json={"sender": message.conversation_id, "message": to_rasa, "metadata": metadata},
        ) as response:
            if response.status != 200:
                raise ClientError(f"Rasa answered HTTP {response.status}")
            replies = await response.json()
        shown = [_reply(r) for r in replies if isinstance(r, dict)] if isinstance(replies, list) else []
        if not shown:
            # Rasa says nothing when its action server is down: that is no answer.
            raise ClientError("Rasa answered with no replies")
    except (ClientError, asyncio.TimeoutError, json.JSONDecodeError) as error:
        # The message is in the log, marked failed: the widget's retry gets it answered.
        logger.error("Rasa unavailable for %s: %s", message.conversation_id, error)
        await _mark_failed(app, turn.claimed_id)
        result.error = (503, "assistant_unavailable", say(app, "utter_service_unavailable", language)["text"])
        return result
    result.language = app[LANGUAGES].get(message.conversation_id) or language
    recorded = await _record(app, message.conversation_id, shown, result.language, turn.claimed_id)
    if recorded is None:
        # Rasa has acted on the message already (its tracker, perhaps an order change or a
        # hand-over): a 503 would make the widget send it again and Rasa act twice. So the
        # buyer gets the replies, without log ids, and the loss is logged loudly above.
        recorded = shown
    result.messages = recorded
    await _echo(app, result, origin)
    return result


async def _wait_for_first_copy(app: web.Application, message_id: int, result: ChatResult) -> ChatResult:
    """Poll the log until the other copy of this message is answered, then give its
    replies; if it failed or takes longer than Rasa may, the widget tries again later."""
    deadline = time.monotonic() + app[SETTINGS].rasa_timeout_seconds + 5.0
    pause = 0.05
    outcome = ClaimOutcome("pending")
    while True:
        try:
            outcome = await app[DATABASE].run(lambda: _read_outcome(app, message_id))
        except SQLAlchemyError:
            logger.exception("Could not read the claim of message %s", message_id)
        if outcome.state != "pending" or time.monotonic() >= deadline:
            break
        await asyncio.sleep(pause)
        pause = min(0.5, pause * 1.5)
    if outcome.state == "answered":
        result.messages = outcome.replies or []
        return result
    if outcome.state == "failed":
        text = say(app, "utter_service_unavailable", result.language)["text"]
        result.error = (503, "assistant_unavailable", text)
        return result
    result.error = (409, "pending", say(app, "utter_slow_down", result.language)["text"])
    result.retry_after = 2.0
    return result


def _read_outcome(app: web.Application, message_id: int) -> ClaimOutcome:
    with app[DATABASE].session() as session:
        return claim_outcome(session, message_id)


async def _begin(app: web.Application, message: IncomingMessage, customer: dict[str, str] | None) -> Turn:
    stale_after = _claim_stale_after(app)

    def work() -> Turn:
        with app[DATABASE].session() as session:
            return begin_turn(
                session,
                message.conversation_id,
                message.text,
                message.client_msg_id,
                customer["id"] if customer else None,
                message.shown,
                stale_after=stale_after,
            )

    deadline = time.monotonic() + STORE_RETRY_SECONDS
    pause = 0.1
    while True:
        try:
            return await app[DATABASE].run(work)
        except TRANSIENT_ERRORS as error:
            if time.monotonic() + pause > deadline:
                logger.error("Could not store a message of %s: %s", message.conversation_id, error)
                raise LogUnavailable from error
            logger.warning("Conversation log busy for %s, retrying: %s", message.conversation_id, error)
        except SQLAlchemyError as error:
            # Unstored, a message must not be answered: its retry would be told it is new
            # and the log would miss it. The widget sends it again after a 503.
            logger.exception("Conversation log write failed for %s", message.conversation_id)
            raise LogUnavailable from error
        await asyncio.sleep(pause)
        pause = min(1.0, pause * 2)


async def _mark_failed(app: web.Application, message_id: int | None) -> None:
    if message_id is None:
        return

    def work() -> None:
        with app[DATABASE].session() as session:
            mark_failed(session, message_id)

    try:
        await app[DATABASE].run(work)
    except SQLAlchemyError:
        # Left pending, the claim goes stale and a retry takes it over.
        logger.exception("Could not mark message %s unanswered", message_id)


async def _record(
    app: web.Application,
    conversation_id: str,
    replies: list[dict[str, Any]],
    language: str | None,
    reply_to: int | None,
) -> list[dict[str, Any]] | None:
    """Log the replies, retrying with backoff for up to ``RECORD_RETRY_SECONDS``: the
    buyer was answered, so the log must say so. None when it finally could not."""
    attempts = 0

    def work() -> list[dict[str, Any]]:
        with app[DATABASE].session() as session:
            if attempts > 1 and reply_to is not None:
                # An earlier attempt may have committed before its answer was lost.
                asked = session.get(ConversationMessage, reply_to)
                if asked is not None and asked.state == "answered":
                    return replies_to(session, asked)
            return record_replies(session, conversation_id, replies, language, reply_to=reply_to)

    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    pause = 0.1
    while True:
        attempts += 1
        try:
            return await app[DATABASE].run(work)
        except TRANSIENT_ERRORS as error:
            if time.monotonic() + pause > deadline:
                logger.error(
                    "LOST FROM THE LOG: the replies to message %s in %s could not be stored: %s",
                    reply_to,
                    conversation_id,
                    error,
                )
                return None
            logger.warning(
                "Conversation log busy for the replies in %s, retrying: %s", conversation_id, error
            )
        except SQLAlchemyError:
            logger.exception("LOST FROM THE LOG: the replies to message %s in %s", reply_to, conversation_id)
            return None
        await asyncio.sleep(pause)
        pause = min(1.0, pause * 2)


async def _echo(app: web.Application, result: ChatResult, origin: str | None) -> None:
    """Show the exchange in the buyer's other open windows (other pages of the store)."""
    shown = ([result.buyer] if result.buyer else []) + result.messages
    if shown:
        await app[BUS].publish(Exchange(result.conversation_id, shown, origin))


async def evict_strangers(app: web.Application, conversation_id: str, owner: str) -> None:
    """Every window of the conversation that has not proved to be ``owner`` (the customer
    it now belongs to) is told so and gets no further pushes (``BuyerSocket.frames``)."""
    await app[BUS].publish(ConversationBound(conversation_id, owner))


def _reply(rasa_message: dict[str, Any]) -> dict[str, Any]:
    """Keep the parts of a Rasa REST reply the widget shows."""
    reply: dict[str, Any] = {}
    for key in ("text", "buttons", "custom", "image"):
        if rasa_message.get(key):
            reply[key] = rasa_message[key]
    return reply


def _error(status: int, code: str, detail: str, language: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "detail": detail, "language": language, **extra}}
    headers = {"Retry-After": str(max(1, round(extra["retry_after"])))} if "retry_after" in extra else None
    return web.json_response(body, status=status, headers=headers)


async def chat(request: web.Request) -> web.Response:
    """``POST /api/chat``: one buyer message; the replies come back in the response.

    Body: ``{conversation_id, conversation_key, client_msg_id?, text | payload, shown?,
    locale?, customer_token?, time_zone?}`` (the key may come in ``X-Conversation-Key``
    instead). The id and key come from ``POST /api/chat/start``; without them the
    message is refused (400 ``conversation_required``), nothing stored.
    """
    language = first_language(request.app, None, request.headers.get("Accept-Language"))
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _error(400, "invalid_json", "The request body must be valid JSON.", language)
    if isinstance(body, dict) and KEY_HEADER in request.headers and "conversation_key" not in body:
        body["conversation_key"] = request.headers[KEY_HEADER]
    try:
        message = parse_incoming(body)
    except InvalidMessage as error:
        if error.code == "invalid_conversation_id":
            return _error(400, error.code, _not_yours(request.app, language), language)
        return _error(400, error.code, error.detail, language)
    result = await handle_message(
        request.app, message, client_address(request), request.headers.get("Accept-Language")
    )
    if result.error:
        headers = {"Retry-After": str(max(1, round(result.retry_after or 0)))} if result.retry_after else None
        return web.json_response(result.as_json(), status=result.error[0], headers=headers)
    return web.json_response(result.as_json())


def _read_throttled(request: web.Request, language: str) -> web.Response | None:
    """The 429 for an address over its read limit (starts and history reads share it)."""
    wait = request.app[READ_THROTTLE].wait(client_address(request))
    if not wait:
        return None
    text = say(request.app, "utter_slow_down", language)["text"]
    return _error(429, "throttled", text, language, retry_after=wait)


async def chat_start(request: web.Request) -> web.Response:
    """``POST /api/chat/start``: a new conversation id and its key, ``{conversation_id,
    conversation_key}``; nothing is stored.

    An HTTP client asks for these before its first message, so every message carries
    an id and a retry (after a lost answer) can never start a second conversation.
    Asking again is harmless: an unused id is simply forgotten.
    """
    app = request.app
    language = first_language(app, None, request.headers.get("Accept-Language"))
    refused = _read_throttled(request, language)
    if refused:
        return refused
    conversation_id, key = issue_conversation(app)
    return web.json_response({"conversation_id": conversation_id, "conversation_key": key})


@dataclass
class _Access:
    allowed: bool
    conversation: dict[str, Any] = field(default_factory=dict)
    #: The signed-in customer the reader proved to be (None: anonymous).
    viewer: str | None = None


async def _access(app: web.Application, conversation_id: str, token: str | None) -> _Access:
    """May the holder of ``token`` (or nobody) read this conversation? With its state if so.

    The caller has checked the conversation key. A conversation started by (or bound
    to) a signed-in customer is readable only with that customer's token too, so a
    shared computer or a copied id and key show nobody else's orders.
    """
    customer = verified_customer(app, token, conversation_id)
    viewer = customer["id"] if customer else None

    def read() -> _Access:
        with app[DATABASE].session() as session:
            owner = conversation_owner(session, conversation_id)
            if owner is not None and owner != viewer:
                return _Access(False)
            conversation = session.get(Conversation, conversation_id)
            agent = session.scalars(
                select(StaffMember.name)
                .join(Escalation, StaffMember.id == Escalation.claimed_by_id)
                .where(Escalation.conversation_id == conversation_id, Escalation.status == "claimed")
            ).first()
            return _Access(
                True,
                {
                    "language": conversation.language if conversation else None,
                    "agent": agent,
                    "with_person": agent is not None,
                },
                viewer,
            )

    return await app[DATABASE].run(read)


async def _history(app: web.Application, conversation_id: str, after: int) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        with app[DATABASE].session() as session:
            return history(session, conversation_id, after)

    return await app[DATABASE].run(read)


async def chat_history(request: web.Request) -> web.Response:
    """``POST /api/chat/history``: what the buyer missed, body ``{conversation_id,
    conversation_key, after}`` (the key may come in ``X-Conversation-Key``).

    The widget restores a conversation after a reload with it, and polls it when
    WebSockets are blocked. The id and key are in the body, so no URL, proxy or
    access log holds them. A signed-in customer's conversation also needs their
    token in the ``X-Customer-Token`` header.
    """
    app = request.app
    language = first_language(app, None, request.headers.get("Accept-Language"))
    refused = _read_throttled(request, language)
    if refused:
        return refused
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        body = None
    if not isinstance(body, dict):
        return _error(400, "invalid_body", "The request body must be a JSON object.", language)
    conversation_id = body.get("conversation_id")
    key = body.get("conversation_key") or request.headers.get(KEY_HEADER)
    if not isinstance(conversation_id, str) or not key_is_valid(app, conversation_id, key):
        return _error(403, "conversation_not_yours", _not_yours(app, language), language)
    after = body.get("after", 0)
    if not isinstance(after, int) or isinstance(after, bool):
        return _error(400, "invalid_after", "after must be a message id (a whole number).", language)
    try:
        access = await _access(app, conversation_id, request.headers.get("X-Customer-Token"))
        if not access.allowed:
            return _error(403, "conversation_not_yours", _not_yours(app, language), language)
        messages = await _history(app, conversation_id, max(0, after))
    except SQLAlchemyError:
        logger.exception("Could not read the history of %s", conversation_id)
        text = say(app, "utter_service_unavailable", language)["text"]
        return _error(503, "history_unavailable", text, language)
    return web.json_response(
        {"conversation_id": conversation_id, "messages": messages, **access.conversation}
    )


class BuyerSocket:
    """One widget's WebSocket: messages in, acknowledgements, replies and pushes out.

    Frames from the widget (JSON): ``{"type": "hello", "conversation_id"?,
    "conversation_key"?, "after", "customer_token"}`` (subscribe, get what was
    missed; without an id the server starts a conversation and the history event
    carries its id and key) and ``{"type": "message", "client_msg_id", "text" |
    "payload", …}``; ``ping`` gets ``pong``. Messages are answered one at a time,
    in order, by a worker task, so reading the socket (and throttling a flood)
    never waits for Rasa.
    """

    def __init__(self, request: web.Request, socket: web.WebSocketResponse) -> None:
        self.request = request
        self.app = request.app
        self.socket = socket
        self.address = client_address(request)
        self.conversation_id: str | None = None
        self.conversation_key: str | None = None
        self.customer_token: str | None = None
        #: The signed-in customer this window proved to be (None: anonymous).
        self.viewer: str | None = None
        self.listener: Listener | None = None
        self.queue: asyncio.Queue[IncomingMessage | None] = asyncio.Queue()
        #: Messages already queued when one was throttled: refused too, so none of them
        #: overtakes the refused one (the widget sends them again, in order).
        self.refuse_queued = 0

    def language(self, message: IncomingMessage | None = None) -> str:
        return first_language(self.app, message, self.request.headers.get("Accept-Language"))

    async def send(self, event: dict[str, Any]) -> None:
        # A socket gone meanwhile is skipped: the widget finds everything in the history.
        await send(self.socket, event)

    async def subscribe(self, conversation_id: str, viewer: str | None) -> Listener:
        """Follow ``conversation_id`` on the bus; its events are kept until ``start()``."""
        await self.unsubscribe()
        self.conversation_id = conversation_id
        self.viewer = viewer
        self.listener = await self.app[HUB].listen(
            self.socket, conversation_topic(conversation_id), self.frames
        )
        return self.listener

    async def unsubscribe(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            await listener.stop()

    def frames(self, event: Event) -> dict[str, Any] | None:
        """This window's rule: a conversation bound to a customer it has not proved to be
        is over for it (told once, then nothing more); its own exchange is not echoed."""
        if isinstance(event, ConversationBound):
            if event.owner == self.viewer:
                return None
            language = self.app[LANGUAGES].get(event.conversation_id) or "en"
            raise Stop(
                {"type": "error", "code": "conversation_not_yours", "detail": _not_yours(self.app, language)}
            )
        if isinstance(event, Exchange) and self.listener is not None and event.origin == self.listener.id:
            return None
        return event.frame() if isinstance(event, BuyerPush) else None

    @property
    def origin(self) -> str | None:
        """What names this window in the events it causes (see ``Exchange.origin``)."""
        return self.listener.id if self.listener is not None else None

    async def refuse(self, code: str, detail: str, **extra: Any) -> None:
        await self.send({"type": "error", "code": code, "detail": detail, **extra})

    async def hello(self, frame: dict[str, Any]) -> None:
        language = self.language()
        wait = self.app[READ_THROTTLE].wait(self.address)
        if wait:
            await self.refuse(
                "throttled", say(self.app, "utter_slow_down", language)["text"], retry_after=round(wait, 2)
            )
            return
        conversation_id = frame.get("conversation_id")
        key = frame.get("conversation_key")
        issued: str | None = None
        if conversation_id in (None, ""):
            conversation_id, issued = issue_conversation(self.app)
            key = issued
        if not isinstance(conversation_id, str) or not key_is_valid(self.app, conversation_id, key):
            await self.refuse("conversation_not_yours", _not_yours(self.app, language))
            return
        token = frame.get("customer_token") if isinstance(frame.get("customer_token"), str) else None
        after = frame["after"] if isinstance(frame.get("after"), int) else 0
        allowed = False
        try:
            customer = verified_customer(self.app, token, conversation_id)
            # Subscribed before the check: a binding that lands meanwhile evicts this socket,
            # one that landed before is seen by the check.
            listener = await self.subscribe(conversation_id, customer["id"] if customer else None)
            access = await _access(self.app, conversation_id, token)
            if not access.allowed:
                await self.unsubscribe()
                self.conversation_id = None
                await self.refuse("conversation_not_yours", _not_yours(self.app, language))
                return
            allowed = True
            self.customer_token = token
            self.conversation_key = key if isinstance(key, str) else None
            messages = [] if issued else await _history(self.app, conversation_id, max(0, after))
        except SQLAlchemyError:
            logger.exception("Could not read the history of %s", conversation_id)
            text = say(self.app, "utter_service_unavailable", language)["text"]
            await self.refuse("history_unavailable", text)
            if allowed:
                listener.start()  # its pushes still come; the widget reads the rest later
            else:
                await self.unsubscribe()
            return
        event: dict[str, Any] = {
            "type": "history",
            "conversation_id": conversation_id,
            "messages": messages,
            **access.conversation,
        }
        if issued:
            event["conversation_key"] = issued
        await self.send(event)
        listener.start()  # what was published since the subscription follows the history

    async def message(self, frame: dict[str, Any]) -> None:
        client_msg_id = frame.get("client_msg_id")
        if not self.conversation_id:
            await self.refuse("no_hello", 'Send {"type": "hello"} first.', client_msg_id=client_msg_id)
            return
        try:
            message = parse_incoming(
                {
                    **frame,
                    "conversation_id": self.conversation_id,
                    "conversation_key": self.conversation_key,
                }
            )
        except InvalidMessage as error:
            await self.refuse(error.code, error.detail, client_msg_id=client_msg_id)
            return
        if self.queue.qsize() >= MAX_QUEUED:
            # A client flooding faster than even the throttle can answer: refuse at once.
            await self.refuse(
                "throttled",
                say(self.app, "utter_slow_down", self.language(message))["text"],
                client_msg_id=client_msg_id,
                retry_after=5,
            )
            return
        self.queue.put_nowait(message)

    async def work(self) -> None:
        """Answer queued messages in order; finish the queue even after the socket closes,
        so a message that arrived is answered and logged (the widget reads it later)."""
        while (message := await self.queue.get()) is not None:
            if self.refuse_queued > 0:
                self.refuse_queued -= 1
                await self.refuse(
                    "throttled",
                    say(self.app, "utter_slow_down", self.language(message))["text"],
                    client_msg_id=message.client_msg_id,
                    retry_after=1,
                )
                continue
            try:
                result = await handle_message(
                    self.app,
                    message,
                    self.address,
                    self.request.headers.get("Accept-Language"),
                    origin=self.origin,
                )
            except Exception:
                # Stored or not, the widget keeps the message and sends it again later.
                logger.exception("Failed to handle a message in %s", message.conversation_id)
                await self.refuse(
                    "internal_error",
                    say(self.app, "utter_service_unavailable", self.language(message))["text"],
                    client_msg_id=message.client_msg_id,
                )
                continue
            if result.error and result.error[1] == "throttled":
                self.refuse_queued = self.queue.qsize()
            event_type = "error" if result.error else "reply"
            body = result.as_json()
            await self.send({"type": event_type, **body, **(body.get("error") or {})})

    async def run(self) -> None:
        worker = asyncio.create_task(self.work())
        try:
            async for frame in self.socket:
                if frame.type == WSMsgType.TEXT:
                    await self.frame(frame.data)
                elif frame.type == WSMsgType.BINARY:
                    await self.refuse("binary", "Send JSON text frames.")
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            await self.unsubscribe()
            self.queue.put_nowait(None)
            await worker

    async def frame(self, data: str) -> None:
        if data == "ping":
            await self.socket.send_str("pong")
            return
        try:
            frame = json.loads(data)
        except (json.JSONDecodeError, RecursionError):  # deep nesting is hostile, not a crash
            frame = None
        if not isinstance(frame, dict):
            await self.refuse("invalid_frame", "Frames are JSON objects with a type.")
            return
        if frame.get("type") == "hello":
            await self.hello(frame)
        elif frame.get("type") == "message":
            await self.message(frame)
        else:
            await self.refuse("unknown_type", "Frame types: hello, message.")


async def buyer_socket(request: web.Request) -> web.StreamResponse:
    """``/ws/chat``: the widget's live connection (see :class:`BuyerSocket`).

    At most ``sockets_per_address`` open at once from one client address: the next
    is refused before the upgrade (HTTP 429, in the buyer's language).
    """
    app = request.app
    address = client_address(request)
    sockets = app[CHAT_SOCKETS]
    if not sockets.acquire(address):
        language = first_language(app, None, request.headers.get("Accept-Language"))
        return _error(429, "too_many_connections", say(app, "utter_slow_down", language)["text"], language)
    try:
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
        await socket.prepare(request)
        await BuyerSocket(request, socket).run()
        return socket
    finally:
        sockets.release(address)


def setup_chat(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[CHAT_SOCKETS] = ConnectionCap(settings.sockets_per_address)
    app[READ_THROTTLE] = Throttle(settings.reads_per_second, settings.reads_burst)
    app[CONVERSATION_LOCKS] = ConversationLocks()
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/chat/history", chat_history)
    app.router.add_post("/api/chat/start", chat_start)
    app.router.add_get("/ws/chat", buyer_socket)
