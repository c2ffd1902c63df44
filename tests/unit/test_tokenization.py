"""Per-language tokenizers: spaCy blank pipelines, jieba, SudachiPy, rule-based Korean."""

from __future__ import annotations

import pytest

from bot.tokenization import Tokenizers


@pytest.fixture(scope="module")
def tokenizers() -> Tokenizers:
    return Tokenizers()


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Where's my order?", ["Where", "'s", "my", "order", "?"]),
        ("es", "¿Dónde está mi pedido?", ["¿", "Dónde", "está", "mi", "pedido", "?"]),
        ("fr", "Où est ma commande ?", ["Où", "est", "ma", "commande", "?"]),
        ("de", "Wo ist meine Bestellung?", ["Wo", "ist", "meine", "Bestellung", "?"]),
        ("pt", "Cadê minha encomenda?", ["Cadê", "minha", "encomenda", "?"]),
        ("ru", "Где мой заказ?", ["Где", "мой", "заказ", "?"]),
        ("ar", "أين طلبي؟", ["أين", "طلبي", "؟"]),
        ("zh", "我的订单什么时候到", ["我", "的", "订单", "什么", "时候", "到"]),
        ("ja", "注文はいつ届きますか", ["注文", "は", "いつ", "届き", "ます", "か"]),
        ("ko", "주문이 언제 도착하나요?", ["주문이", "언제", "도착하나요", "?"]),
    ],
)
def test_words_per_language(tokenizers: Tokenizers, language: str, text: str, expected: list[str]) -> None:
    tokens = tokenizers.tokenize(text, language)
    assert [t.text for t in tokens] == expected
    for token in tokens:
        assert text[token.start : token.end] == token.text


def test_unknown_language_uses_the_default(tokenizers: Tokenizers) -> None:
    assert [t.text for t in tokenizers.tokenize("hello there", "xx")] == ["hello", "there"]
