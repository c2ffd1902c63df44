"""Answering store questions from the knowledge base, in the buyer's language.

Confident match → the answer, then "Did this help?". A few plausible matches →
"Is it one of these?" with the top three as buttons. Nothing plausible → say
so and offer a person. An entry without the buyer's language is answered in the
store's default language, with a note in the buyer's language that says so.

Every question without a confident answer, and every answer the buyer says did
not help, is stored for the admins (bot/knowledge/feedback.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dependencies import feedback_store, knowledge, settings
from bot.knowledge.index import Match
from bot.knowledge.model import Entry
from bot.knowledge.service import Snapshot
from bot.languages import NATIVE_NAMES, normalise_language
from bot.responses import fill

#: At or above this confidence the best entry is answered directly...
ANSWER_CONFIDENCE = 0.4
#: ...provided the runner-up scores at most this share of the best (a clear winner).
#: 0.8 answers 71.8% of the dev paraphrases (bench/data/faq) directly, 19 of 960
#: wrong. Stricter margins (0.70-0.72, tried on 2026-12-04) cut the wrong answers to
#: 9-10 but sent the plainest questions to the buttons: "how long does shipping
#: take?" has products-battery-life ("how long does the battery last") at 0.73 of
#: shipping-time, and the browser test failed. A close runner-up is offered as a
#: button instead, which costs the buyer one click, where a wrong answer costs a
#: conversation.
ANSWER_MARGIN = 0.8
#: At or above this the best three are offered as "Is it one of these?".
SUGGEST_CONFIDENCE = 0.15

logger = logging.getLogger(__name__)


def is_confident(matches: list[Match]) -> bool:
    """A clear, strong best match."""
    if not matches or matches[0].confidence < ANSWER_CONFIDENCE:
        return False
    return len(matches) < 2 or matches[1].score <= ANSWER_MARGIN * matches[0].score


@dataclass(frozen=True)
class Outcome:
    """What answering a question did: "answered", "suggested" or "unanswered".

    ``entry_id``: the entry answered, or the best suggestion.
    """

    kind: str
    entry_id: str | None = None


def buyer_language(tracker: Tracker) -> str:
    return normalise_language(tracker.get_slot("language")) or settings().default_language


def find(snapshot: Snapshot, text: str, language: str) -> list[Match]:
    """Matches in the buyer's language; else in the default language (mixed-language questions)."""
    matches = snapshot.index.search(text, language)
    default = settings().default_language
    if (not matches or matches[0].confidence < SUGGEST_CONFIDENCE) and language != default:
        fallback = snapshot.index.search(text, default)
        if fallback and (not matches or fallback[0].confidence > matches[0].confidence):
            return fallback
    return matches


def say_answer(dispatcher: CollectingDispatcher, snapshot: Snapshot, entry: Entry, language: str) -> None:
    values = {
        **snapshot.base.placeholders,
        "store_name": settings().store_name,
        "support_email": settings().support_email,
    }
    answer_language = language if language in entry.answers else settings().default_language
    if answer_language not in entry.answers:
        answer_language = sorted(entry.answers)[0]
    if answer_language != language:
        dispatcher.utter_message(
            response="utter_faq_not_translated",
            answer_language=NATIVE_NAMES.get(answer_language, answer_language),
        )
    dispatcher.utter_message(text=fill(entry.answers[answer_language], values))


def answer_question(
    dispatcher: CollectingDispatcher, tracker: Tracker, confident_only: bool = False
) -> Outcome:
    """Answer the latest message from the knowledge base.

    With ``confident_only`` (used on an NLU fallback) nothing is said unless the
    match is confident, so the caller can fall back to "I did not understand".
    """
    snapshot = knowledge().current()
    language = buyer_language(tracker)
    chosen = next(tracker.get_latest_entity_values("faq_id"), None)
    if chosen in snapshot.base.entries:
        say_answer(dispatcher, snapshot, snapshot.base.entries[chosen], language)
        return Outcome("answered", chosen)

    matches = find(snapshot, tracker.latest_message.get("text") or "", language)
    if is_confident(matches):
        entry_id = matches[0].entry_id
        say_answer(dispatcher, snapshot, snapshot.base.entries[entry_id], language)
        return Outcome("answered", entry_id)
    if confident_only:
        return Outcome("unanswered")
    plausible = [m for m in matches if m.confidence >= SUGGEST_CONFIDENCE]
    if plausible:
        buttons = []
        for match in plausible[:3]:
            entry = snapshot.base.entries[match.entry_id]
            questions = entry.questions.get(language) or entry.questions[sorted(entry.questions)[0]]
            buttons.append({"title": questions[0], "payload": f'/ask_question{{"faq_id": "{entry.id}"}}'})
        dispatcher.utter_message(response="utter_faq_suggestions", buttons=buttons)
        return Outcome("suggested", plausible[0].entry_id)
    dispatcher.utter_message(response="utter_faq_no_answer")
    return Outcome("unanswered", matches[0].entry_id if matches else None)


async def record_unanswered(
    tracker: Tracker, reason: str, entry_id: str | None = None, text: str = ""
) -> None:
    """Store the question for the admins; a database problem never breaks the chat."""
    text = text or tracker.latest_message.get("text") or ""
    try:
        await asyncio.to_thread(
            feedback_store().record_unanswered,
            text,
            buyer_language(tracker),
            tracker.sender_id,
            reason,
            entry_id,
        )
    except Exception:
        logger.exception("Could not store an unanswered question")


def ask_for_feedback(dispatcher: CollectingDispatcher, entry_id: str) -> list[EventType]:
    """After an answer: "Did this help?" (yes/no buttons); the rules route the reply."""
    dispatcher.utter_message(response="utter_faq_did_it_help")
    return [
        SlotSet("feedback_entry", entry_id),
        SlotSet("feedback_asked", True),
        SlotSet("human_offered", False),
    ]


class ActionAnswerQuestion(Action):
    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        outcome = answer_question(dispatcher, tracker)
        if outcome.kind == "answered" and outcome.entry_id:
            return ask_for_feedback(dispatcher, outcome.entry_id)
        if outcome.kind == "suggested":
            await record_unanswered(tracker, "suggested", outcome.entry_id)
            return [SlotSet("feedback_asked", False)]
        await record_unanswered(tracker, "no_answer", outcome.entry_id)
        # utter_faq_no_answer offers a person: a yes or no next answers that.
        return [SlotSet("feedback_asked", False), SlotSet("human_offered", True)]
