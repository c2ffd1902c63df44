"""The whole assistant, as `make run` starts it: Rasa server, action server, web service.

Chats over HTTP on 127.0.0.1 in every language, switches language mid-way,
and sends the inputs buyers get wrong. Replies are identified by looking them
up in the response catalogue, so each assertion names the response and the
language it must be in.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import Rating
from bot.languages import SUPPORTED_LANGUAGES
from bot.orders import demo
from bot.orders.tokens import sign
from bot.responses import Catalogue
from bot.service.hours import write_always_open
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.accounts import add_staff
from bot.supervisor import Supervisor, free_port
from bot.web.messages import conversation_key

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
ADMIN_TOKEN = "e2e-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STAFF_PASSWORD = "e2e staff password"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    knowledge_base = tmp_path_factory.mktemp("kb") / "knowledge_base"
    shutil.copytree(PROJECT_ROOT / "knowledge_base", knowledge_base)  # the tests edit it
    # Staff always there: tests must not depend on the clock.
    service_file = write_always_open(knowledge_base.parent / "service.yml")
    return Settings(
        web_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        store_name="Sol & Sea",
        support_email="help@solsea.test",
        var_dir=tmp_path_factory.mktemp("var"),
        knowledge_base_dir=knowledge_base,
        admin_token=ADMIN_TOKEN,
        rasa_token="e2e-rasa-api-token-0123456789",  # Rasa's HTTP API requires it
        service_file=service_file,
        # These scripted buyers, all on 127.0.0.1, write faster than people type; the
        # rate limits have their own tests (unit and browser).
        chat_burst=10_000,
        address_burst=10_000,
    )


@pytest.fixture(scope="module")
def assistant(settings: Settings) -> Iterator[Settings]:
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run `make train`")
    upgrade(settings.database_url)
    demo.load(Database(settings.database_url))  # customers and orders to track
    with Database(settings.database_url).session() as session:
        add_staff(session, "agent@shop.test", "Ann Agent", "agent", STAFF_PASSWORD, "en")
    supervisor = Supervisor(settings, RASA, Path(settings.var_dir) / "logs")
    try:
        supervisor.start(supervisor.plan(), timeout=420)
        yield settings
    finally:
        supervisor.stop()


@pytest.fixture(scope="module")
def known_texts(settings: Settings) -> dict[str, tuple[str, str]]:
    """Every text the assistant can say → (response name, language)."""
    catalogue = Catalogue.load(PROJECT_ROOT / "domain.yml", PROJECT_ROOT / "data" / "translations")
    values = {
        "store_name": settings.store_name,
        "support_email": settings.support_email,
        "max_length": settings.max_message_length,
    }
    texts = {}
    for name in catalogue.names():
        for language in SUPPORTED_LANGUAGES:
            variants, used = catalogue.variants(name, language)
            for variant in variants:
                texts[catalogue.render(name, used, values, rng=_Fixed(variant))["text"]] = (name, used)  # type: ignore[index]
    return texts


async def next_event(
    socket: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 10
) -> dict[str, Any]:
    """The next push of type ``kind`` (the buyer's socket also echoes the chat itself)."""
    while True:
        event = await socket.receive_json(timeout=timeout)
        if event["type"] == kind:
            return dict(event)


class _Fixed:
    """An rng whose choice is always the given variant (to render each variant)."""

    def __init__(self, variant: dict[str, Any]) -> None:
        self.variant = variant

    def choice(self, options: list[dict[str, Any]]) -> dict[str, Any]:
        return self.variant


class Chat:
    def __init__(
        self, settings: Settings, known: dict[str, tuple[str, str]], locale: str | None = None
    ) -> None:
        self.url = f"http://127.0.0.1:{settings.web_port}/api/chat"
        self.known = known
        self.conversation_id = uuid.uuid4().hex
        self.conversation_key = conversation_key(settings.conversation_secret, self.conversation_id)
        self.locale = locale

    def send(self, text: str | None = None, payload: str | None = None) -> requests.Response:
        body = {
            "conversation_id": self.conversation_id,
            "conversation_key": self.conversation_key,
            "locale": self.locale,
            "text": text,
            "payload": payload,
        }
        return requests.post(self.url, json={k: v for k, v in body.items() if v is not None}, timeout=60)

    def say(self, text: str | None = None, payload: str | None = None) -> list[tuple[str, str]]:
        response = self.send(text, payload)
        assert response.status_code == 200, response.text
        messages = response.json()["messages"]
        assert messages, f"no reply to {text or payload!r}"
        unknown = [m.get("text") for m in messages if m.get("text") not in self.known]
        assert not unknown, f"replies not in the catalogue: {unknown}"
        return [self.known[m["text"]] for m in messages]


GREETINGS = {
    "en": "hi there",
    "zh": "你好",
    "es": "hola buenas",
    "fr": "bonjour",
    "de": "hallo, guten Tag",
    "pt": "olá, bom dia",
    "ru": "привет",
    "ar": "مرحبا",
    "ja": "こんにちは",
    "ko": "안녕하세요",
}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_greeting_in_every_language(
    assistant: Settings, known_texts: dict[str, tuple[str, str]], language: str
) -> None:
    chat = Chat(assistant, known_texts)
    assert chat.say(GREETINGS[language]) == [("utter_greet", language)]


def test_spanish_conversation(assistant: Settings, known_texts: dict[str, tuple[str, str]]) -> None:
    chat = Chat(assistant, known_texts, locale="es-MX")
    assert chat.say("hola") == [("utter_greet", "es")]
    assert chat.say("donde esta mi pedido 10234?") == [("utter_ask_order_verification", "es")]
    assert chat.say("olvídalo") == [("utter_anything_else", "es")]
    assert chat.say("ok") == [("utter_how_can_help", "es")]  # short: stays Spanish
    assert chat.say("gracias") == [("utter_youre_welcome", "es")]
    assert chat.say("adios") == [("utter_goodbye", "es"), ("utter_ask_rating", "es")]


def test_switch_language_by_asking(assistant: Settings, known_texts: dict[str, tuple[str, str]]) -> None:
    chat = Chat(assistant, known_texts, locale="en-US")
    assert chat.say("hello") == [("utter_greet", "en")]
    assert chat.say("can we speak spanish?") == [("utter_language_changed", "es")]
    assert {language for _, language in chat.say("👍")} == {"es"}  # an emoji keeps the new language
    assert chat.say("muchas gracias") == [("utter_youre_welcome", "es")]


def test_switch_language_by_writing_in_it(
    assistant: Settings, known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, known_texts, locale="en-GB")
    assert chat.say("hi") == [("utter_greet", "en")]
    assert chat.say("bonjour, vous êtes un robot ?") == [("utter_iamabot", "fr")]
    assert chat.say("merci beaucoup") == [("utter_youre_welcome", "fr")]
    assert chat.say("ありがとうございます") == [("utter_youre_welcome", "ja")]


def test_two_misunderstandings_offer_a_person(
    assistant: Settings, known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, known_texts, locale="de-DE")
    assert chat.say("hallo") == [("utter_greet", "de")]
    first = chat.say("xqzv plmk")
    second = chat.say("blorft wugga")
    assert first == [("utter_default", "de")]
    assert second == [("utter_offer_human", "de")]
    accepted = texts(chat.send(payload="/affirm"))
    assert accepted == [
        "Ich habe jemanden aus unserem Team gebeten, diesem Chat beizutreten. In der Regel erhalten Sie "
        "innerhalb von 4 Stunden eine Antwort; Sie können hier gern weiterschreiben."
    ]  # utter_handoff_queued, with the standard tier's 4 hours in German


def test_bad_input_gets_sensible_replies(
    assistant: Settings, known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, known_texts, locale="fr-FR")
    assert chat.say("bonjour") == [("utter_greet", "fr")]
    assert chat.say("") == [("utter_empty_message", "fr")]
    assert chat.say("   \n\t ") == [("utter_empty_message", "fr")]
    assert chat.say("\x00\x07\x1b") == [("utter_empty_message", "fr")]
    # Emoji only and control characters: answered in the conversation's language.
    for text in ("👍👍🙏", "😀", "mer\x00ci\x07"):
        assert {language for _, language in chat.say(text)} == {"fr"}, text
    # Mixed scripts: answered, in one of the languages the buyer used.
    assert {language for _, language in chat.say("mon order 订单 10234 ???")} <= {"fr", "zh"}

    too_long = chat.send("a" * 10_000)
    assert too_long.status_code == 413
    error = too_long.json()["error"]
    assert error["code"] == "message_too_long"
    assert known_texts[error["detail"]][0] == "utter_message_too_long"


def test_parse_shows_the_language_entity(assistant: Settings) -> None:
    response = requests.post(
        f"http://127.0.0.1:{assistant.rasa_port}/model/parse",
        json={"text": "где мой заказ 10234"},
        params={"token": assistant.rasa_token},
        timeout=30,
    )
    entities = response.json()["entities"]
    assert {"entity": "language", "value": "ru"} in [{k: e[k] for k in ("entity", "value")} for e in entities]
    assert any(e["entity"] == "order_number" and e["value"] == "10234" for e in entities)


def test_health_sees_rasa(assistant: Settings) -> None:
    body = requests.get(f"http://127.0.0.1:{assistant.web_port}/health?deep=1", timeout=10).json()
    assert body == {"status": "ok", "rasa": "up"}


@pytest.fixture(scope="module")
def faq_answers(settings: Settings) -> dict[str, tuple[str, str]]:
    """Every knowledge-base answer as the assistant sends it → (entry id, language)."""
    from bot.knowledge.loader import load_directory
    from bot.responses import fill

    base, problems = load_directory(PROJECT_ROOT / "knowledge_base")
    assert not problems
    values = {**base.placeholders, "store_name": settings.store_name, "support_email": settings.support_email}
    return {
        fill(answer, values): (entry.id, language)
        for entry in base.entries.values()
        for language, answer in entry.answers.items()
    }


@pytest.mark.parametrize(
    ("locale", "question", "entry_prefix", "language"),
    [
        ("es-MX", "cuanto tarda el envio a mexico?", "shipping-", "es"),
        ("zh-CN", "你们的退货政策是什么？", "returns-", "zh"),
        ("ar-SA", "ما هي طرق الدفع المتاحة؟", "payment-", "ar"),
        ("en-US", "how long is the warranty on your earbuds?", "warranty-", "en"),
    ],
)
def test_store_questions_are_answered_from_the_knowledge_base(
    assistant: Settings,
    faq_answers: dict[str, tuple[str, str]],
    locale: str,
    question: str,
    entry_prefix: str,
    language: str,
) -> None:
    chat = Chat(assistant, faq_answers, locale=locale)
    response = chat.send(question)
    assert response.status_code == 200
    texts = [m.get("text") for m in response.json()["messages"]]
    answered = [faq_answers[t] for t in texts if t in faq_answers]
    assert answered, f"no knowledge-base answer to {question!r}: {texts}"
    entry_id, answer_language = answered[0]
    assert entry_id.startswith(entry_prefix)
    assert answer_language == language


def test_did_this_help_no_is_stored_and_listed_for_the_admin(
    assistant: Settings, faq_answers: dict[str, tuple[str, str]], known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, {**known_texts, **faq_answers}, locale="fr-FR")
    replies = chat.say("combien de temps prend la livraison en france ?")
    assert replies[-1] == ("utter_faq_did_it_help", "fr")
    assert replies[0][1] == "fr" and replies[0][0].startswith("shipping-")
    assert chat.say(payload="/deny") == [("utter_faq_not_helped", "fr")]
    assert chat.say("non merci") == [("utter_anything_else", "fr")]

    admin = f"http://127.0.0.1:{assistant.web_port}/api/admin/kb"
    report = requests.get(f"{admin}/unanswered?language=fr", headers=ADMIN, timeout=30).json()
    questions = [q for group in report["groups"] for q in group["questions"]]
    assert "combien de temps prend la livraison en france ?" in questions
    feedback = requests.get(f"{admin}/feedback", headers=ADMIN, timeout=30).json()["entries"]
    assert sum(f["not_helpful"] for f in feedback.values()) >= 1


def test_did_this_help_yes_in_arabic(
    assistant: Settings, faq_answers: dict[str, tuple[str, str]], known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, {**known_texts, **faq_answers}, locale="ar-EG")
    replies = chat.say("ما هي طرق الدفع المتاحة؟")
    assert replies[-1] == ("utter_faq_did_it_help", "ar")
    assert chat.say(payload="/affirm") == [("utter_faq_glad", "ar")]


def ask_until(chat: Chat, question: str, expected: str, seconds: float) -> float:
    """Ask ``question`` until a reply contains ``expected``; the seconds it took."""
    started = time.monotonic()
    while True:
        texts = [m.get("text") or "" for m in chat.send(question).json()["messages"]]
        if any(expected in t for t in texts):
            return time.monotonic() - started
        if time.monotonic() - started > seconds:
            raise AssertionError(f"{expected!r} not answered within {seconds} s: {texts}")
        time.sleep(0.1)


def test_an_entry_added_through_the_admin_api_is_answered_within_two_seconds(assistant: Settings) -> None:
    entry = {
        "id": "gift-cards",
        "topic": "payment",
        "questions": {
            "en": ["Do you sell gift cards?", "gift card"],
            "de": ["Gibt es Geschenkgutscheine?", "Kann ich einen Geschenkgutschein kaufen?"],
        },
        "answer": {
            "en": "Yes! Gift cards from 10 to 200 EUR.",
            "de": "Ja! Geschenkgutscheine von 10 bis 200 EUR.",
        },
    }
    admin = f"http://127.0.0.1:{assistant.web_port}/api/admin/kb"
    response = requests.post(f"{admin}/entries", json=entry, headers=ADMIN, timeout=30)
    assert response.status_code == 201, response.text
    question = "kann ich bei euch einen geschenkgutschein kaufen?"
    elapsed = ask_until(Chat(assistant, {}, locale="de-DE"), question, "Ja! Geschenk", 2.0)
    assert elapsed < 2.0

    # A broken edit on disk is rejected and the previous version keeps answering.
    path = assistant.knowledge_base_dir / "payment.yml"
    good = path.read_bytes()
    path.write_bytes(good.replace(b"entries:", b"entries: [", 1))
    try:
        time.sleep(1.0)
        ask_until(Chat(assistant, {}, locale="de-DE"), question, "Ja! Geschenk", 2.0)
        problems = requests.get(f"{admin}/problems", headers=ADMIN, timeout=30).json()["problems"]
        assert any(p["file"] == "payment.yml" for p in problems)
    finally:
        path.write_bytes(good)


def texts(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [m.get("text") or "" for m in response.json()["messages"]]


def test_an_anonymous_buyer_tracks_an_order_in_english(
    assistant: Settings, known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, known_texts, locale="en-US")
    assert chat.say("where is my order #10231?") == [("utter_ask_order_verification", "en")]
    reply = texts(chat.send("emily.carter@example.com"))
    assert (
        reply[0].startswith("Order 10231, placed on ") and "in transit" in reply[0] and "$58.90" in reply[0]
    )
    assert "DHL Express" in reply[1] and "JD014600003521" in reply[1] and "Cincinnati Hub, US" in reply[1]
    assert reply[2].startswith("Estimated delivery: ")


def test_an_identified_customer_chooses_an_order_in_chinese(assistant: Settings) -> None:
    token = sign("c-1005", "wang.fang@example.cn", int(time.time()) + 600, assistant.customer_token_secret)
    url = f"http://127.0.0.1:{assistant.web_port}/api/chat"
    conversation = uuid.uuid4().hex

    def send(text: str) -> list[dict[str, Any]]:
        body = {
            "conversation_id": conversation,
            "conversation_key": conversation_key(assistant.conversation_secret, conversation),
            "text": text,
            "locale": "zh-CN",
            "customer_token": token,
        }
        response = requests.post(url, json=body, timeout=60)
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])

    [choose] = send("我的订单到哪了？")
    payloads = [b["payload"] for b in choose["buttons"]]
    assert set(payloads) == {
        '/ask_order_status{"order_number": "10237"}',
        '/ask_order_status{"order_number": "10238"}',
    }
    reply = [m["text"] for m in send('/ask_order_status{"order_number": "10237"}')]
    assert "10237" in reply[0] and "SF Express" in reply[1] and "SF1234567890123" in reply[1]
    assert any("\u4e00" <= c <= "\u9fff" for c in reply[0])  # in Chinese
    # A long conversation: Rasa's NLG requests carry the whole, growing tracker.
    for _ in range(10):
        again = [m["text"] for m in send('/ask_order_status{"order_number": "10237"}')]
        assert "10237" in again[0]


