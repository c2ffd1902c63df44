"""Order tracking through the actions, against the demo data in a real database."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import event, func, select
from trackers import tracker, user

import actions.dependencies as dependencies
from actions.orders import (
    ActionOrderChange,
    ActionOrderDeliveryAnswer,
    ActionTrackOrder,
    ValidateOrderTrackingForm,
)
from bot.db.database import Database, upgrade
from bot.db.models import LookupAttempt
from bot.orders import demo
from bot.orders.lockout import MAX_FAILED_LOOKUPS
from bot.orders.queries import find_order

ANA = {"customer": {"id": "c-1002", "email": "ana.garcia@example.com"}, "client_address": "10.0.0.2"}
EMILY = {"customer": {"id": "c-1001", "email": "emily.carter@example.com"}, "client_address": "10.0.0.1"}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, knowledge_base: Path) -> Iterator[None]:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    upgrade(url)
    demo.load(Database(url))
    monkeypatch.setenv("DATABASE_URL", url)
    dependencies.settings.cache_clear()
    dependencies.database.cache_clear()
    yield
    dependencies.database.cache_clear()


def said(dispatcher: CollectingDispatcher) -> list[str]:
    return [m.get("response") or m.get("text") or "" for m in dispatcher.messages]


def message(dispatcher: CollectingDispatcher, response: str) -> dict[str, Any]:
    return next(m for m in dispatcher.messages if m.get("response") == response)


async def track(slots: dict[str, Any], metadata: dict[str, Any] | None = None, language: str = "en") -> Any:
    dispatcher = CollectingDispatcher()
    events = [user("where is my order", "ask_order_status", metadata=metadata)]
    result = await ActionTrackOrder().run(dispatcher, tracker(events, {"language": language, **slots}), {})
    return dispatcher, result


async def verify(number: str, proof: str, sender: str = "test", address: str = "10.9.9.9") -> Any:
    dispatcher = CollectingDispatcher()
    events = [user(proof, "inform", metadata={"client_address": address})]
    t = tracker(events, {"order_number": number}, sender_id=sender)
    result = await ValidateOrderTrackingForm().validate_order_verification(proof, dispatcher, t, {})
    return dispatcher, result


async def test_anonymous_buyer_with_number_and_email_sees_the_order(shop: None) -> None:
    _, result = await verify("10231", "Emily.Carter@example.com ")
    assert result == {"order_verification": "Emily.Carter@example.com"}
    dispatcher, events = await track(
        {"order_number": "10231", "order_verification": "emily.carter@example.com"}
    )
    assert said(dispatcher) == ["utter_order_status", "utter_order_shipment", "utter_order_eta"]
    status = message(dispatcher, "utter_order_status")
    assert (status["order_number"], status["status"], status["total"]) == ("10231", "in transit", "$58.90")
    shipment = message(dispatcher, "utter_order_shipment")
    assert (shipment["carrier"], shipment["tracking_number"]) == ("DHL Express", "JD014600003521")
    assert shipment["checkpoint_place"] == "Cincinnati Hub, US"
    assert SlotSet("order_verification", None) in events  # the proof is not kept


async def test_a_postcode_alone_is_no_proof(shop: None) -> None:
    """Order numbers are sequential and postcodes public: 10235 plus Paris's 75011 used
    to open Camille's order. Now it gets exactly what a missing order gets."""
    postcode_only, result_1 = await verify("10235", "75011", sender="a")
    no_order, result_2 = await verify("99999", "75011", sender="b")
    assert said(postcode_only) == said(no_order) == ["utter_order_not_found"]
    assert result_1 == result_2 == {"order_verification": None, "order_number": None}
    dispatcher, _ = await track({"order_number": "10235", "order_verification": "75011"})
    assert said(dispatcher) == ["utter_order_not_found"]  # nor when the slot is set directly


@pytest.mark.parametrize(
    ("number", "proof"),
    [
        ("10235", "75011 Dubois"),
        ("10235", "dubois, 75 011"),
        ("10235", "75011 DUBOIS"),
        ("10235", "camille.dubois@example.fr"),
        ("10233", "06600 Garcia"),  # without the accent of "García"
        ("10240", "١١٥٦٤ حسن"),  # Arabic-Indic digits
    ],
)
async def test_the_postcode_and_surname_or_the_email_prove_it(shop: None, number: str, proof: str) -> None:
    _, result = await verify(number, proof)
    assert result == {"order_verification": proof}
    dispatcher, _ = await track({"order_number": number, "order_verification": proof})
    assert message(dispatcher, "utter_order_status")["order_number"] == number


