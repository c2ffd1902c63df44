"""The buyer's side of the web service: one path for every chat message.

The widget talks over WebSocket (``/ws/chat``) and falls back to HTTP
(``POST /api/chat`` to send, ``GET /api/chat/history`` to catch up); both end in
:func:`handle_message`, which stores the message, sends it to a person or to
Rasa, stores the replies and returns them with their log ids. The widget keeps
each message until its replies arrive and sends it again with the same
``client_msg_id`` after a network loss; the log recognises the retry, so
nothing is lost and nothing is answered twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, WSMsgType, web
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.conversation_log import Turn, begin_turn, conversation_owner, history, record_replies
from bot.db.models import Conversation, Escalation, StaffMember
from bot.orders.tokens import InvalidToken
from bot.orders.tokens import verify as verify_token
from bot.web.context import (
    ADDRESS_THROTTLE,
    DATABASE,
    HUB,
    LANGUAGES,
    RASA_SESSION,
    SETTINGS,
    THROTTLE,
    client_address,
    error_response,
    first_language,
    say,
)
from bot.web.messages import IncomingMessage, InvalidMessage, parse_incoming, valid_conversation_id

logger = logging.getLogger(__name__)

#: Largest WebSocket frame a buyer may send (a message is at most a few kB).
MAX_FRAME_BYTES = 64 * 1024
#: Messages waiting to be answered on one socket before more are refused outright.
MAX_QUEUED = 50


@dataclass
class ChatResult:
    """What became of one buyer message."""

    conversation_id: str
    client_msg_id: str | None
    language: str
    #: The replies (bot), each with its log id when the log could be written.
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: The buyer's message as stored (None for an empty message or a retry).
    buyer: dict[str, Any] | None = None
    with_person: bool = False
    #: (HTTP status, code, text in the buyer's language) when the message was refused.
    error: tuple[int, str, str] | None = None
    retry_after: float | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "client_msg_id": self.client_msg_id,
            "language": self.language,
        }
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


async def handle_message(
    app: web.Application,
    message: IncomingMessage,
    client_address: str,
    accept_language: str | None = None,
    origin: web.WebSocketResponse | None = None,
) -> ChatResult:
    """Store a buyer message, get it answered (by Rasa or a person) and log the replies."""
    settings = app[SETTINGS]
    language = first_language(app, message, accept_language)
    result = ChatResult(message.conversation_id, message.client_msg_id, language)
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
    turn = await _begin(app, message, customer)
    if turn.other_customer:
        result.error = (
            403,
            "conversation_not_yours",
            say(app, "utter_conversation_not_yours", language)["text"],
        )
        return result
    result.buyer = turn.message
    if turn.earlier_replies:  # a retry of a message answered already
        result.messages = turn.earlier_replies
        return result
    if turn.escalation_id is not None:
        result.with_person = True
        stored = turn.message or {}
        await app[HUB].to_staff(
            {
                "type": "buyer_message",
                "escalation_id": turn.escalation_id,
                "conversation_id": message.conversation_id,
                "text": stored.get("text", message.text),
                "message_id": stored.get("id"),
            }
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
    try:
        async with app[RASA_SESSION].post(
            "/webhooks/rest/webhook",
            json={"sender": message.conversation_id, "message": message.text, "metadata": metadata},
        ) as response:
            if response.status != 200:
                raise ClientError(f"Rasa answered HTTP {response.status}")
            replies = await response.json()
    except (ClientError, TimeoutError, json.JSONDecodeError) as error:
        # The message is in the log: the widget's retry gets it answered.
        logger.error("Rasa unavailable for %s: %s", message.conversation_id, error)
        result.error = (503, "assistant_unavailable", say(app, "utter_service_unavailable", language)["text"])
        return result
    result.language = app[LANGUAGES].get(message.conversation_id) or language
    shown = [_reply(r) for r in replies if isinstance(r, dict)]
    result.messages = await _record(app, message.conversation_id, shown, result.language) or shown
    await _echo(app, result, origin)
    return result


async def _begin(app: web.Application, message: IncomingMessage, customer: dict[str, str] | None) -> Turn:
    def work() -> Turn:
        with app[DATABASE].session() as session:
            return begin_turn(
                session,
                message.conversation_id,
                message.text,
                message.client_msg_id,
                customer["id"] if customer else None,
                message.shown,
            )

    try:
        return await app[DATABASE].run(work)
    except SQLAlchemyError:
        # Rasa keeps its own tracker, so the conversation goes on without the log.
        logger.exception("Conversation log write failed for %s", message.conversation_id)
        return Turn()


async def _record(
    app: web.Application, conversation_id: str, replies: list[dict[str, Any]], language: str | None
) -> list[dict[str, Any]] | None:
    def work() -> list[dict[str, Any]]:
        with app[DATABASE].session() as session:
            return record_replies(session, conversation_id, replies, language)

    try:
        return await app[DATABASE].run(work)
    except SQLAlchemyError:
        logger.exception("Could not log the replies in %s", conversation_id)
        return None


async def _echo(app: web.Application, result: ChatResult, origin: web.WebSocketResponse | None) -> None:
    """Show the exchange in the buyer's other open windows (other pages of the store)."""
    shown = ([result.buyer] if result.buyer else []) + result.messages
    if shown:
        await app[HUB].to_buyer(
            result.conversation_id, {"type": "messages", "messages": shown}, exclude=origin
        )


