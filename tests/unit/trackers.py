"""Building rasa-sdk trackers for action tests."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def user(
    text: str,
    intent: str,
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "metadata": metadata or {},
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "text": text,
        },
    }


def bot_action(name: str) -> dict[str, Any]:
    return {"event": "action", "name": name}


def tracker(
    events: list[dict[str, Any]], slots: dict[str, Any] | None = None, sender_id: str = "test"
) -> Tracker:
    latest = next(
        (e["parse_data"] | {"text": e["text"]} for e in reversed(events) if e["event"] == "user"), {}
    )
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": {"language": "en", "human_offered": False, **(slots or {})},
            "latest_message": latest,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )
