"""The language detector on what buyers really send: short, mixed, ambiguous."""

from __future__ import annotations

import pytest

from bot.language_detection import (
    CLOSE_NEIGHBOURS,
    CLOSE_SWITCH_MARGIN,
    SWITCH_MARGIN,
    LanguageDetector,
    Lexicon,
)
from bot.languages import SUPPORTED_LANGUAGES
from bot.settings import PROJECT_ROOT
from bot.training_data import nlu_examples


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    """The detector as the Rasa component trains it: with a lexicon from our NLU data."""
    examples = nlu_examples(PROJECT_ROOT / "data" / "nlu")
    return LanguageDetector(lexicon=Lexicon.learn((text, lang) for text, _, lang in examples))


@pytest.mark.parametrize(
    "text", ["ok", "OK", "👍", "👍🙏", "A12345", "#10234", "/affirm", "", "   ", "...", "12345"]
)
@pytest.mark.parametrize("prior", ["fr", "ja", "ar"])
def test_text_without_language_keeps_the_conversation_language(
    detector: LanguageDetector, text: str, prior: str
) -> None:
    detection = detector.detect(text, conversation_language=prior)
    assert detection.language == prior
    assert detection.method == "prior"


def test_browser_locale_is_the_prior_when_the_conversation_has_none(detector: LanguageDetector) -> None:
    assert detector.detect("ok", locale_language="de").language == "de"
    assert detector.detect("ok", conversation_language="es", locale_language="de").language == "es"


def test_store_default_when_nothing_is_known(detector: LanguageDetector) -> None:
    assert detector.detect("👍").language == "en"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我的订单到哪里了", "zh"),
        ("退款", "zh"),
        ("注文はどこですか", "ja"),
        ("ありがとう", "ja"),
        ("発送", "ja"),  # kanji only, but a form only Japanese writes
        ("주문 어디에 있어요", "ko"),
        ("감사", "ko"),
        ("أين طلبي", "ar"),
        ("شكرا", "ar"),
        ("где мой заказ", "ru"),
        ("спасибо", "ru"),
    ],
)
def test_decisive_scripts(detector: LanguageDetector, text: str, language: str) -> None:
    detection = detector.detect(text, conversation_language="en")
    assert detection.language == language
    assert detection.method == "script"


def test_kanji_only_message_follows_a_japanese_conversation(detector: LanguageDetector) -> None:
    assert detector.detect("注文番号", conversation_language="ja").language == "ja"
    assert detector.detect("注文番号", conversation_language="en").language == "zh"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("where is my order please", "en"),
        ("¿dónde está mi pedido?", "es"),
        ("donde esta mi pedido", "es"),
        ("où est ma commande s'il vous plaît", "fr"),
        ("wo ist meine Bestellung", "de"),
        ("cadê minha encomenda, não chegou", "pt"),
    ],
)
def test_latin_sentences(detector: LanguageDetector, text: str, language: str) -> None:
    assert detector.detect(text).language == language


@pytest.mark.parametrize(("text", "prior"), [("si", "es"), ("ok merci", "fr"), ("ja", "de"), ("no", "pt")])
def test_short_ambiguous_words_keep_the_conversation_language(
    detector: LanguageDetector, text: str, prior: str
) -> None:
    assert detector.detect(text, conversation_language=prior).language == prior


@pytest.mark.parametrize(
    ("text", "prior", "switched_to"),
    [
        ("hola, ¿me puedes ayudar con mi pedido?", "en", "es"),
        ("bonjour, je cherche ma commande", "en", "fr"),
        ("hello, can you help me with my order?", "de", "en"),
        ("你好，我想问一下", "en", "zh"),
        ("こんにちは、注文について", "zh", "ja"),
    ],
)
def test_a_few_words_in_another_language_switch(
    detector: LanguageDetector, text: str, prior: str, switched_to: str
) -> None:
    assert detector.detect(text, conversation_language=prior).language == switched_to


@pytest.mark.parametrize(
    ("text", "language"),
    [("我的order 10234在哪", "zh"), ("mi order no llega todavia", "es"), ("주문 status 알려주세요", "ko")],
)
def test_mixed_script_and_code_mixing(detector: LanguageDetector, text: str, language: str) -> None:
    assert detector.detect(text).language == language


def test_only_supported_languages_are_answered(detector: LanguageDetector) -> None:
    # Italian and Dutch are not supported: the answer is still one of ours.
    for text in ("dov'è il mio ordine", "waar is mijn bestelling"):
        assert detector.detect(text).language in {"en", "es", "fr", "de", "pt"}


def test_detection_is_deterministic() -> None:
    texts = ["gracias", "merci", "obrigado", "danke", "thanks", "ciao bella"]
    first = [LanguageDetector().detect(t) for t in texts]
    second = [LanguageDetector().detect(t) for t in texts]
    assert first == second


def test_lexicon_round_trips_through_json(detector: LanguageDetector) -> None:
    import json

    data = json.loads(json.dumps(detector.lexicon.to_dict()))
    assert Lexicon.from_dict(data) == detector.lexicon