def _reply(rasa_message: dict[str, Any]) -> dict[str, Any]:
    """Keep the parts of a Rasa REST reply the widget shows."""
    reply: dict[str, Any] = {}
    for key in ("text", "buttons", "custom", "image"):
        if rasa_message.get(key):
            reply[key] = rasa_message[key]
    return reply


async def chat(request: web.Request) -> web.Response:
    """``POST /api/chat``: one buyer message; the replies come back in the response.

    Body: ``{conversation_id?, client_msg_id?, text | payload, shown?, locale?,
    customer_token?, time_zone?}``.
    """
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response(400, "invalid_json", "The request body must be valid JSON.")
    try:
        message = parse_incoming(body)
    except InvalidMessage as error:
        return error_response(400, error.code, error.detail)
    result = await handle_message(
        request.app, message, client_address(request), request.headers.get("Accept-Language")
    )
    if result.error:
        headers = {"Retry-After": str(max(1, round(result.retry_after or 0)))} if result.retry_after else None
        return web.json_response(result.as_json(), status=result.error[0], headers=headers)
    return web.json_response(result.as_json())


@dataclass
class _Access:
    allowed: bool
    conversation: dict[str, Any] = field(default_factory=dict)


async def _access(app: web.Application, conversation_id: str, token: str | None) -> _Access:
    """May the holder of ``token`` (or nobody) read this conversation? With its state if so.

    A conversation started by a signed-in customer is readable only with that
    customer's token, so a shared computer or a copied id shows nobody else's orders.
    """
    customer = verified_customer(app, token, conversation_id)

    def read() -> _Access:
        with app[DATABASE].session() as session:
            owner = conversation_owner(session, conversation_id)
            if owner is not None and (customer is None or customer["id"] != owner):
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
            )

    return await app[DATABASE].run(read)


async def _history(app: web.Application, conversation_id: str, after: int) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        with app[DATABASE].session() as session:
            return history(session, conversation_id, after)

    return await app[DATABASE].run(read)


async def chat_history(request: web.Request) -> web.Response:
    """``GET /api/chat/history?conversation_id=…&after=<message id>``: what the buyer missed.

    The widget restores a conversation after a reload with it, and polls it when
    WebSockets are blocked. A signed-in customer's conversation needs their
    token in the ``X-Customer-Token`` header.
    """
    conversation_id = request.query.get("conversation_id", "")
    if not valid_conversation_id(conversation_id):
        return error_response(
            400, "invalid_conversation_id", "conversation_id must be 1-64 letters, digits or '_.:-'."
        )
    try:
        after = max(0, int(request.query.get("after", "0")))
    except ValueError:
        return error_response(400, "invalid_after", "after must be a message id (a whole number).")
    try:
        access = await _access(request.app, conversation_id, request.headers.get("X-Customer-Token"))
        if not access.allowed:
            return error_response(
                403, "conversation_not_yours", "This conversation belongs to another customer."
            )
        messages = await _history(request.app, conversation_id, after)
    except SQLAlchemyError:
        logger.exception("Could not read the history of %s", conversation_id)
        return error_response(
            503, "history_unavailable", "The conversation history is unavailable right now."
        )
    return web.json_response(
        {"conversation_id": conversation_id, "messages": messages, **access.conversation}
    )