def test_arabic_indic_digits_and_a_postcode_find_the_order(assistant: Settings) -> None:
    chat = Chat(assistant, {}, locale="ar-SA")
    first = texts(chat.send("وين طلبي رقم ١٠٢٤٠؟"))
    assert len(first) == 1
    reply = texts(chat.send("١١٥٦٤ حسن"))  # postcode in Arabic-Indic digits, and the surname
    assert "10240" in reply[0] and "Aramex" in reply[1]
    assert reply[-1] != reply[0]  # delivered: "did you receive it?" follows


def test_five_wrong_tries_lock_the_lookup(
    assistant: Settings, known_texts: dict[str, tuple[str, str]]
) -> None:
    chat = Chat(assistant, known_texts, locale="en-GB")
    chat.say("where is my order 10231")
    for attempt in range(5):
        reply = chat.say(f"nobody{attempt}@example.com")
        if attempt < 4:
            assert reply == [("utter_order_not_found", "en"), ("utter_ask_order_number", "en")]
            assert chat.say("10231") == [("utter_ask_order_verification", "en")]
    assert reply == [("utter_order_lookup_locked", "en")]
    assert chat.say("no thanks") == [("utter_anything_else", "en")]
    # Locked: even the right email is not looked up now.
    assert chat.say("where is my order 10231") == [("utter_ask_order_verification", "en")]
    assert chat.say("emily.carter@example.com") == [("utter_order_lookup_locked", "en")]


