"""Dates, amounts and statuses in the buyer's language (Babel's CLDR data, offline)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.numbers import format_currency

from bot.settings import PROJECT_ROOT

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
LABELS_FILE = PROJECT_ROOT / "data" / "order_labels.yml"


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


@lru_cache(maxsize=4)
def labels(path: Path = LABELS_FILE) -> dict[str, dict[str, str]]:
    """Status → language → words, from data/order_labels.yml."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in data["statuses"].items()}


def status_label(status: str, language: str, default_language: str = "en") -> str:
    words = labels().get(status)
    if not words:
        return status.replace("_", " ")
    return words.get(language) or words.get(default_language) or next(iter(words.values()))