class BuyerSocket:
    """One widget's WebSocket: messages in, acknowledgements, replies and pushes out.

    Frames from the widget (JSON): ``{"type": "hello", "conversation_id", "after",
    "customer_token"}`` (subscribe, get what was missed) and ``{"type": "message",
    "client_msg_id", "text" | "payload", …}``; ``ping`` gets ``pong``. Messages are
    answered one at a time, in order, by a worker task, so reading the socket
    (and throttling a flood) never waits for Rasa.
    """

    def __init__(self, request: web.Request, socket: web.WebSocketResponse) -> None:
        self.request = request
        self.app = request.app
        self.socket = socket
        self.conversation_id: str | None = None
        self.customer_token: str | None = None
        self.queue: asyncio.Queue[IncomingMessage | None] = asyncio.Queue()

    async def send(self, event: dict[str, Any]) -> None:
        # A socket gone meanwhile is skipped: the widget finds everything in the history.
        await self.app[HUB].send(self.socket, event)

    def subscribe(self, conversation_id: str) -> None:
        self.unsubscribe()
        self.conversation_id = conversation_id
        self.app[HUB].subscribe(conversation_id, self.socket)

    def unsubscribe(self) -> None:
        if self.conversation_id:
            self.app[HUB].unsubscribe(self.conversation_id, self.socket)

    async def hello(self, frame: dict[str, Any], quiet: bool = False) -> None:
        conversation_id = frame.get("conversation_id")
        if not isinstance(conversation_id, str) or not valid_conversation_id(conversation_id):
            await self.send(
                {
                    "type": "error",
                    "code": "invalid_conversation_id",
                    "detail": "A valid conversation_id is required.",
                }
            )
            return
        token = frame.get("customer_token") if isinstance(frame.get("customer_token"), str) else None
        after = frame["after"] if isinstance(frame.get("after"), int) else 0
        try:
            access = await _access(self.app, conversation_id, token)
            if not access.allowed:
                await self.send(
                    {
                        "type": "error",
                        "code": "conversation_not_yours",
                        "detail": "This conversation belongs to another customer.",
                    }
                )
                return
            self.customer_token = token
            self.subscribe(conversation_id)
            if quiet:
                return
            messages = await _history(self.app, conversation_id, max(0, after))
        except SQLAlchemyError:
            logger.exception("Could not read the history of %s", conversation_id)
            await self.send(
                {"type": "error", "code": "history_unavailable", "detail": "History unavailable."}
            )
            return
        await self.send(
            {
                "type": "history",
                "conversation_id": conversation_id,
                "messages": messages,
                **access.conversation,
            }
        )

    async def message(self, frame: dict[str, Any]) -> None:
        client_msg_id = frame.get("client_msg_id")
        if not self.conversation_id:
            await self.send(
                {
                    "type": "error",
                    "client_msg_id": client_msg_id,
                    "code": "no_hello",
                    "detail": 'Send {"type": "hello", "conversation_id": …} first.',
                }
            )
            return
        try:
            message = parse_incoming({**frame, "conversation_id": self.conversation_id})
        except InvalidMessage as error:
            await self.send(
                {"type": "error", "client_msg_id": client_msg_id, "code": error.code, "detail": error.detail}
            )
            return
        if self.queue.qsize() >= MAX_QUEUED:
            # A client flooding faster than even the throttle can answer: refuse at once.
            language = first_language(self.app, message, None)
            await self.send(
                {
                    "type": "error",
                    "client_msg_id": client_msg_id,
                    "code": "throttled",
                    "detail": say(self.app, "utter_slow_down", language)["text"],
                    "retry_after": 5,
                }
            )
            return
        self.queue.put_nowait(message)

    async def work(self) -> None:
        """Answer queued messages in order; finish the queue even after the socket closes,
        so a message that arrived is answered and logged (the widget reads it later)."""
        while (message := await self.queue.get()) is not None:
            try:
                result = await handle_message(
                    self.app,
                    message,
                    client_address(self.request),
                    self.request.headers.get("Accept-Language"),
                    origin=self.socket,
                )
            except Exception:
                # Stored or not, the widget keeps the message and sends it again later.
                logger.exception("Failed to handle a message in %s", message.conversation_id)
                await self.send(
                    {
                        "type": "error",
                        "client_msg_id": message.client_msg_id,
                        "code": "internal_error",
                        "detail": say(
                            self.app, "utter_service_unavailable", self.app[SETTINGS].default_language
                        )["text"],
                    }
                )
                continue
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
                    await self.send({"type": "error", "code": "binary", "detail": "Send JSON text frames."})
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            self.unsubscribe()
            self.queue.put_nowait(None)
            await worker

    async def frame(self, data: str) -> None:
        if data == "ping":
            await self.socket.send_str("pong")
            return
        try:
            frame = json.loads(data)
        except json.JSONDecodeError:
            frame = None
        if not isinstance(frame, dict):
            await self.send(
                {"type": "error", "code": "invalid_frame", "detail": "Frames are JSON objects with a type."}
            )
            return
        if frame.get("type") == "hello":
            await self.hello(frame)
        elif frame.get("type") == "message":
            await self.message(frame)
        else:
            await self.send(
                {"type": "error", "code": "unknown_type", "detail": "Frame types: hello, message."}
            )


async def buyer_socket(request: web.Request) -> web.WebSocketResponse:
    """``/ws/chat``: the widget's live connection (see :class:`BuyerSocket`).

    ``?conversation_id=`` subscribes at once to an anonymous conversation (a
    listener that sends nothing); the widget says hello instead.
    """
    socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME_BYTES)
    await socket.prepare(request)
    buyer = BuyerSocket(request, socket)
    conversation_id = request.query.get("conversation_id")
    if conversation_id is not None:
        await buyer.hello({"conversation_id": conversation_id}, quiet=True)
        if buyer.conversation_id is None:
            await socket.close()
            return socket
    await buyer.run()
    return socket


def setup_chat(app: web.Application) -> None:
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/chat/history", chat_history)
    app.router.add_get("/ws/chat", buyer_socket)
