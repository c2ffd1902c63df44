"""Cleaning and validating what the chat endpoint receives."""

from __future__ import annotations

import pytest

from bot.web.messages import InvalidMessage, clean_text, parse_incoming


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  hola  ", "hola"),
        ("a\x00b\x07c", "abc"),
        ("evil\u202etxt", "eviltxt"),
        ("zero\u200bwidth", "zerowidth"),
        ("many     spaces\t\there", "many spaces here"),
        ("line\n\n\n\n\nbreaks", "line\n\nbreaks"),
        ("e\u0301", "\u00e9"),
        ("\x00\x01\x02", ""),
        ("👍", "👍"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


#: An id as the service issues them (bot.web.messages.new_conversation_id).
ISSUED = "Zk3u0r9QpWm2xY7aBc4dEf6gHi8jKl1n"


def test_a_missing_conversation_id_starts_a_new_one() -> None:
    message = parse_incoming({"text": "hi"})
    assert len(message.conversation_id) == 32


def test_payload_takes_the_place_of_text() -> None:
    assert parse_incoming({"conversation_id": ISSUED, "payload": "/affirm", "text": "Yes"}).text == "/affirm"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "invalid_body"),
        ("text", "invalid_body"),
        ({"conversation_id": "../../etc/passwd", "text": "hi"}, "invalid_conversation_id"),
        ({"conversation_id": "x" * 65, "text": "hi"}, "invalid_conversation_id"),
        ({"conversation_id": 5, "text": "hi"}, "invalid_conversation_id"),
        ({"conversation_id": "c1", "text": "hi"}, "invalid_conversation_id"),  # short: guessable
        ({"conversation_id": ISSUED, "text": 5}, "invalid_text"),
        ({"conversation_id": ISSUED, "text": ["a"]}, "invalid_text"),
        ({"conversation_id": ISSUED, "text": "a", "client_msg_id": "m" * 65}, "invalid_client_msg_id"),
    ],
)
def test_invalid_bodies(body: object, code: str) -> None:
    with pytest.raises(InvalidMessage) as error:
        parse_incoming(body)
    assert error.value.code == code


def test_odd_locale_is_ignored_not_rejected() -> None:
    assert parse_incoming({"conversation_id": ISSUED, "text": "hi", "locale": 42}).locale is None
