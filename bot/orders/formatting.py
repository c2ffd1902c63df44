"""Dates, times and amounts in the buyer's language (Babel's CLDR data, offline).

Status words are in bot/orders/statuses.py, with the list of statuses.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency

#: The CLDR locale each supported language is formatted with.
LOCALES = {
    "en": "en",
    "zh": "zh_Hans",
    "es": "es",
    "fr": "fr",
    "de": "de",
    "pt": "pt",
    "ru": "ru",
    "ar": "ar",
    "ja": "ja",
    "ko": "ko",
}


def money(amount: Decimal, currency: str, language: str) -> str:
    return str(format_currency(amount, currency, locale=LOCALES.get(language, "en")))


def day(value: date, language: str) -> str:
    return str(babel_date(value, format="medium", locale=LOCALES.get(language, "en")))


def moment(value: datetime, language: str, time_zone: str | None = None) -> str:
    """A date and time in ``time_zone`` (the buyer's, from the widget), else in UTC, saying so."""
    try:
        zone = ZoneInfo(time_zone) if time_zone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    text = str(
        babel_datetime(
            value, format="medium", tzinfo=zone or timezone.utc, locale=LOCALES.get(language, "en")
        )
    )
    return text if zone else f"{text} UTC"
