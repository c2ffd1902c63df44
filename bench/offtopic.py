"""Off-topic messages: how many are recognised, and how many would *do* something.

Runs in Rasa's environment against a trained model (default models/current.tar.gz).
Data: bench/data/frozen/offtopic/<lang>.yml (``domains: {domain: [texts]}``),
or any directory in that format (``--data``); languages without a file are skipped.
``--dev DIR`` (make bench: bench/data/dev/offtopic, tuned on) scores a second
directory with the same model, under ``dev``.

Each message is parsed as the Rasa server parses it, in a conversation already
in the message's language (``conversation_language`` in the metadata, as the
web service sends it). Recognised means ``out_of_scope`` or ``nlu_fallback``.
Harmful means the bot's next action on a fresh conversation, predicted by the
trained policies, would start a form, hand the buyer to a person, record a
complaint or a rating, change an order or switch the language; a detected
language other than the conversation's also counts as a language switch.
With an NLU-only model the predicted intent is mapped through the rules instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.languages import SUPPORTED_LANGUAGES  # noqa: E402

FROZEN = ROOT / "bench" / "data" / "frozen" / "offtopic"
DEV = ROOT / "bench" / "data" / "dev" / "offtopic"
RECOGNISED = frozenset({"out_of_scope", "nlu_fallback"})

#: Next actions with a side effect, and what kind of harm each is.
HARMFUL_ACTIONS = {
    "order_tracking_form": "form",
    "rating_comment_form": "form",
    "action_escalate": "hand-over",
    "utter_complaint_sorry": "complaint",
    "action_record_rating": "rating",
    "action_order_change": "order change",
    "action_change_language": "language switch",
}
#: The same through the rules, for a model without dialogue policies.
HARMFUL_INTENTS = {
    "ask_order_status": "form",
    "request_human": "hand-over",
    "complain": "complaint",
    "give_rating": "rating",
    "request_order_change": "order change",
    "change_language": "language switch",
}


HOW = {True: "next action predicted by the policies", False: "intent mapped through the rules"}


def load(directory: Path) -> dict[str, list[tuple[str, str]]]:
    """(domain, text) per language, for the languages that have a file."""
    data = {}
    for language in SUPPORTED_LANGUAGES:
        path = directory / f"{language}.yml"
        if path.exists():
            raw = yaml.safe_load(path.read_text("utf-8")) or {}
            data[language] = [
                (str(d), str(t)) for d, texts in (raw.get("domains") or {}).items() for t in texts
            ]
    return data


async def evaluate(model: Path, directory: Path, agent: Any = None) -> dict[str, Any]:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = agent or Agent.load(str(model))
    processor = agent.processor
    assert processor is not None
    with_core = processor.model_metadata.training_type.name != "NLU"
    per_language: dict[str, dict[str, Any]] = {}
    misses: list[dict[str, str]] = []
    for language, items in load(directory).items():
        harm: Counter[str] = Counter()
        found = 0
        for index, (domain, text) in enumerate(items):
            sender = f"bench-offtopic-{language}-{index}"
            message = UserMessage(text, sender_id=sender, metadata={"conversation_language": language})
            parsed = await processor.parse_message(message)
            intent = parsed["intent"]["name"]
            found += intent in RECOGNISED
            detected = next(
                (e["value"] for e in parsed.get("entities", []) if e.get("entity") == "language"), language
            )
            kind = None
            if with_core:
                tracker = DialogueStateTracker.from_events(
                    sender,
                    [
                        ActionExecuted(ACTION_LISTEN_NAME),
                        SlotSet("language", language),
                        UserUttered(text, parsed["intent"], parsed.get("entities", []), parsed),
                    ],
                    slots=agent.domain.slots if agent.domain else [],
                )
                action, _ = processor.predict_next_with_tracker_if_should(tracker)
                kind = HARMFUL_ACTIONS.get(action.name())
            else:
                kind = HARMFUL_INTENTS.get(intent)
            if kind is None and detected != language:
                kind = "language switch"
            if kind:
                harm[kind] += 1
            if kind or intent not in RECOGNISED:
                misses.append(
                    {
                        "language": language,
                        "domain": domain,
                        "text": text,
                        "intent": intent,
                        "harm": kind or "",
                    }
                )
        per_language[language] = {
            "n": len(items),
            "recall": found / len(items) if items else 0.0,
            "harm": dict(harm),
        }
    return {
        "per_language": per_language,
        "misses": misses,
        "with_core": with_core,
        "domains": {language: len({d for d, _ in items}) for language, items in load(directory).items()},
    }


async def evaluate_sets(model: Path, directory: Path, dev: Path | None) -> dict[str, Any]:
    """``directory``, and ``dev`` under ``dev``, with one loaded model (loading takes a while)."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    result = await evaluate(model, directory, agent)
    if dev is not None and load(dev):
        result["dev"] = await evaluate(model, dev, agent)
    return result


def markdown(result: dict[str, Any]) -> str:
    per = result["per_language"]
    kinds = list(dict.fromkeys(HARMFUL_ACTIONS.values()))
    lines = [
        "| language | messages | recognised | harmful | " + " | ".join(kinds) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in kinds) + " |",
    ]
    for language, r in per.items():
        lines.append(
            f"| {language} | {r['n']} | {r['recall'] * 100:.1f}% | {sum(r['harm'].values())} | "
            + " | ".join(str(r["harm"].get(k, 0)) for k in kinds)
            + " |"
        )
    if per:
        total = sum(r["n"] for r in per.values())
        harmful = sum(sum(r["harm"].values()) for r in per.values())
        worst = min(per, key=lambda lang: per[lang]["recall"])
        lines.append("")
        lines.append(
            f"{total} messages; worst recall {worst} {per[worst]['recall'] * 100:.1f}%; "
            f"{harmful} would have had a side effect "
            f"({HOW[result['with_core']]})."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--data", default=str(FROZEN))
    parser.add_argument("--dev", default=None, help="a second directory to score, e.g. the dev set")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("-v", action="store_true", help="list the messages that were missed or harmful")
    args = parser.parse_args()
    import logging

    from rasa.utils.log_utils import configure_structlog

    logging.disable(logging.WARNING)
    configure_structlog(logging.WARNING)
    if not load(Path(args.data)):
        print(f"no off-topic data in {args.data}", file=sys.stderr)
        return 1
    result = asyncio.run(
        evaluate_sets(Path(args.model), Path(args.data), Path(args.dev) if args.dev else None)
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(markdown(result))
    if "dev" in result:
        print(f"\n{args.dev}:\n\n{markdown(result['dev'])}")
    if args.v:
        for miss in result["misses"]:
            print("\t".join(miss.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
