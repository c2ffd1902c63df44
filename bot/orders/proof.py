"""What proves an anonymous buyer's claim to an order: its email address, or its
shipping postcode together with the buyer's surname as on the order.

A postcode alone is no proof: order numbers are sequential and a city's
postcodes are public, so "10235" and Paris's "75011" used to open a stranger's
order. The surname is compared without accents, case, spaces or punctuation
("garcia" matches "García"); in a name written family name first (Chinese,
Japanese, Korean) the first word is the surname, otherwise any word after the
first ("Ana García López": García or López); the whole name always counts. The
buyer writes both in one message, in either order ("75011 Dubois").

Every failure takes the same path as a success up to the comparison, and an
unknown order is compared against a decoy, so a wrong proof and a missing order
cost the same one query and get the same answer.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Customer, Order

#: Scripts whose names are written family name first.
_FAMILY_FIRST = re.compile(r"[\u1100-\u11ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
#: The shortest surname part accepted on its own (a single letter is a guess, not a proof).
MIN_SURNAME = 2


@dataclass(frozen=True)
class OrderProof:
    """What an order can be proven with (never shown to the buyer)."""

    email: str
    postcode: str
    name: str


#: Compared against when the order does not exist, so that costs what a wrong proof costs.
_DECOY = OrderProof(email="\x00", postcode="\x00", name="\x00")


def proof_of(session: Session, number: str) -> OrderProof | None:
    """The proof fields of the order with this (normalised) number, in one query."""
    row = session.execute(
        select(Order.email, Order.shipping_postcode, Customer.name)
        .outerjoin(Customer, Customer.id == Order.customer_id)
        .where(Order.number == number)
    ).first()
    return None if row is None else OrderProof(row[0] or "", row[1] or "", row[2] or "")


def fold(text: str) -> str:
    """Lower-case letters and ASCII digits only: no accents, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text)
    chars = []
    for char in decomposed:
        if unicodedata.category(char) == "Mn":
            continue  # accents, Arabic vowel marks
        if char.isdigit():
            chars.append(str(unicodedata.digit(char, 0)))  # Arabic-Indic digits and the like
        elif char.isalnum():
            chars.append(char)
    return unicodedata.normalize("NFC", "".join(chars)).casefold()


def surnames(name: str) -> set[str]:
    """The folded forms of ``name`` that count as the buyer's surname."""
    words = [fold(word) for word in name.split()]
    words = [word for word in words if word]
    if not words:
        return set()
    parts = words[:1] if _FAMILY_FIRST.search(name) else words[1:]
    accepted = {word for word in parts if len(word) >= MIN_SURNAME}
    accepted.add("".join(words))
    return {word for word in accepted if len(word) >= MIN_SURNAME}


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def verifies(proof: OrderProof | None, given: str) -> bool:
    """True when ``given`` is the order's email, or its postcode and the buyer's surname."""
    target = proof or _DECOY
    given = unicodedata.normalize("NFKC", given).strip()
    if "@" in given:
        ok = _same(given.casefold(), target.email.casefold())
    else:
        postcode, written = fold(target.postcode), fold(given)
        ok = False
        for surname in sorted(surnames(target.name)):
            ok |= _same(written, postcode + surname) | _same(written, surname + postcode)
        ok = ok and bool(postcode)
    return ok and proof is not None
