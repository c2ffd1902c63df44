"""Buyers cannot send payloads the bot did not offer, nor rate more than they were asked.

The whole assistant (Rasa, action server, web service) from models/current.tar.gz.
A buyer typed ``/conversation_resolved`` (staff-only) and got the rating prompt;
after one resolved chat six 1-star ratings were stored against the last agent;
a rating payload nobody asked for was stored too.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from bot.db.database import Database, upgrade
from bot.db.models import Escalation, Rating, StaffMember
from bot.orders import demo
from bot.service.hours import write_always_open
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.accounts import add_staff
from bot.supervisor import Supervisor, free_port

RASA = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
PASSWORD = "e2e staff password"
ONE_STAR = '/give_rating{"rating": "1"}'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    var = tmp_path_factory.mktemp("var")
    settings = Settings(
        web_port=free_port(),
        rasa_port=free_port(),
        action_port=free_port(),
        var_dir=var,
        service_file=write_always_open(var / "service.yml"),  # a person is always there
        chat_burst=1000,
        address_burst=1000,
    )
    if not settings.model_path.exists():
        pytest.fail(f"no trained model at {settings.model_path}: run `make train`")
    upgrade(settings.database_url)
    demo.load(Database(settings.database_url))
    with Database(settings.database_url).session() as session:
        add_staff(session, "ann@shop.test", "Ann Agent", "agent", PASSWORD, "fr en")
    supervisor = Supervisor(settings, RASA, Path(settings.var_dir) / "logs")
    try:
        supervisor.start(supervisor.plan(), timeout=420)
        yield supervisor.settings
    finally:
        supervisor.stop()


class Buyer:
    def __init__(self, settings: Settings) -> None:
        self.url = f"http://127.0.0.1:{settings.web_port}/api/chat"
        self.ids: dict[str, str] = {}

    def send(self, text: str | None = None, payload: str | None = None) -> list[dict[str, Any]]:
        if not self.ids:  # issued on its own, before the first message
            issued = requests.post(f"{self.url}/start", json={}, timeout=90)
            assert issued.status_code == 200, issued.text
            self.ids = {k: issued.json()[k] for k in ("conversation_id", "conversation_key")}
        body: dict[str, Any] = {**self.ids, "client_msg_id": uuid.uuid4().hex, "locale": "fr-FR"}
        body.update({"text": text} if payload is None else {"payload": payload, "shown": "★"})
        response = requests.post(self.url, json=body, timeout=90)
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])


def asks_for_rating(messages: list[dict[str, Any]]) -> bool:
    return any(
        str(b.get("payload", "")).startswith("/give_rating") for m in messages for b in m.get("buttons") or []
    )


def intents_in_tracker(settings: Settings, conversation_id: str) -> list[str]:
    with sqlite3.connect(settings.rasa_tracker_db) as tracker:
        rows = tracker.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (conversation_id,)
        ).fetchall()
    return [json.loads(data)["parse_data"]["intent"]["name"] for (data,) in rows]


def ratings(settings: Settings, conversation_id: str) -> list[Rating]:
    with Database(settings.database_url).session() as session:
        return list(session.scalars(select(Rating).where(Rating.conversation_id == conversation_id)))


def test_a_buyer_typing_the_staff_only_intent_resolves_nothing(stack: Settings) -> None:
    buyer = Buyer(stack)
    buyer.send("je veux parler à une personne")
    for attempt in ("/conversation_resolved", " /conversation_resolved"):
        replies = buyer.send(attempt)
        assert not asks_for_rating(replies), replies
        replies = buyer.send(payload=attempt)
        assert not asks_for_rating(replies), replies
    conversation = buyer.ids["conversation_id"]
    assert "conversation_resolved" not in intents_in_tracker(stack, conversation)
    with Database(stack.database_url).session() as session:
        [escalation] = session.scalars(select(Escalation).where(Escalation.conversation_id == conversation))
        assert escalation.status == "queued"  # still waiting for a person


def test_one_rating_per_request_for_the_agent_who_resolved(stack: Settings) -> None:
    buyer = Buyer(stack)
    buyer.send("je veux parler à une personne")
    conversation = buyer.ids["conversation_id"]
    base = f"http://127.0.0.1:{stack.web_port}"
    agent = requests.Session()
    signed_in = agent.post(f"{base}/api/staff/login", json={"email": "ann@shop.test", "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    headers = {"X-CSRF-Token": signed_in.json()["csrf_token"]}
    queue = agent.get(f"{base}/api/staff/escalations").json()["escalations"]
    [mine] = [e for e in queue if e["conversation_id"] == conversation]
    url = f"{base}/api/staff/escalations/{mine['id']}"
    assert agent.post(f"{url}/claim", headers=headers).status_code == 200
    assert agent.post(f"{url}/reply", json={"text": "Bonjour !"}, headers=headers).status_code == 200
    assert agent.post(f"{url}/resolve", headers=headers).status_code == 200  # the bot asks for stars

    for _ in range(3):
        buyer.send(payload=ONE_STAR)
        buyer.send(ONE_STAR)
    with Database(stack.database_url).session() as session:
        ann = session.scalars(select(StaffMember.id).where(StaffMember.email == "ann@shop.test")).one()
    assert [(r.stars, r.staff_id) for r in ratings(stack, conversation)] == [(1, ann)]


def test_a_rating_nobody_asked_for_is_not_stored(stack: Settings) -> None:
    buyer = Buyer(stack)
    buyer.send("bonjour")
    buyer.send(payload=ONE_STAR)
    buyer.send("je vous donne 1 étoile")
    assert ratings(stack, buyer.ids["conversation_id"]) == []


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("text") or "") for m in messages]


def test_a_postcode_alone_opens_no_order(stack: Settings) -> None:
    """Order 10235 and Paris's 75011 used to give Camille's status and tracking number."""
    guessed, missing = Buyer(stack), Buyer(stack)
    guessed.send("où est ma commande 10235 ?")
    missing.send("où est ma commande 99999 ?")
    postcode_only = texts(guessed.send("75011"))
    no_order = texts(missing.send("75011"))
    assert postcode_only == no_order and not any("10235" in t for t in postcode_only)
    guessed.send("10235")
    found = texts(guessed.send("75011 Dubois"))
    assert "10235" in found[0]
    by_email = Buyer(stack)
    by_email.send("où est ma commande 10235 ?")
    assert "10235" in texts(by_email.send("camille.dubois@example.fr"))[0]
    arabic = Buyer(stack)
    arabic.send("وين طلبي رقم ١٠٢٤٠؟")
    assert "10240" in texts(arabic.send("١١٥٦٤ حسن"))[0]  # Arabic-Indic digits and the surname