@pytest.mark.parametrize("proof", ["75011 Camille", "75011 D", "75012 Dubois", "Dubois"])
async def test_a_first_name_a_letter_or_a_wrong_postcode_is_no_proof(shop: None, proof: str) -> None:
    dispatcher, result = await verify("10235", proof)
    assert said(dispatcher) == ["utter_order_not_found"] and result["order_verification"] is None


async def test_no_such_order_and_wrong_email_get_the_same_answer(shop: None) -> None:
    wrong_email, result_1 = await verify("10231", "someone@else.com", sender="a")
    no_order, result_2 = await verify("99999", "emily.carter@example.com", sender="b")
    assert said(wrong_email) == said(no_order) == ["utter_order_not_found"]
    assert result_1 == result_2 == {"order_verification": None, "order_number": None}


async def test_five_failures_lock_the_lookup_even_with_the_right_email(shop: None) -> None:
    for _ in range(MAX_FAILED_LOOKUPS):
        await verify("10231", "wrong@example.com", sender="mallory")
    _, result = await verify("10231", "emily.carter@example.com", sender="mallory")
    assert result["order_lookup_locked"] is True
    dispatcher, events = await track({"order_lookup_locked": True})
    assert said(dispatcher) == ["utter_order_lookup_locked"]
    assert SlotSet("human_offered", True) in events


async def test_the_lockout_also_counts_per_client_address(shop: None) -> None:
    for attempt in range(MAX_FAILED_LOOKUPS):
        await verify("10231", "wrong@example.com", sender=f"new-conversation-{attempt}", address="10.6.6.6")
    _, result = await verify("10231", "emily.carter@example.com", sender="yet-another", address="10.6.6.6")
    assert result.get("order_lookup_locked") is True
    _, elsewhere = await verify("10231", "emily.carter@example.com", sender="other", address="10.7.7.7")
    assert elsewhere == {"order_verification": "emily.carter@example.com"}


async def test_an_identified_customer_chooses_among_their_orders(shop: None) -> None:
    dispatcher, _ = await track({}, metadata=ANA, language="es")
    [choose] = dispatcher.messages
    assert choose["response"] == "utter_order_choose"
    payloads = [b["payload"] for b in choose["buttons"]]
    assert sorted(payloads) == [
        '/ask_order_status{"order_number": "10233"}',
        '/ask_order_status{"order_number": "10234"}',
    ]
    assert "·" in choose["buttons"][0]["title"]


async def test_an_identified_customer_needs_no_proof_for_their_own_order(shop: None) -> None:
    form = ValidateOrderTrackingForm()
    t = tracker([user("x", "ask_order_status", metadata=ANA)], {"order_number": "10233"})
    assert (
        await form.required_slots(["order_number", "order_verification"], CollectingDispatcher(), t, {}) == []
    )
    other = tracker([user("x", "ask_order_status", metadata=ANA)], {"order_number": "10231"})
    slots = await form.required_slots(
        ["order_number", "order_verification"], CollectingDispatcher(), other, {}
    )
    assert slots == ["order_number", "order_verification"]  # someone else's order: prove it
    dispatcher, _ = await track({"order_number": "10233"}, metadata=ANA, language="es")
    status = message(dispatcher, "utter_order_status")
    assert (status["order_number"], status["status"]) == ("10233", "en reparto")
    assert "88,90" in status["total"]  # Spanish number format


async def test_a_token_for_an_unknown_customer_is_anonymous(shop: None) -> None:
    ghost = {"customer": {"id": "c-9999", "email": "ghost@example.com"}}
    t = tracker([user("x", "ask_order_status", metadata=ghost)], {})
    slots = await ValidateOrderTrackingForm().required_slots(
        ["order_number", "order_verification"], CollectingDispatcher(), t, {}
    )
    assert slots == ["order_number", "order_verification"]


async def test_delivered_asks_if_received_and_delayed_offers_a_person(shop: None) -> None:
    dispatcher, events = await track({"order_number": "10232"}, metadata=EMILY)
    assert said(dispatcher)[-1] == "utter_order_ask_received"
    assert SlotSet("delivery_check_asked", True) in events
    delayed = {"customer": {"id": "c-1004", "email": "jonas.weber@example.de"}}
    dispatcher, events = await track({}, metadata=delayed, language="de")
    assert said(dispatcher)[-1] == "utter_order_delayed"
    assert SlotSet("human_offered", True) in events


async def test_not_received_opens_an_escalation(shop: None) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker([user("no", "deny")], {"delivery_check_asked": True})
    events = await ActionOrderDeliveryAnswer().run(dispatcher, t, {})
    assert said(dispatcher) == ["utter_order_not_received", "utter_handoff_queued"]
    assert SlotSet("delivery_check_asked", False) in events


