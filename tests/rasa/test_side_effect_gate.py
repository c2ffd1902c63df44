"""The side-effect gate: an unsure order lookup, hand-over or rating becomes out_of_scope."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.side_effect_gate import SideEffectGate


def parsed(
    text: str, ranking: list[tuple[str, float]], entities: list[dict[str, Any]] | None = None
) -> Message:
    message = Message.build(text)
    ranked = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    message.set(INTENT, ranked[0], add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranked, add_to_output=True)
    message.set(ENTITIES, entities or [], add_to_output=True)
    return message


def run(gate: SideEffectGate, message: Message) -> str:
    return str(gate.process([message])[0].get(INTENT)["name"])


def test_unsure_side_effect_intents_become_out_of_scope(
    model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    gate = SideEffectGate.create({}, model_storage, Resource("gate"), execution_context)
    # "track my uber": an order lookup, but not a sure one.
    assert (
        run(gate, parsed("track my uber", [("ask_order_status", 0.55), ("out_of_scope", 0.3)]))
        == "out_of_scope"
    )
    # Sure, but off-topic is close behind: no hand-over.
    assert (
        run(gate, parsed("call my brother", [("request_human", 0.62), ("out_of_scope", 0.35)]))
        == "out_of_scope"
    )
    assert run(gate, parsed("rate this song", [("give_rating", 0.5), ("affirm", 0.2)])) == "out_of_scope"
    # A rant about something else reads as a complaint at 0.7-0.8: no apology, no person.
    assert (
        run(gate, parsed("the referee ruined the match", [("complain", 0.75), ("out_of_scope", 0.2)]))
        == "out_of_scope"
    )


def test_confident_in_domain_readings_pass(
    model_storage: ModelStorage, execution_context: ExecutionContext
) -> None:
    gate = SideEffectGate.create({}, model_storage, Resource("gate"), execution_context)
    assert run(gate, parsed("where is my order", [("ask_order_status", 0.97), ("out_of_scope", 0.01)])) == (
        "ask_order_status"
    )
    assert run(gate, parsed("item arrived broken", [("complain", 0.9), ("out_of_scope", 0.05)])) == "complain"
    # Intents without side effects are never gated, however unsure.
    assert run(gate, parsed("hmm thanks", [("thanks", 0.4), ("out_of_scope", 0.3)])) == "thanks"
    # An order number makes it an order question.
    number = [{"entity": "order_number", "value": "10231"}]
    assert run(gate, parsed("10231?", [("ask_order_status", 0.5), ("out_of_scope", 0.4)], number)) == (
        "ask_order_status"
    )
