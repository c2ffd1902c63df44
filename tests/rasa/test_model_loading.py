"""The fast model load (bot/rasa_model_loading.py) predicts exactly what Rasa's own load does.

Loads the trained model twice, once each way, and compares intent rankings (to 6
decimals) on messages in all 10 languages and the bot's replies in a few whole
conversations. A Rasa or TensorFlow upgrade that changes how weights are restored
fails here instead of silently serving untrained weights.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from bot import rasa_model_loading

MODEL = Path(__file__).resolve().parents[2] / "models" / "current.tar.gz"
MESSAGES = [
    "hi",
    "where is my order 10234",
    "I want to talk to a human",
    "thanks a lot",
    "hola, dónde está mi pedido",
    "quiero devolver esto",
    "我的包裹到哪了",
    "أريد التحدث مع شخص",
    "注文はどこですか",
    "배송 언제 와요",
    "где мой заказ",
    "Ich möchte meine Adresse ändern",
    "c'est nul, je suis pas content",
    "obrigado",
    "blorft wugga",
]
CONVERSATIONS = [["hello", "where is my order", "10234"], ["I want a human", "yes"], ["thanks", "bye"]]


async def predictions(agent: Any) -> list[Any]:
    out: list[Any] = []
    for text in MESSAGES:
        parsed = await agent.parse_message(text)
        out.append([text, [(i["name"], round(i["confidence"], 6)) for i in parsed["intent_ranking"]]])
    for number, turns in enumerate(CONVERSATIONS):
        for text in turns:
            # No NLG server here: the replies name their response templates.
            replies = await agent.handle_text(text, sender_id=f"load-test-{number}")
            out.append([text, [r.get("response") or r.get("text") for r in replies]])
    return out


def load_and_predict() -> tuple[float, list[Any]]:
    from rasa.core.agent import Agent

    started = time.monotonic()
    agent = Agent.load(str(MODEL))
    took = time.monotonic() - started
    return took, asyncio.run(predictions(agent))


def test_the_fast_load_predicts_what_rasas_load_predicts() -> None:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train`")
    rasa_model_loading.uninstall()
    rasa_took, expected = load_and_predict()
    rasa_model_loading.install()
    try:
        fast_took, got = load_and_predict()
    finally:
        rasa_model_loading.uninstall()
    assert got == expected
    print(f"model load: Rasa's {rasa_took:.1f} s, fast {fast_took:.1f} s")


def test_the_fast_path_is_the_one_taken(caplog: pytest.LogCaptureFixture) -> None:
    """No "fast model load failed" warning: otherwise the test above compares Rasa's load with itself."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train`")
    from rasa.core.agent import Agent

    rasa_model_loading.install()
    try:
        with caplog.at_level("WARNING", logger="bot.rasa_model_loading"):
            Agent.load(str(MODEL))
    finally:
        rasa_model_loading.uninstall()
    assert not [r for r in caplog.records if r.name == "bot.rasa_model_loading"]