async def test_not_yet_shipped(shop: None) -> None:
    dispatcher, _ = await track({"order_number": "10234"}, metadata=ANA)
    assert said(dispatcher) == ["utter_order_status", "utter_order_not_shipped"]


async def test_an_invalid_order_number_is_refused(shop: None) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateOrderTrackingForm().validate_order_number("hello", dispatcher, tracker([], {}), {})
    assert result == {"order_number": None} and said(dispatcher) == ["utter_order_number_invalid"]
    ok = ValidateOrderTrackingForm().validate_order_number(
        "#１０ ２３４", CollectingDispatcher(), tracker([], {}), {}
    )
    assert ok == {"order_number": "10234"}


async def test_an_order_change_gets_the_policy_and_a_person(shop: None) -> None:
    dispatcher = CollectingDispatcher()
    t = tracker([user("I want to return my order, can I send an item back", "request_order_change")], {})
    await ActionOrderChange().run(dispatcher, t, {})
    assert said(dispatcher) == [
        "You can return items within 30 days.",
        "utter_order_change_handoff",
        "utter_handoff_queued",
    ]


async def test_checkpoint_times_are_shown_in_the_buyers_time_zone(shop: None) -> None:
    """The widget sends the browser's zone with every message; the card used to show UTC."""
    with dependencies.database().session() as session:
        order = find_order(session, "10232")
        assert order is not None
        scanned = order.shipments[-1].checkpoints[-1].happened_at
    tokyo = scanned.astimezone(ZoneInfo("Asia/Tokyo"))
    dispatcher, _ = await track({"order_number": "10232"}, metadata={**EMILY, "time_zone": "Asia/Tokyo"})
    shown = message(dispatcher, "utter_order_shipment")["checkpoint_time"]
    assert f"{tokyo.hour % 12 or 12}:{tokyo.minute:02d}:{tokyo.second:02d}" in shown
    assert "UTC" not in shown
    dispatcher, _ = await track({"order_number": "10232"}, metadata=EMILY)  # no zone known
    shown = message(dispatcher, "utter_order_shipment")["checkpoint_time"]
    utc = scanned.astimezone(timezone.utc)
    assert shown.endswith(" UTC") and f"{utc.hour % 12 or 12}:{utc.minute:02d}:{utc.second:02d}" in shown


async def test_a_lookup_compares_the_proof_once_and_is_recorded_once(shop: None) -> None:
    """The form checks the proof; the action that shows the order afterwards relies on the
    recorded lookup instead of comparing the proof again."""
    proof_queries: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "orders.shipping_postcode" in statement and "customers.name" in statement:
            proof_queries.append(statement)

    engine = dependencies.database().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        _, result = await verify("10235", "75011 Dubois")
        dispatcher, _ = await track({"order_number": "10235", "order_verification": "75011 Dubois"})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result == {"order_verification": "75011 Dubois"}
    assert message(dispatcher, "utter_order_status")["order_number"] == "10235"
    assert len(proof_queries) == 1
    with dependencies.database().session() as session:
        assert session.scalar(select(func.count()).select_from(LookupAttempt)) == 1


async def test_the_order_actions_never_query_on_the_event_loop(
    shop: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blocking query on the action server's loop stalls every other conversation."""
    on_loop: list[str] = []
    open_session = Database.session

    def guarded(self: Database) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(traceback.format_stack(limit=4)[0])
        except RuntimeError:
            pass  # a worker thread: fine
        return open_session(self)

    monkeypatch.setattr(Database, "session", guarded)
    form = ValidateOrderTrackingForm()
    slots = ["order_number", "order_verification"]
    for metadata in (ANA, EMILY, {}):
        t = tracker([user("x", "ask_order_status", metadata=metadata)], {"order_number": "10233"})
        await form.required_slots(slots, CollectingDispatcher(), t, {})
    await verify("10231", "emily.carter@example.com")
    await verify("10231", "wrong@example.com", sender="other")
    await track({"order_number": "10231", "order_verification": "emily.carter@example.com"})
    await track({}, metadata=ANA)
    await track({"order_number": "10233"}, metadata=ANA)
    await track({"order_number": "99999", "order_verification": "x@y.z"})
    await ActionOrderDeliveryAnswer().run(CollectingDispatcher(), tracker([user("no", "deny")], {}), {})
    assert on_loop == []


async def test_a_proof_opens_the_order_only_in_its_own_conversation(shop: None) -> None:
    """The action shows what this conversation's recorded lookup proved, never another's."""
    _, result = await verify("10231", "emily.carter@example.com", sender="emily")
    assert result == {"order_verification": "emily.carter@example.com"}
    dispatcher, _ = await track({"order_number": "10231", "order_verification": "emily.carter@example.com"})
    assert said(dispatcher) == ["utter_order_not_found"]  # conversation "test" proved nothing
