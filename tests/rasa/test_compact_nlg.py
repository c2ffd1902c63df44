"""bot.rasa_nlg's NLG client, in Rasa's environment, against a real aiohttp server on 127.0.0.1.

It is built from endpoints.yml as the Rasa server builds it, then asked for responses
of a conversation that keeps growing: the body must stay small and the same size, the
token must travel in a header (never in the URL).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any
from unittest import mock

from aiohttp import web
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from bot.settings import PROJECT_ROOT

TOKEN = "rasa-side-test-token-0123456789"
DOMAIN = Domain.from_dict(
    {
        "slots": {
            "language": {"type": "text", "mappings": [{"type": "custom"}]},
            "order_number": {"type": "text", "mappings": [{"type": "custom"}]},
            "notes": {"type": "text", "mappings": [{"type": "custom"}]},
        },
        "responses": {"utter_greet": [{"text": "hi"}]},
    }
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _generator(port: int) -> NaturalLanguageGenerator:
    """The NLG of endpoints.yml, with the variables the supervisor sets."""
    variables = {
        "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
        "ACTION_SERVER_SECRET": "unused",
        "NLG_URL": f"http://127.0.0.1:{port}/nlg",
        "NLG_TOKEN": TOKEN,
        "RASA_TRACKER_URL": "",
        "RASA_TRACKER_DB": "unused.db",
    }
    with mock.patch.dict(os.environ, variables):
        config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "nlg")
    return NaturalLanguageGenerator.create(config, DOMAIN)


def test_requests_stay_small_and_carry_the_token_in_a_header() -> None:
    received: list[dict[str, Any]] = []

    async def nlg(request: web.Request) -> web.Response:
        raw = await request.read()
        received.append(
            {
                "size": len(raw),
                "body": json.loads(raw),
                "token": request.headers.get("X-NLG-Token"),
                "query": dict(request.query),
            }
        )
        return web.json_response({"text": "hola"})

    async def scenario() -> list[dict[str, Any]]:
        app = web.Application()
        app.router.add_post("/nlg", nlg)
        runner = web.AppRunner(app)
        await runner.setup()
        port = _free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            generator = _generator(port)
            assert type(generator).__name__ == "CompactCallbackNLG"
            tracker = DialogueStateTracker.from_events("buyer-1", [], slots=DOMAIN.slots)
            tracker.update(SlotSet("language", "es"))
            tracker.update(SlotSet("notes", "x" * 10_000))  # a long text in a slot is cut
            replies = []
            for turn in range(60):  # a long conversation: the tracker grows with every turn
                tracker.update(UserUttered(f"mensaje {turn} " + "bla " * 50))
                tracker.update(SlotSet("order_number", str(10000 + turn)))
                tracker.update(ActionExecuted("utter_greet"))
                tracker.update(BotUttered("hola"))
                replies.append(
                    await generator.generate(
                        "utter_greet", tracker, "rest", language="es", domain_responses=DOMAIN.responses
                    )
                )
            assert replies == [{"text": "hola"}] * 60
        finally:
            await runner.cleanup()
        return received

    requests = asyncio.run(scenario())
    assert len(requests) == 60
    first, last = requests[0], requests[-1]
    assert last["token"] == TOKEN and last["query"] == {}  # in a header, not in the URL
    body = last["body"]
    assert set(body) == {"response", "id", "arguments", "slots", "sender_id", "channel"}
    assert body["response"] == "utter_greet" and body["sender_id"] == "buyer-1"
    assert body["arguments"] == {"language": "es"} and body["channel"] == {"name": "rest"}
    assert body["slots"]["language"] == "es" and body["slots"]["order_number"] == "10059"
    assert len(body["slots"]["notes"]) == 500
    # Constant size: the 60th request is as small as the first (the stock NLG sent the
    # whole tracker: tens of kilobytes by now, growing with every message).
    assert last["size"] - first["size"] <= 2 and last["size"] < 1500, (first["size"], last["size"])
