"""Satisfaction and service figures for a period, for the admin dashboard.

- conversations: conversations started in the period;
- containment: the share of them that never needed a person;
- escalations, and first responses: how many were answered, the median time to
  the first response, and how many within the tier's target;
- CSAT: average stars and the share of 4-5 star ratings, overall and by
  language, tier, staff member and topic.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.models import Conversation, Escalation, Rating, StaffMember


def _csat(stars: list[int]) -> dict[str, Any]:
    if not stars:
        return {"ratings": 0, "average": None, "csat": None}
    return {
        "ratings": len(stars),
        "average": round(sum(stars) / len(stars), 2),
        "csat": round(100 * sum(1 for s in stars if s >= 4) / len(stars), 1),
    }


def figures(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    conversations = int(
        session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.started_at >= start, Conversation.started_at < end)
        )
        or 0
    )
    escalated = set(
        session.scalars(
            select(Escalation.conversation_id)
            .join(Conversation, Conversation.id == Escalation.conversation_id)
            .where(Conversation.started_at >= start, Conversation.started_at < end)
        )
    )
    escalations = session.scalars(
        select(Escalation).where(Escalation.created_at >= start, Escalation.created_at < end)
    ).all()
    responses = [(e.first_response_at, e) for e in escalations if e.first_response_at is not None]
    response_minutes = [(at - e.created_at).total_seconds() / 60 for at, e in responses]
    within = sum(1 for at, e in responses if at <= e.due_at)
    answered = [e for _, e in responses]

    names: dict[int, str] = {
        row.id: row.name for row in session.execute(select(StaffMember.id, StaffMember.name))
    }
    ratings = session.scalars(select(Rating).where(Rating.created_at >= start, Rating.created_at < end)).all()
    by: dict[str, defaultdict[str, list[int]]] = {
        "language": defaultdict(list),
        "tier": defaultdict(list),
        "staff": defaultdict(list),
        "topic": defaultdict(list),
    }
    for rating in ratings:
        by["language"][rating.language].append(rating.stars)
        by["tier"][rating.tier].append(rating.stars)
        by["staff"][names.get(rating.staff_id, "bot") if rating.staff_id else "bot"].append(rating.stars)
        by["topic"][rating.topic].append(rating.stars)
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "conversations": conversations,
        "containment": round(100 * (conversations - len(escalated)) / conversations, 1)
        if conversations
        else None,
        "escalations": len(escalations),
        "first_response": {
            "answered": len(answered),
            "median_minutes": round(statistics.median(response_minutes), 1) if response_minutes else None,
            "within_target": within,
            "within_target_share": round(100 * within / len(answered), 1) if answered else None,
        },
        "csat": _csat([r.stars for r in ratings]),
        "csat_by": {
            dimension: {k: _csat(v) for k, v in sorted(groups.items())} for dimension, groups in by.items()
        },
    }


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Any) -> Any:
    """A cell a spreadsheet shows as text: staff names, topics and language codes are
    typed by other people, and ``=HYPERLINK(...)`` in one would open the export as a live
    formula. Such text gets a leading ``'``; numbers are left as they are."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell


class _SafeWriter:
    """A CSV writer that neutralises every cell it writes."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: list[Any]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])


def as_csv(data: dict[str, Any]) -> str:
    """The figures as CSV rows: section, key, value columns a spreadsheet can chart."""
    out = io.StringIO()
    writer = _SafeWriter(out)
    writer.writerow(["section", "key", "ratings", "average", "csat_percent", "value"])
    writer.writerow(["period", "from", "", "", "", data["from"]])
    writer.writerow(["period", "to", "", "", "", data["to"]])
    writer.writerow(["service", "conversations", "", "", "", data["conversations"]])
    writer.writerow(["service", "containment_percent", "", "", "", data["containment"]])
    writer.writerow(["service", "escalations", "", "", "", data["escalations"]])
    for key, value in data["first_response"].items():
        writer.writerow(["first_response", key, "", "", "", value])
    overall = data["csat"]
    writer.writerow(["csat", "all", overall["ratings"], overall["average"], overall["csat"], ""])
    for dimension, groups in data["csat_by"].items():
        for key, value in groups.items():
            writer.writerow(
                [f"csat_by_{dimension}", key, value["ratings"], value["average"], value["csat"], ""]
            )
    return out.getvalue()
