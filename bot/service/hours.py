"""Business hours per team, in each team's own time zone (data/service.yml).

Times are computed with zoneinfo, so a team's 09:00 stays 09:00 local time
across daylight-saving changes; callers pass and get aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.settings import PROJECT_ROOT

SERVICE_FILE = PROJECT_ROOT / "data" / "service.yml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ServiceConfigError(ValueError):
    """data/service.yml is wrong; the message says where."""


@dataclass(frozen=True)
class Team:
    name: str
    zone: ZoneInfo
    #: weekday (0 = Monday) → list of (opens, closes) local times
    hours: dict[int, list[tuple[time, time]]]

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return any(start <= local.time() < end for start, end in self.hours.get(local.weekday(), []))

    def next_opening(self, at: datetime) -> datetime | None:
        """When the team next opens at or after ``at`` (``at`` itself if open now)."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for start, _ in sorted(self.hours.get(day.weekday(), [])):
                candidate = datetime.combine(day, start, tzinfo=self.zone)
                if candidate > local:
                    return candidate.astimezone(at.tzinfo)
        return None


@dataclass(frozen=True)
class ServiceConfig:
    teams: dict[str, Team]
    default_team: str
    first_response: dict[str, timedelta] = field(default_factory=dict)

    def team(self, name: str | None) -> Team:
        return self.teams.get(name or "", self.teams[self.default_team])

    def target(self, tier: str) -> timedelta:
        return self.first_response.get(tier, self.first_response.get("standard", timedelta(hours=4)))


def _days(spec: str) -> list[int]:
    spec = spec.strip().lower()
    if "-" in spec:
        first, last = (DAYS.index(part) for part in spec.split("-", 1))
        return list(range(first, last + 1)) if first <= last else [*range(first, 7), *range(0, last + 1)]
    return [DAYS.index(spec)]


def parse(data: Any) -> ServiceConfig:
    if not isinstance(data, dict) or not isinstance(data.get("teams"), dict) or not data["teams"]:
        raise ServiceConfigError("service.yml needs a 'teams:' mapping")
    teams = {}
    for name, raw in data["teams"].items():
        try:
            zone = ZoneInfo(str(raw["time_zone"]))
            hours: dict[int, list[tuple[time, time]]] = {}
            for days, span in (raw.get("hours") or {}).items():
                opens, closes = (time.fromisoformat(part.strip()) for part in str(span).split("-"))
                if closes <= opens:
                    raise ValueError(f"{span!r}: closing time must be after opening time")
                for weekday in _days(str(days)):
                    hours.setdefault(weekday, []).append((opens, closes))
        except (KeyError, TypeError, ValueError, ZoneInfoNotFoundError) as error:
            raise ServiceConfigError(f"team {name!r}: {error}") from error
        teams[str(name)] = Team(str(name), zone, hours)
    default = str(data.get("default_team") or next(iter(teams)))
    if default not in teams:
        raise ServiceConfigError(f"default_team {default!r} is not a team")
    minutes = data.get("first_response_minutes") or {}
    try:
        targets = {str(tier): timedelta(minutes=float(value)) for tier, value in minutes.items()}
    except (TypeError, ValueError) as error:
        raise ServiceConfigError(f"first_response_minutes: {error}") from error
    return ServiceConfig(teams, default, targets)


@lru_cache(maxsize=4)
def load(path: Path = SERVICE_FILE) -> ServiceConfig:
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")))


def write_always_open(path: Path) -> Path:
    """Write a service file whose one team works around the clock, and return its path.

    For tests, benchmarks and demos that hand conversations to a person: what they
    check must not depend on the hour they run at.
    """
    path.write_text(
        'teams: {support: {time_zone: UTC, hours: {mon-sun: "00:00-23:59:59"}}}\n'
        "first_response_minutes: {vip: 15, standard: 240}\n",
        encoding="utf-8",
    )
    return path
