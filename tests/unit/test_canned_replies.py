"""Canned replies exist in every language with the same placeholders, so an agent can
answer a buyer in a language the agent does not read."""

from __future__ import annotations

import re

from bot.languages import SUPPORTED_LANGUAGES
from bot.web.console import canned_replies


def test_every_canned_reply_in_every_language_with_the_same_placeholders() -> None:
    replies = canned_replies()
    assert len(replies) >= 6
    for reply_id, texts in replies.items():
        assert set(texts) == set(SUPPORTED_LANGUAGES), reply_id
        expected = set(re.findall(r"\{(\w+)\}", texts["en"]))
        for language, text in texts.items():
            assert text.strip(), (reply_id, language)
            assert set(re.findall(r"\{(\w+)\}", text)) == expected, (reply_id, language)