@pytest.mark.parametrize(
    ("text", "language"),
    [("kitchen", "en"), ("beautiful", "en"), ("janela", "pt"), ("sapatos", "pt")],
)
def test_single_latin_words_and_pairs(detector: LanguageDetector, text: str, language: str) -> None:
    # langdetect's profiles alone read these as de, fr, fr and es.
    assert detector.detect(text).language == language


@pytest.mark.parametrize(
    ("text", "language"), [("購入", "ja"), ("新鮮", "ja"), ("順番", "ja"), ("购买", "zh"), ("新鲜", "zh")]
)
def test_han_only_words_by_national_character_set(
    detector: LanguageDetector, text: str, language: str
) -> None:
    # 購, 鮮, 順 exist in Japanese (JIS X 0208) but not in Simplified Chinese (GB 2312).
    assert detector.detect(text).language == language


@pytest.mark.parametrize(
    ("text", "prior"), [("cuisine", "en"), ("super rapide", "fr"), ("hier", "fr"), ("pasta", "pt")]
)
def test_one_or_two_words_never_flip_the_conversation(
    detector: LanguageDetector, text: str, prior: str
) -> None:
    assert detector.detect(text, conversation_language=prior).language == prior


def test_without_lingua_the_detector_still_answers(detector: LanguageDetector) -> None:
    # The app env may lack lingua: detection falls back to langdetect's profiles.
    fallback = LanguageDetector(lexicon=detector.lexicon)
    fallback._lingua_loaded = True  # as if the import had failed
    assert fallback.lingua() is None
    assert fallback.detect("where is my order please").language == "en"
    assert fallback.detect("wo ist meine Bestellung").language == "de"


# The switch rule (issue 12: in a conversation, one short message never flips the
# language). Each case below flipped the conversation before the rule.
@pytest.mark.parametrize(
    ("text", "conversation"),
    [
        ("toca musica romantica", "pt"),  # read as Spanish
        ("pedir comida japonesa", "pt"),  # read as Spanish
        ("cancela meu spotify premium", "pt"),  # read as English
        ("sentido contrario", "pt"),  # read as Spanish
        ("reserva una mesa para dos", "es"),  # read as Portuguese
        ("regarde la meteo demain", "fr"),  # read as English
        ("danke schön", "fr"),  # one German thank-you in a French chat
        ("gracias", "en"),  # the same in an English chat
    ],
)
def test_one_short_message_never_flips_the_conversation(
    detector: LanguageDetector, text: str, conversation: str
) -> None:
    detection = detector.detect(text, conversation_language=conversation)
    assert (detection.language, detection.method) == (conversation, "prior")


@pytest.mark.parametrize("text", ["rpg", "nhk", "iphone case", "amazon prime"])
def test_a_latin_word_in_a_japanese_chat_keeps_it(detector: LanguageDetector, text: str) -> None:
    # An acronym or a brand is not a change of script; a sentence is (below).
    assert detector.detect(text, conversation_language="ja").language == "ja"


@pytest.mark.parametrize(
    ("text", "conversation", "switched_to"),
    [
        ("bonjour, je voudrais savoir où en est ma commande", "en", "fr"),
        ("ich möchte wissen, wo meine Bestellung gerade ist", "en", "de"),
        ("hello, can you help me with my order?", "ja", "en"),
        # Close neighbours need more, and get it from a whole sentence:
        ("quiero saber donde esta mi pedido por favor", "pt", "es"),
        ("olá, onde está a minha encomenda? ainda não chegou", "es", "pt"),
        ("je veux annuler ma commande s'il vous plaît", "es", "fr"),
    ],
)
def test_a_whole_sentence_in_another_language_switches(
    detector: LanguageDetector, text: str, conversation: str, switched_to: str
) -> None:
    detection = detector.detect(text, conversation_language=conversation)
    assert (detection.language, detection.method) == (switched_to, "statistics")


def test_close_neighbours_need_a_larger_margin() -> None:
    assert frozenset(("es", "pt")) in CLOSE_NEIGHBOURS
    assert CLOSE_SWITCH_MARGIN > SWITCH_MARGIN


def test_the_browser_locale_alone_lets_a_first_message_choose(detector: LanguageDetector) -> None:
    # No conversation yet: a Spanish speaker with an English browser is answered in Spanish.
    assert detector.detect("gracias", locale_language="en").language == "es"
    assert detector.detect("gracias", conversation_language="en", locale_language="en").language == "en"


def test_no_dev_off_topic_message_flips_its_own_conversation(detector: LanguageDetector) -> None:
    """The dev off-topic set (bench/data/dev/offtopic, tuned on): every message, sent
    in a conversation already in its language, keeps that language."""
    import yaml

    flipped = []
    for language in SUPPORTED_LANGUAGES:
        path = PROJECT_ROOT / "bench" / "data" / "dev" / "offtopic" / f"{language}.yml"
        domains = yaml.safe_load(path.read_text("utf-8"))["domains"]
        for text in (str(t) for texts in domains.values() for t in texts):
            found = detector.detect(text, conversation_language=language).language
            if found != language:
                flipped.append((language, text, found))
    assert flipped == []
