"""When a reminder is due, as plain code: local clocks, the sending rule, time estimates.

No Django here: the ORM side (cards/reminders/sending.py) asks these functions which local
day and hour each time zone is in at an instant, and turns the answer into SQL.

The sending rule, in the learner's own time zone:

- a reminder goes out at the first run at or after the chosen local hour, on that
  local day; a run that was missed (beat down, workers busy) is caught up later the
  same local day, never before the chosen hour and never on the next day;
- a local hour that does not exist (the spring-forward gap, e.g. 02:00 in
  America/New_York on 2026-03-08) is reached at the first run after the gap:
  03:00 EDT, which is later than 02:00 on that day's clock;
- a local hour that happens twice (the fall-back overlap) sends at its first
  occurrence; the second finds the day already recorded.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Without a history of answer times, assume this much per card; a challenge is a
# small program to write, so it gets its own, larger, figure.
DEFAULT_SECONDS_PER_CARD = 12
MIN_SECONDS_PER_CARD = 3
MAX_SECONDS_PER_CARD = 120
SECONDS_PER_CHALLENGE = 5 * 60


@dataclass(frozen=True, slots=True)
class LocalSlot:
    """A local calendar day and the hour of the day on the local clock."""

    local_date: dt.date
    hour: int


def local_slot(zone_name: str, now: dt.datetime) -> LocalSlot | None:
    """The local date and hour in `zone_name` at the aware instant `now`; None for an unknown zone."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    local = now.astimezone(zone)
    return LocalSlot(local.date(), local.hour)


def group_zones(zone_names: Iterable[str], now: dt.datetime) -> tuple[dict[LocalSlot, list[str]], list[str]]:
    """Zones grouped by the local slot they are in at `now`, and the names that are not zones.

    About 40 distinct UTC offsets exist at any instant, so however many zones the
    users have, the SQL built from this has a few dozen branches, not one per user.
    """
    groups: dict[LocalSlot, list[str]] = defaultdict(list)
    unknown: list[str] = []
    for name in sorted(set(zone_names)):
        slot = local_slot(name, now)
        if slot is None:
            unknown.append(name)
        else:
            groups[slot].append(name)
    return dict(groups), unknown


def hour_reached(slot: LocalSlot, reminder_hour: int) -> bool:
    """Has the learner's day reached the chosen hour? (The rule in the module docstring.)"""
    return slot.hour >= reminder_hour


def seconds_per_card(average_ms: float | None) -> float:
    """The learner's own pace from their answer history, within sane bounds; a default without history."""
    if average_ms is None:
        return DEFAULT_SECONDS_PER_CARD
    return min(max(average_ms / 1000, MIN_SECONDS_PER_CARD), MAX_SECONDS_PER_CARD)


def estimate_minutes(cards: int, challenges: int, average_ms: float | None) -> int:
    """Whole minutes, rounded up, that `cards` plain cards and `challenges` challenges should take."""
    seconds = cards * seconds_per_card(average_ms) + challenges * SECONDS_PER_CHALLENGE
    return max(1, math.ceil(seconds / 60)) if cards or challenges else 0


def teaser_line(question: str) -> str:
    """The first non-blank line of a Markdown question, without heading or quote marks.

    Still Markdown: the email renders it (HTML part) or reduces it to plain text (text part).
    """
    line = next((text.strip() for text in question.splitlines() if text.strip()), "")
    if line.startswith("```"):
        return "(code question)"
    return line.lstrip("#> ").strip()
