"""Button payloads: a buyer may send only those the bot offered in its latest turn.

Against a real conversation log (SQLite file), written by the same functions
the web service uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.conversation_log import begin_turn, record_replies
from bot.db.database import Database, upgrade
from bot.payloads import allowed, intent_of, is_payload, neutralise, offered_payloads, text_for_rasa

RATING = [{"title": "★" * n, "payload": f'/give_rating{{"rating": "{n}"}}'} for n in range(1, 6)]
YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def buyer(database: Database, text: str, n: int) -> None:
    with database.session() as session:
        begin_turn(session, "c", text, f"m{n}", None)


def bot(database: Database, *replies: dict[str, object], sender: str = "bot") -> None:
    with database.session() as session:
        record_replies(session, "c", list(replies), "en", sender=sender)


def check(database: Database, payload: str) -> bool:
    with database.session() as session:
        return allowed(session, "c", payload)


def test_only_the_latest_turns_buttons_are_allowed(database: Database) -> None:
    buyer(database, "bye", 1)
    bot(database, {"text": "Goodbye"}, {"text": "How would you rate us?", "buttons": RATING})
    buyer(database, '/give_rating{"rating": "1"}', 2)  # being answered: the turn before it counts
    assert check(database, '/give_rating{"rating": "1"}')
    assert check(database, '  /give_rating{"rating":  "5"}')  # as the widget cleans it
    assert not check(database, "/affirm")
    bot(database, {"text": "Add a comment?", "buttons": YES_NO})
    buyer(database, '/give_rating{"rating": "1"}', 3)
    assert not check(database, '/give_rating{"rating": "1"}')  # the stars are not offered any more
    assert check(database, "/affirm")
    with database.session() as session:
        assert offered_payloads(session, "c") == {"/affirm", "/deny"}


def test_a_person_speaking_closes_the_bots_turn(database: Database) -> None:
    bot(database, {"text": "Did this help?", "buttons": YES_NO})
    bot(database, {"text": "Hello, Ann here", "agent": "Ann"}, sender="staff")
    assert not check(database, "/affirm")


def test_staff_only_intents_never_pass(database: Database) -> None:
    bot(database, {"text": "odd", "buttons": [{"title": "x", "payload": "/conversation_resolved"}]})
    assert not check(database, "/conversation_resolved")
    assert not check(database, "//conversation_resolved@0.9")
    assert intent_of(' / conversation_resolved{"a": 1}') == "conversation_resolved"


def test_nothing_is_allowed_in_a_new_conversation(database: Database) -> None:
    assert not check(database, "/affirm")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("/conversation_resolved", "conversation_resolved"),
        (' / /give_rating{"rating": "1"}', 'give_rating{"rating": "1"}'),
        ("\u00a0/affirm", "affirm"),
        ("/", "?"),
        ("hello /affirm", "hello /affirm"),
    ],
)
def test_neutralised_text_is_no_payload(text: str, words: str) -> None:
    assert neutralise(text) == words
    assert not is_payload(neutralise(text))


async def test_what_goes_to_rasa(database: Database) -> None:
    bot(database, {"text": "Did this help?", "buttons": YES_NO})
    assert await text_for_rasa(database, "c", "/affirm") == "/affirm"
    assert await text_for_rasa(database, "c", "/conversation_resolved") == "conversation_resolved"
    assert await text_for_rasa(database, "c", "where is my order") == "where is my order"
