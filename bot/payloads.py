"""Which button payloads a buyer may send: only those the bot has just offered.

Rasa reads a message starting with ``/`` as an intent with entities
(``/give_rating{"rating": "1"}``), skipping language understanding. Buyers could
type any of them, including ``/conversation_resolved``, which only the web
service sends when a person hands the conversation back, and so replay a
rating six times or end a hand-over. A payload now reaches Rasa as a payload
only when it is one of the buttons of the bot's latest turn in this
conversation (the conversation log keeps each reply's buttons); anything else
goes as plain text with its leading slashes removed, which Rasa's language
understanding reads like anything a buyer types. Staff-only intents never pass,
whatever the log says. The web service's own sends to Rasa (console.hand_back)
do not come through here.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.db.database import Database
from bot.db.models import ConversationMessage
from bot.web.messages import clean_text

logger = logging.getLogger(__name__)

#: Intents only the web service itself sends to Rasa (bot/web/console.py hand_back).
STAFF_ONLY_INTENTS = frozenset({"conversation_resolved"})
#: How far back the log is read to find the bot's latest turn.
LOOKBACK = 30
#: The intent name of a payload: "/name", "/name{...}", "/name@0.9".
_INTENT = re.compile(r"^/+\s*([^\s{@]*)")


def is_payload(text: str) -> bool:
    """Whether Rasa would read ``text`` as an intent rather than words (it strips first)."""
    return text.strip().startswith("/")


def intent_of(payload: str) -> str:
    match = _INTENT.match(payload.strip())
    return match.group(1) if match else ""


def neutralise(text: str) -> str:
    """``text`` as words: the leading slashes (and the spaces around them) removed."""
    words = text.strip()
    while words.startswith("/"):
        words = words[1:].strip()
    return words or "?"


def offered_payloads(session: Session, conversation_id: str) -> set[str]:
    """The payloads of the buttons in the bot's latest turn: its replies after the
    buyer's previous message. A person's message in between closes the turn."""
    rows = session.execute(
        select(ConversationMessage.sender, ConversationMessage.data)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.id.desc())
        .limit(LOOKBACK)
    ).all()
    offered: set[str] = set()
    in_turn = False
    for sender, data in rows:
        if sender == "buyer":
            if in_turn:
                break
            continue  # the message being answered (and any others not answered yet)
        if sender != "bot":
            break
        in_turn = True
        buttons = data.get("buttons") if isinstance(data, dict) else None
        for button in buttons if isinstance(buttons, list) else []:
            if isinstance(button, dict) and isinstance(button.get("payload"), str):
                offered.add(clean_text(button["payload"]))
    return offered


def allowed(session: Session, conversation_id: str, payload: str) -> bool:
    """May a buyer send ``payload`` to Rasa as a payload in this conversation now?"""
    if intent_of(payload) in STAFF_ONLY_INTENTS:
        return False
    return clean_text(payload) in offered_payloads(session, conversation_id)


async def text_for_rasa(database: Database, conversation_id: str, text: str) -> str:
    """What of a buyer's message goes to Rasa: the text, a payload the bot offered,
    or a payload it did not offer as plain words. Fails closed if the log is unreadable."""
    if not is_payload(text):
        return text

    def check() -> bool:
        with database.session() as session:
            return allowed(session, conversation_id, text)

    try:
        if await database.run(check):
            return text
    except SQLAlchemyError:
        logger.exception("Could not check a payload in %s; sent as text", conversation_id)
    logger.info("Payload not offered in %s, sent as text: %.80r", conversation_id, text)
    return neutralise(text)
