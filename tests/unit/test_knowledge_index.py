"""Retrieval: the right entry for paraphrases, in every script."""

from __future__ import annotations

import pytest

from bot.knowledge.index import Index
from bot.knowledge.model import Entry, KnowledgeBase
from bot.tokenization import Tokenizers


def entry(entry_id: str, questions: dict[str, tuple[str, ...]], answers: dict[str, str]) -> Entry:
    return Entry(entry_id, "shipping", questions, answers)


@pytest.fixture(scope="module")
def index() -> Index:
    base = KnowledgeBase(
        {
            e.id: e
            for e in [
                entry(
                    "shipping-time",
                    {
                        "en": ("How long does shipping take?", "when will my parcel arrive"),
                        "es": ("¿Cuánto tarda el envío?",),
                        "zh": ("运送需要多长时间？", "多久能到"),
                        "ja": ("配送にはどのくらいかかりますか？",),
                        "ru": ("Сколько идёт доставка?",),
                    },
                    {
                        "en": "Delivery takes 7-14 business days.",
                        "es": "El envío tarda 7-14 días hábiles.",
                        "zh": "配送需要7-14个工作日。",
                        "ja": "お届けまで7〜14営業日です。",
                        "ru": "Доставка занимает 7-14 рабочих дней.",
                    },
                ),
                entry(
                    "returns-policy",
                    {
                        "en": ("What is your return policy?", "can I send it back"),
                        "es": ("¿Cuál es la política de devoluciones?",),
                        "zh": ("退货政策是什么？", "可以退货吗"),
                        "ja": ("返品ポリシーを教えてください",),
                        "ru": ("Какие условия возврата?",),
                    },
                    {
                        "en": "You can return items within 30 days.",
                        "es": "Puede devolver artículos en 30 días.",
                        "zh": "30天内可以退货。",
                        "ja": "30日以内に返品できます。",
                        "ru": "Вернуть товар можно в течение 30 дней.",
                    },
                ),
                entry(
                    "payment-methods",
                    {
                        "en": ("Which payment methods do you accept?", "can I pay with paypal"),
                        "es": ("¿Qué formas de pago aceptan?",),
                        "zh": ("可以用什么方式付款？",),
                        "ja": ("支払い方法は何がありますか",),
                        "ru": ("Как можно оплатить?",),
                    },
                    {
                        "en": "We accept cards and PayPal.",
                        "es": "Aceptamos tarjetas y PayPal.",
                        "zh": "我们接受银行卡和PayPal。",
                        "ja": "カードとPayPalがご利用いただけます。",
                        "ru": "Принимаем карты и PayPal.",
                    },
                ),
            ]
        }
    )
    return Index(base, Tokenizers())


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("how many days for delivery", "en", "shipping-time"),
        ("can i return my shoes", "en", "returns-policy"),
        ("paypal ok?", "en", "payment-methods"),
        ("cuanto tarda el envio a mexico", "es", "shipping-time"),
        ("devoluciones", "es", "returns-policy"),
        ("能退货吗", "zh", "returns-policy"),
        ("付款方式", "zh", "payment-methods"),
        ("返品できますか", "ja", "returns-policy"),
        ("доставка сколько дней", "ru", "shipping-time"),
        ("условия возврата товара", "ru", "returns-policy"),
    ],
)
def test_paraphrases_find_their_entry(index: Index, text: str, language: str, expected: str) -> None:
    matches = index.search(text, language)
    assert matches and matches[0].entry_id == expected, matches
    assert 0 < matches[0].confidence <= 1


def test_unrelated_text_matches_nothing_or_weakly(index: Index) -> None:
    matches = index.search("what's the weather in paris", "en")
    assert not matches or matches[0].confidence < 0.3


def test_languages_without_entries_give_nothing(index: Index) -> None:
    assert index.search("versand", "de") == []
    assert index.languages() == {"en", "es", "zh", "ja", "ru"}


def test_ranking_is_limited_and_ordered(index: Index) -> None:
    matches = index.search("return paypal delivery", "en", limit=2)
    assert len(matches) == 2
    assert matches[0].score >= matches[1].score


def test_a_reload_counts_terms_as_a_fresh_build_does(index: Index) -> None:
    """The document frequencies a reload carries over and updates (an entry edited,
    one removed, one added, one repeated) equal those of a build from nothing."""
    tokenizers = Tokenizers()
    old = index.term_cache
    base = KnowledgeBase(
        {
            "shipping-time": entry(
                "shipping-time",
                {"en": ("How long does delivery take?",), "ru": ("Сколько идёт доставка?",)},
                {"en": "Delivery takes 5-10 business days.", "ru": "Доставка занимает 7-14 рабочих дней."},
            ),
            "gift-cards": entry("gift-cards", {"en": ("Do you sell gift cards?",)}, {"en": "Yes."}),
            "gift-cards-2": entry("gift-cards-2", {"en": ("Do you sell gift cards?",)}, {"en": "Yes."}),
        }
    )
    reloaded = Index(base, tokenizers, previous=old)
    fresh = Index(base, tokenizers)
    assert reloaded._idf == fresh._idf
    assert reloaded._lengths == fresh._lengths
    assert reloaded.languages() == {"en", "ru"}
    for text, language in [("gift card", "en"), ("delivery days", "en"), ("доставка", "ru")]:
        assert reloaded.search(text, language) == fresh.search(text, language)
    again = Index(base, tokenizers, previous=reloaded.term_cache)
    assert again._idf == fresh._idf
