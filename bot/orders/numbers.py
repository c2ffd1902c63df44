"""Order numbers as buyers type them, reduced to the one form the store uses.

Buyers write "#10234", "10 234", "so10234", "１０２３４" (full-width, from a Chinese
or Japanese keyboard) or "١٠٢٣٤" (Arabic-Indic digits). All of them mean order
10234 / SO10234: digits of any script become ASCII, '#', spaces, dashes and dots
go, letters are upper-cased. Imports store numbers the same way, so a lookup is an
exact match.
"""

from __future__ import annotations

import re
import unicodedata

#: Up to 3 letters, then 4 to 8 digits (the store's order numbers).
ORDER_NUMBER_RE = re.compile(r"^[A-Z]{0,3}\d{4,8}$")
_STRIP = re.compile(r"[\s#№\-_.:/]+")
_PREFIXES = re.compile(r"^(?:NO|NR|N|ORDER|PEDIDO|COMMANDE|BESTELLUNG)(?=\d)")


def normalise_order_number(text: str | None) -> str | None:
    """The canonical order number in ``text``, or None if it is not one."""
    if not text:
        return None
    folded = unicodedata.normalize("NFKC", text)  # full-width letters and digits → ASCII
    chars = []
    for char in folded:
        if char.isdigit():
            chars.append(str(unicodedata.digit(char, 0)))  # Arabic-Indic, Devanagari... → 0-9
        else:
            chars.append(char)
    compact = _STRIP.sub("", "".join(chars)).upper()
    compact = _PREFIXES.sub("", compact)
    return compact if ORDER_NUMBER_RE.match(compact) else None


def find_order_number(text: str) -> str | None:
    """The first order number inside a sentence ("where is order #10 234?" → "10234")."""
    digits = "".join(
        str(unicodedata.digit(c, 0)) if c.isdigit() else c for c in unicodedata.normalize("NFKC", text)
    )
    for match in _IN_SENTENCE.finditer(digits):
        number = normalise_order_number(match.group(0))
        if number:
            return number
    return None


#: A letter prefix must touch the digits ("SO10234", "A-40912"), never a word before them.
_IN_SENTENCE = re.compile(
    r"(?<![A-Za-z0-9])(?:[A-Za-z]{1,3}-?)?\d{4,8}(?![0-9])|(?<![0-9])\d{2,3} \d{3}(?![0-9])"
)
