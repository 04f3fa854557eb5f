"""The figures of the stats page, from rows the database has already aggregated. Pure: no Django.

The definitions, pinned here and shown on the page (DEFINITIONS):

- A *review* is an answer to a scheduled review (log source "review"). A new card's first answer
  counts as a review of a new card. An imported row counts as a review, on its own date. Re-drills
  (source "redrill") are counted apart. Undo rows and answers later undone count nowhere. Challenge
  verdicts count only under Challenges.
- A *new card's first answer* is an answer whose state before it had never been reviewed (no
  `last_reviewed_on` and no interval). Every other review is a review of a *previously seen* card.
- *Young* or *mature* goes by the interval before the answer: under 21 days is young.
- *Retention* is the share of reviews of previously seen cards answered 3 or higher. Re-drills
  have their own share, by the same rule.
- A *day* is the learner's local study day, as the review log recorded it with each answer
  (`reviewed_on`), so days of a change of daylight-saving time are whole days like the others.
- The *streak*: a day counts if the learner answered at least one review or new card that day
  (imports included; a day of only re-drills does not count). The current streak ends today, or
  yesterday when nothing has been answered today yet. Issue 13 also says "days on which the
  learner finished what was due"; what was due on a past day cannot be rebuilt exactly from the log
  (a state keeps only its latest due date), so the page uses the rule above and says so.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

MATURE_DAYS = 21  # an interval (before the answer) of at least this many days is mature
PASSING_QUALITY = 3  # retention: answered 3 or higher
HEATMAP_DAYS = 365  # the calendar covers the last year, today included
FORECAST_DAYS = 30  # today (with anything overdue) and the 29 days after it
RETENTION_WEEKS = 12  # weeks of retention shown, the current one included
RECENT_DAYS = 30  # "last 30 days": today and the 29 days before it
HEAT_LEVELS = 4

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "Review",
        "An answer to a scheduled review. A new card's first answer counts as a review of a new card, and "
        "imported history counts as reviews on its own dates. Re-drills (a card answered below 4 coming "
        "back the same day) are counted apart. Undone answers count nowhere, and challenge verdicts count "
        "only under Challenges.",
    ),
    ("Day", "Your local study day (your time zone in Settings), the one each answer was recorded on."),
    ("Young and mature", f"By the card's interval before the answer: under {MATURE_DAYS} days is young."),
    (
        "Retention",
        f"The share of reviews of cards you had seen before that you answered {PASSING_QUALITY} or higher. "
        "New cards' first answers are left out; re-drills have their own share.",
    ),
    (
        "Streak",
        "Days in a row on which you answered at least one review or new card (re-drills alone do not "
        "count). The current streak ends today, or yesterday if you have not answered anything today yet. "
        "What was due on a past day cannot be rebuilt from the log, so a day counts by what you answered.",
    ),
    (
        "Time",
        "The time from each question shown to its answer, for reviews and re-drills, as your browser measured it.",
    ),
)


# --- rows from the database ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayTotals:
    """One local day of the log: reviews (new cards and imports included), re-drills, answer time."""

    day: dt.date
    reviews: int
    redrills: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DayRetention:
    """One local day's answers split for retention (see the definitions above)."""

    day: dt.date
    new: int = 0
    young: int = 0
    young_passed: int = 0
    mature: int = 0
    mature_passed: int = 0
    redrills: int = 0
    redrills_passed: int = 0


# --- shares ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    """`passed` of `total` answers; `percent` is None when there were none."""

    passed: int = 0
    total: int = 0

    def __add__(self, other: Share) -> Share:
        return Share(self.passed + other.passed, self.total + other.total)

    @property
    def percent(self) -> float | None:
        return None if not self.total else 100 * self.passed / self.total

    @property
    def text(self) -> str:
        """ "80%", or "—" for no answers."""
        return format_percent(self.percent)

    @property
    def label(self) -> str:
        """ "80% (4 of 5)", or "—" for no answers."""
        if not self.total:
            return "—"
        return f"{format_percent(self.percent)} ({self.passed} of {self.total})"


def format_percent(value: float | None) -> str:
    """Whole percent, except between 0 and 1 and between 99 and 100, which never round to 0% or 100%."""
    if value is None:
        return "—"
    if 0 < value < 1:
        return "<1%"
    if 99 < value < 100:
        return ">99%"
    return f"{round(value)}%"


# --- streaks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Streak:
    current: int
    longest: int
    # The last day of the current streak (today or yesterday), None when there is no current streak.
    current_ends: dt.date | None = None


def streak(days: Iterable[dt.date], today: dt.date) -> Streak:
    """Current and longest runs of consecutive `days` (the days that count, see the definitions).

    The current streak ends today, or yesterday when today does not count (yet). Days after
    `today` (an import from a clock ahead) are ignored.
    """
    counted = sorted({day for day in days if day <= today})
    longest = run = 0
    previous = None
    for day in counted:
        run = run + 1 if previous is not None and (day - previous).days == 1 else 1
        longest = max(longest, run)
        previous = day
    present = set(counted)
    end = today if today in present else today - dt.timedelta(days=1)
    current = 0
    while end - dt.timedelta(days=current) in present:
        current += 1
    return Streak(current, longest, end if current else None)


