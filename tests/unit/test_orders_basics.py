"""Order numbers as buyers type them, customer tokens, and formatting per language."""

from __future__ import annotations

import time
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bot.languages import SUPPORTED_LANGUAGES
from bot.orders.formatting import day, moment, money
from bot.orders.numbers import find_order_number, normalise_order_number
from bot.orders.statuses import LABELS_FILE, ORDER_STATUSES, SHIPMENT_STATUSES, label, labels, missing_labels
from bot.orders.tokens import InvalidToken, sign, verify


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("10234", "10234"),
        ("#10234", "10234"),
        ("10 234", "10234"),
        ("  # 10234 ", "10234"),
        ("so10234", "SO10234"),
        ("A-40912", "A40912"),
        ("１０２３４", "10234"),  # full-width
        ("١٠٢٣٤", "10234"),  # Arabic-Indic
        ("۱۰۲۳۴", "10234"),  # Persian digits
        ("No. 10234", "10234"),
        ("12", None),
        ("123456789012", None),
        ("'; DROP TABLE orders; --", None),
        ("", None),
    ],
)
def test_order_numbers_are_normalised(typed: str, number: str | None) -> None:
    assert normalise_order_number(typed) == number


@pytest.mark.parametrize(
    ("sentence", "number"),
    [
        ("where is order #10 234?", "10234"),
        ("pedido １０２３４ por favor", "10234"),
        ("طلب رقم ١٠٢٣٤", "10234"),
        ("order so10234 pls", "SO10234"),
        ("hello there", None),
    ],
)
def test_order_numbers_are_found_in_sentences(sentence: str, number: str | None) -> None:
    assert find_order_number(sentence) == number


SECRET = "s" * 32


def test_a_valid_token_identifies_the_customer() -> None:
    token = sign("c-1002", "Ana@Example.com", int(time.time()) + 60, SECRET)
    identity = verify(token, SECRET)
    assert (identity.customer_id, identity.email) == ("c-1002", "ana@example.com")


@pytest.mark.parametrize(
    "token",
    [
        sign("c-1002", "ana@example.com", int(time.time()) - 1, SECRET),  # expired
        sign("c-1002", "ana@example.com", int(time.time()) + 60, "other-secret"),  # wrong secret
        sign("c-1002", "ana@example.com", int(time.time()) + 60, SECRET)[:-4] + "AAAA",  # tampered
        "not-base64!",
        "W10",  # base64 of "[]"
        "x" * 5000,
        "",
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify(token, SECRET)


def test_no_secret_means_no_identification() -> None:
    with pytest.raises(InvalidToken):
        verify(sign("c", "a@b.c", int(time.time()) + 60, ""), "")


def test_every_status_has_words_in_every_language() -> None:
    assert missing_labels() == []
    assert set(labels()) == set(SHIPMENT_STATUSES), "data/order_labels.yml has words for a status not listed"
    assert set(ORDER_STATUSES) <= set(SHIPMENT_STATUSES)


def test_a_status_without_words_in_one_language_is_reported(tmp_path: Path) -> None:
    """What makes the test above fail when a status or a language is added without words."""
    text = LABELS_FILE.read_text(encoding="utf-8")
    assert "    ko: 통관 진행 중\n" in text
    incomplete = tmp_path / "order_labels.yml"
    incomplete.write_text(text.replace("    ko: 통관 진행 중\n", ""), encoding="utf-8")
    assert missing_labels(incomplete) == [("customs", "ko")]


def test_amounts_and_dates_in_the_buyers_language() -> None:
    assert money(Decimal("1234.5"), "EUR", "de") == "1.234,50\xa0€"
    assert money(Decimal("1234.5"), "USD", "en") == "$1,234.50"
    assert money(Decimal("1234"), "JPY", "ja") == "￥1,234"
    assert day(date(2026, 11, 5), "fr") == "5 nov. 2026"
    assert day(date(2026, 11, 5), "zh") == "2026年11月5日"
    assert "UTC" in moment(datetime(2026, 11, 5, 14, 30, tzinfo=timezone.utc), "ko")
    for language in SUPPORTED_LANGUAGES:
        assert money(Decimal("10"), "EUR", language)
        assert day(date(2026, 1, 31), language)


def test_status_words() -> None:
    assert label("in_transit", "es") == "en tránsito"
    assert label("in_transit", "en") == "in transit"
    assert label("unknown_status", "en") == "unknown status"
