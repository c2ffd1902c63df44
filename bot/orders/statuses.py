"""Every order and parcel status the assistant knows, the group each belongs to, and
its words in the buyer's language.

This is the one list: the importer accepts exactly these statuses, the status card
(bot/orders/card.py) picks its next step from their groups, and
data/order_labels.yml holds their words in every supported language (a unit test
fails when a status lacks a language there). To add a status, add it here with its
group, then its words to data/order_labels.yml.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from pathlib import Path

import yaml

from bot.languages import SUPPORTED_LANGUAGES
from bot.settings import PROJECT_ROOT


class Group(Enum):
    """What a status means for the buyer, and so what the card says after it."""

    #: Before the parcel leaves: "not shipped yet" when there is no shipment.
    NOT_SHIPPED = "not_shipped"
    #: On its way: the estimated delivery is shown.
    ON_THE_WAY = "on_the_way"
    #: Late or in trouble: an apology and the offer of a person.
    TROUBLE = "trouble"
    #: The carrier says it arrived: "Did you receive it?".
    DELIVERED = "delivered"
    #: Cancelled, sent back or refunded: nothing is on its way any more.
    CLOSED = "closed"


#: An order's statuses, roughly in the order an order goes through them.
ORDER_STATUSES: dict[str, Group] = {
    "pending": Group.NOT_SHIPPED,
    "paid": Group.NOT_SHIPPED,
    "processing": Group.NOT_SHIPPED,
    "shipped": Group.ON_THE_WAY,
    "in_transit": Group.ON_THE_WAY,
    "customs": Group.ON_THE_WAY,
    "out_for_delivery": Group.ON_THE_WAY,
    "delivered": Group.DELIVERED,
    "delayed": Group.TROUBLE,
    "exception": Group.TROUBLE,
    "cancelled": Group.CLOSED,
    "returned": Group.CLOSED,
    "refunded": Group.CLOSED,
}
#: A parcel's (shipment's or checkpoint's) statuses: an order's, and the carrier's first scan.
SHIPMENT_STATUSES: dict[str, Group] = {**ORDER_STATUSES, "info_received": Group.ON_THE_WAY}

LABELS_FILE = PROJECT_ROOT / "data" / "order_labels.yml"


def group(status: str) -> Group | None:
    """The group of an order or parcel status; None for one this list does not know."""
    return SHIPMENT_STATUSES.get(status)


@lru_cache(maxsize=4)
def labels(path: Path = LABELS_FILE) -> dict[str, dict[str, str]]:
    """Status → language → words, from data/order_labels.yml (read once, on first use)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in data["statuses"].items()}


def label(status: str, language: str, default_language: str = "en") -> str:
    """The words for ``status`` in ``language`` (else the default language); an unknown
    status as itself, without underscores, rather than nothing."""
    words = labels().get(status)
    if not words:
        return status.replace("_", " ")
    return words.get(language) or words.get(default_language) or next(iter(words.values()))


def missing_labels(path: Path = LABELS_FILE) -> list[tuple[str, str]]:
    """(status, language) pairs that have no words in ``path``: each one a buyer would
    see as the bare status name."""
    words = labels(path)
    return [
        (status, language)
        for status in SHIPMENT_STATUSES
        for language in SUPPORTED_LANGUAGES
        if not words.get(status, {}).get(language, "").strip()
    ]