# --- the calendar ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HeatDay:
    day: dt.date
    reviews: int
    redrills: int
    duration_ms: int
    level: int  # 0 (nothing) .. HEAT_LEVELS, by reviews
    column: int  # week, from the first shown
    row: int  # weekday, Monday 0
    today: bool

    @property
    def label(self) -> str:
        text = f"{self.day:%a} {self.day.day} {self.day:%b %Y}: {plural(self.reviews, 'review')}"
        if self.redrills:
            text += f" and {plural(self.redrills, 're-drill')}"
        if self.reviews or self.redrills:
            text += f", {format_duration_ms(self.duration_ms)}"
        return text + (" (today)" if self.today else "")


def heat_level(count: int, busiest: int) -> int:
    """0 for none, else 1..HEAT_LEVELS in proportion to the busiest day (ceil(4 * count / busiest))."""
    if count <= 0 or busiest <= 0:
        return 0
    return max(1, min(HEAT_LEVELS, -(-HEAT_LEVELS * count // busiest)))


def heatmap(totals: Mapping[dt.date, DayTotals], today: dt.date, days: int = HEATMAP_DAYS) -> list[HeatDay]:
    """The calendar's days: the last `days` days up to today, in weeks from Monday (whole first week)."""
    first = today - dt.timedelta(days=days - 1)
    start = first - dt.timedelta(days=first.weekday())
    window = [start + dt.timedelta(days=i) for i in range((today - start).days + 1)]
    busiest = max((totals[d].reviews for d in window if d in totals), default=0)
    cells = []
    for i, day in enumerate(window):
        row = totals.get(day)
        reviews, redrills, ms = (row.reviews, row.redrills, row.duration_ms) if row else (0, 0, 0)
        cells.append(
            HeatDay(day, reviews, redrills, ms, heat_level(reviews, busiest), i // 7, day.weekday(), day == today)
        )
    return cells


# --- retention -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekRetention:
    start: dt.date  # the Monday
    new: int
    young: Share
    mature: Share
    redrills: Share

    @property
    def scheduled(self) -> Share:
        """Young and mature together: every review of a previously seen card."""
        return self.young + self.mature


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_retention(rows: Iterable[DayRetention], today: dt.date, weeks: int = RETENTION_WEEKS) -> list[WeekRetention]:
    """Retention by week (Monday to Sunday, local days), the last `weeks` weeks, newest first.

    Weeks before the first one with any answer are left out (a new learner sees only their weeks).
    """
    first = week_start(today) - dt.timedelta(weeks=weeks - 1)
    buckets: dict[dt.date, list[DayRetention]] = {first + dt.timedelta(weeks=i): [] for i in range(weeks)}
    for row in rows:
        start = week_start(row.day)
        if start in buckets:
            buckets[start].append(row)
    result = []
    for start, days in buckets.items():
        if not days and not result:
            continue
        result.append(
            WeekRetention(
                start=start,
                new=sum(d.new for d in days),
                young=Share(sum(d.young_passed for d in days), sum(d.young for d in days)),
                mature=Share(sum(d.mature_passed for d in days), sum(d.mature for d in days)),
                redrills=Share(sum(d.redrills_passed for d in days), sum(d.redrills for d in days)),
            )
        )
    return result[::-1]


@dataclass(frozen=True, slots=True)
class Recent:
    """The last RECENT_DAYS days at a glance."""

    reviews: int
    new: int
    redrills: int
    duration_ms: int
    retention: Share
    days_studied: int


def recent(
    totals: Mapping[dt.date, DayTotals], retention: Iterable[DayRetention], today: dt.date, days: int = RECENT_DAYS
) -> Recent:
    first = today - dt.timedelta(days=days - 1)
    window = [t for d, t in totals.items() if first <= d <= today]
    kept = [r for r in retention if first <= r.day <= today]
    return Recent(
        reviews=sum(t.reviews for t in window),
        new=sum(r.new for r in kept),
        redrills=sum(t.redrills for t in window),
        duration_ms=sum(t.duration_ms for t in window),
        retention=Share(sum(r.young_passed + r.mature_passed for r in kept), sum(r.young + r.mature for r in kept)),
        days_studied=sum(1 for t in window if t.reviews),
    )


# --- time per day and the forecast -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayValue:
    day: dt.date
    value: int


def daily_time(totals: Mapping[dt.date, DayTotals], today: dt.date, days: int = RECENT_DAYS) -> list[DayValue]:
    """Answer time (ms) per day, the last `days` days, oldest first (days without answers: 0)."""
    first = today - dt.timedelta(days=days - 1)
    return [
        DayValue(day, totals[day].duration_ms if day in totals else 0)
        for day in (first + dt.timedelta(days=i) for i in range(days))
    ]


def forecast(due: Mapping[dt.date, int], today: dt.date, days: int = FORECAST_DAYS) -> list[DayValue]:
    """Scheduled reviews per day from today, `days` days; what is overdue counts on today."""
    counts = [0] * days
    for day, count in due.items():
        offset = max(0, (day - today).days)
        if offset < days:
            counts[offset] += count
    return [DayValue(today + dt.timedelta(days=i), counts[i]) for i in range(days)]


# --- distributions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucket:
    label: str
    count: int


# (label, lowest interval, highest interval) in days; None: no upper bound.
INTERVAL_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1 day or less", 0, 1),
    ("2–3 days", 2, 3),
    ("4–7 days", 4, 7),
    ("8–14 days", 8, 14),
    ("15–20 days", 15, 20),
    ("21–30 days", 21, 30),
    ("31–90 days", 31, 90),
    ("91–180 days", 91, 180),
    ("181–365 days", 181, 365),
    ("Over a year", 366, None),
)


def interval_buckets(counts: Mapping[int, int]) -> list[Bucket]:
    """Cards by current interval (the buckets above)."""
    totals = [0] * len(INTERVAL_BUCKETS)
    for interval, count in counts.items():
        for i, (_, low, high) in enumerate(INTERVAL_BUCKETS):
            if interval >= low and (high is None or interval <= high):
                totals[i] += count
                break
    return [Bucket(label, total) for (label, _, _), total in zip(INTERVAL_BUCKETS, totals, strict=True)]


EASE_EDGES = tuple(Decimal(edge) for edge in ("1.30", "1.50", "1.70", "1.90", "2.10", "2.30", "2.50", "2.70"))


def easiness_buckets(counts: Mapping[Decimal, int]) -> list[Bucket]:
    """Cards by easiness factor, in steps of 0.2 from SM-2's floor of 1.3 (2.5 is where every card starts)."""
    labels = [f"{low}–{high - Decimal('0.01')}" for low, high in zip(EASE_EDGES, EASE_EDGES[1:], strict=False)]
    labels.append(f"{EASE_EDGES[-1]} or more")
    totals = [0] * len(labels)
    for easiness, count in counts.items():
        index = sum(1 for edge in EASE_EDGES[1:] if Decimal(easiness) >= edge)
        totals[index] += count
    return [Bucket(label, total) for label, total in zip(labels, totals, strict=True)]


@dataclass(frozen=True, slots=True)
class GradeCount:
    quality: int
    reviews: int
    redrills: int


# --- concepts --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    seen: int  # cards of this concept answered at least once
    mature: int  # of which at an interval of MATURE_DAYS or more now
    recent: Share  # retention over the last RECENT_DAYS days

    @property
    def mature_share(self) -> Share:
        return Share(self.mature, self.seen)


def weakest_first(concepts: Iterable[Concept]) -> list[Concept]:
    """Lowest recent retention first; concepts without recent reviews after them, least mature first."""

    def key(concept: Concept) -> tuple:
        retention = concept.recent.percent
        maturity = concept.mature_share.percent
        return (retention is None, retention or 0, maturity or 0, concept.name)

    return sorted(concepts, key=key)


# --- challenges ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChallengeProgress:
    title: str
    slug: str
    attempts: int
    first_attempt_at: dt.datetime
    first_pass_at: dt.datetime | None
    first_pass_on: dt.date | None  # in the learner's zone

    @property
    def passed(self) -> bool:
        return self.first_pass_at is not None

    @property
    def time_to_pass(self) -> dt.timedelta | None:
        return None if self.first_pass_at is None else self.first_pass_at - self.first_attempt_at


def median_time_to_pass(challenges: Sequence[ChallengeProgress]) -> dt.timedelta | None:
    """The median, over passed challenges, of the time from the first attempt to the first pass."""
    times = [c.time_to_pass for c in challenges if c.time_to_pass is not None]
    if not times:
        return None
    return dt.timedelta(seconds=statistics.median(t.total_seconds() for t in times))


# --- words -----------------------------------------------------------------------------------------


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def format_duration_ms(ms: int) -> str:
    """ "0 min", "45 s", "12 min", "1 h 05 min": answer time as a learner reads it."""
    seconds = round(ms / 1000)
    if seconds == 0:
        return "0 min"
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def format_timedelta(delta: dt.timedelta) -> str:
    """ "under a minute", "25 min", "3 h 10 min", "2 d 4 h": a time to pass."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass(frozen=True, slots=True)
class Glance:
    """What the home page shows of the stats: the streak, and what is due today and tomorrow."""

    streak: Streak
    due_today: int
    due_tomorrow: int
    answered_today: bool = field(default=False)