async def handoff(settings: Settings) -> None:
    """A buyer asks for a person; an agent claims, replies in the buyer's language and
    resolves; the bot takes over again and asks for a rating."""
    base = f"http://127.0.0.1:{settings.web_port}"
    conversation = uuid.uuid4().hex
    key = conversation_key(settings.conversation_secret, conversation)
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as buyer,
        aiohttp.ClientSession(
            timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True)
        ) as agent,  # 127.0.0.1 cookies
    ):

        async def say(text: str) -> dict[str, Any]:
            body = {"conversation_id": conversation, "conversation_key": key, "text": text, "locale": "fr-FR"}
            async with buyer.post(f"{base}/api/chat", json=body) as response:
                assert response.status == 200, await response.text()
                return dict(await response.json())

        buyer_socket = await buyer.ws_connect(f"{base}/ws/chat")  # ids travel in frames, not URLs
        await buyer_socket.send_json(
            {"type": "hello", "conversation_id": conversation, "conversation_key": key}
        )
        await next_event(buyer_socket, "history")
        reply = await say("je veux parler à une personne")
        texts = [m["text"] for m in reply["messages"]]
        assert any("personne de notre équipe" in t for t in texts), texts  # utter_handoff_queued in French

        async with agent.post(
            f"{base}/api/staff/login", json={"email": "agent@shop.test", "password": STAFF_PASSWORD}
        ) as response:
            csrf = (await response.json())["csrf_token"]
        headers = {"X-CSRF-Token": csrf}
        staff_socket = await agent.ws_connect(f"{base}/ws/staff")
        async with agent.get(f"{base}/api/staff/escalations") as response:
            queue = (await response.json())["escalations"]
        [mine] = [e for e in queue if e["conversation_id"] == conversation]
        assert mine["language"] == "fr" and mine["reason"] == "request_human"
        async with agent.post(
            f"{base}/api/staff/escalations/{mine['id']}/claim", headers=headers
        ) as response:
            assert response.status == 200
        joined = await next_event(buyer_socket, "person_joined")
        assert joined["type"] == "person_joined" and "Ann Agent" in joined["text"]

        reply = await say("mon colis est arrivé cassé")
        assert reply["with_person"] is True and reply["messages"] == []
        while (event := await staff_socket.receive_json(timeout=10))["type"] != "buyer_message":
            pass
        assert event["text"] == "mon colis est arrivé cassé"

        url = f"{base}/api/staff/escalations/{mine['id']}"
        async with agent.post(f"{url}/reply", json={"canned": "greeting"}, headers=headers) as response:
            assert response.status == 200
        staff_message = await next_event(buyer_socket, "staff_message")
        assert staff_message["type"] == "staff_message" and "Ann Agent" in staff_message["text"]
        assert "équipe" in staff_message["text"]  # the canned reply in the buyer's language

        async with agent.post(f"{url}/resolve", headers=headers) as response:
            assert response.status == 200
        rating_question = await next_event(buyer_socket, "bot_message", timeout=30)
        assert rating_question["type"] == "bot_message" and len(rating_question["buttons"]) == 5
        reply = await say('/give_rating{"rating": "5"}')
        assert reply["with_person"] is False and len(reply["messages"][0]["buttons"]) == 2  # add a comment?
        await say("/affirm")
        reply = await say("Très rapide, merci à Ann !")
        assert reply["messages"], "no thanks for the comment"
        async with agent.post(f"{url}/reply", json={"text": "late"}, headers=headers) as response:
            assert response.status == 409  # resolved: replies are refused
        await buyer_socket.close()
        await staff_socket.close()

    with Database(settings.database_url).session() as session:
        [rating] = session.scalars(select(Rating).where(Rating.conversation_id == conversation)).all()
        assert (rating.stars, rating.language, rating.staff_id is not None) == (5, "fr", True)
        assert rating.comment == "Très rapide, merci à Ann !"


def test_handoff_to_a_person_and_back_with_a_rating(assistant: Settings) -> None:
    asyncio.run(handoff(assistant))
