"""The stats page's figures, aggregated in SQL: a fixed number of queries however long the history.

Every query is one GROUP BY over one learner's rows, read in full only where the figure needs the
whole history (the streak and the calendar, grade counts) and otherwise bounded by a date range on
the (user, reviewed_on, answered_at) index of the log or by the learner's states. The rows that
come back are few (one per day, grade, interval, concept or challenge); cards/stats/figures.py
turns them into the page's figures, with the definitions.

What counts (figures.py has the definitions): the log's `source` says what a row is. Reviews are
"review" and "import" rows, re-drills "redrill" rows; "undo" and "challenge" rows never count as
either, and an answer an undo row points at (`undone_by`) counts nowhere. Days are `reviewed_on`,
the learner's local study day recorded with each answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, IntegerField, Min, Q, QuerySet, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce

from cards.challenges.models import Submission
from cards.review.models import ReviewLog, ReviewState
from cards.stats import figures

REVIEW_SOURCES = (ReviewLog.Source.REVIEW, ReviewLog.Source.IMPORT)
REDRILL = ReviewLog.Source.REDRILL

# A new card's first answer: the state before it had never been reviewed (and had no interval: an
# imported row with a partial snapshot is a review of a seen card if it says so by its interval).
# `key=None` is a JSON null and `key__isnull` a missing key, alike on SQLite and PostgreSQL (a text
# extraction is not: SQLite's gives the string 'null' for a JSON null).
IS_NEW = (Q(before__last_reviewed_on=None) | Q(before__last_reviewed_on__isnull=True)) & Q(interval_before=0)
IS_REVIEW = Q(source__in=REVIEW_SOURCES)
IS_SEEN_REVIEW = IS_REVIEW & ~IS_NEW
IS_YOUNG = Q(interval_before__lt=figures.MATURE_DAYS)
PASSED = Q(quality__gte=figures.PASSING_QUALITY)


def counted_log(user: AbstractBaseUser) -> QuerySet[ReviewLog]:
    """The user's reviews and re-drills that were not undone: every row any review figure counts."""
    return ReviewLog.objects.filter(user=user, source__in=(*REVIEW_SOURCES, REDRILL), undone_by__isnull=True)


def _classified(queryset: QuerySet[ReviewLog]) -> QuerySet[ReviewLog]:
    """With the interval before each answer read from its JSON snapshot (0 when it has none)."""
    return queryset.alias(interval_before=Coalesce(Cast(KT("before__interval"), IntegerField()), 0))


def _day_grade_counts(queryset: QuerySet[ReviewLog], prefix: str = "") -> QuerySet:
    """Per day of `queryset`'s rows (or of the rows `prefix` leads to): reviews and re-drills by grade, time."""
    source, quality = f"{prefix}source", f"{prefix}quality"
    counts = {}
    for kind, of_kind in (("r", Q(**{f"{source}__in": REVIEW_SOURCES})), ("d", Q(**{source: REDRILL}))):
        counts[kind] = Count("pk", filter=of_kind)
        for grade in range(6):
            counts[f"{kind}{grade}"] = Count("pk", filter=of_kind & Q(**{quality: grade}))
    counts["ms"] = Coalesce(Sum(f"{prefix}duration_ms"), 0)
    return queryset.values(day=F(f"{prefix}reviewed_on")).annotate(**counts).order_by()


def day_totals(user: AbstractBaseUser) -> tuple[dict[dt.date, figures.DayTotals], list[figures.GradeCount]]:
    """Per local day, the whole history: reviews, re-drills, answer time; and the grades given.

    Two passes over the learner's rows, neither joined to another row: every review and re-drill,
    then the few undo rows with the answers they took back, which are subtracted (an anti-join over
    the whole history made PostgreSQL sort every row).
    """
    answers = ReviewLog.objects.filter(user=user, source__in=(*REVIEW_SOURCES, REDRILL))
    undone = ReviewLog.objects.filter(
        user=user, source=ReviewLog.Source.UNDO, undoes__source__in=(*REVIEW_SOURCES, REDRILL)
    )
    days: dict[dt.date, list[int]] = {}
    keys = ["r", "d", "ms", *(f"r{g}" for g in range(6)), *(f"d{g}" for g in range(6))]
    for sign, rows in ((1, _day_grade_counts(answers)), (-1, _day_grade_counts(undone, "undoes__"))):
        for row in rows:
            totals = days.setdefault(row["day"], [0] * len(keys))
            for i, key in enumerate(keys):
                totals[i] += sign * row[key]
    result, grades = {}, {"r": [0] * 6, "d": [0] * 6}
    for day in sorted(days):
        values = dict(zip(keys, days[day], strict=True))
        if values["r"] or values["d"]:
            result[day] = figures.DayTotals(day, values["r"], values["d"], values["ms"])
        for kind in grades:
            for grade in range(6):
                grades[kind][grade] += values[f"{kind}{grade}"]
    counts = [figures.GradeCount(q, grades["r"][q], grades["d"][q]) for q in range(6)]
    return result, counts


def day_retention(user: AbstractBaseUser, since: dt.date) -> list[figures.DayRetention]:
    """Per local day from `since`: new cards, young and mature reviews and re-drills, each with its passes."""
    rows = (
        _classified(counted_log(user).filter(reviewed_on__gte=since))
        .values("reviewed_on")
        .annotate(
            new=Count("pk", filter=IS_REVIEW & IS_NEW),
            young=Count("pk", filter=IS_SEEN_REVIEW & IS_YOUNG),
            young_passed=Count("pk", filter=IS_SEEN_REVIEW & IS_YOUNG & PASSED),
            mature=Count("pk", filter=IS_SEEN_REVIEW & ~IS_YOUNG),
            mature_passed=Count("pk", filter=IS_SEEN_REVIEW & ~IS_YOUNG & PASSED),
            redrills=Count("pk", filter=Q(source=REDRILL)),
            redrills_passed=Count("pk", filter=Q(source=REDRILL) & PASSED),
        )
        .order_by("reviewed_on")
    )
    return [figures.DayRetention(day=row.pop("reviewed_on"), **row) for row in rows]


def seen_states(user: AbstractBaseUser) -> QuerySet[ReviewState]:
    """The user's states of cards answered at least once (a card shown but never answered is still new)."""
    return ReviewState.objects.for_user(user).filter(last_reviewed_on__isnull=False)


def due_by_day(user: AbstractBaseUser, until: dt.date) -> dict[dt.date, int]:
    """Scheduled reviews per due date, up to `until` (overdue ones on their own, earlier, dates)."""
    rows = seen_states(user).filter(due_on__lte=until).values("due_on").annotate(n=Count("pk")).order_by()
    return {row["due_on"]: row["n"] for row in rows}


def interval_counts(user: AbstractBaseUser) -> dict[int, int]:
    rows = seen_states(user).values("interval").annotate(n=Count("pk")).order_by()
    return {row["interval"]: row["n"] for row in rows}


def easiness_counts(user: AbstractBaseUser) -> dict[Decimal, int]:
    rows = seen_states(user).values("easiness").annotate(n=Count("pk")).order_by()
    return {Decimal(row["easiness"]): row["n"] for row in rows}


def concepts(user: AbstractBaseUser, today: dt.date) -> list[figures.Concept]:
    """Per tag of the cards: cards seen, of which mature now, and retention over the last 30 days."""
    seen = (
        seen_states(user)
        .filter(card__tags__isnull=False)
        .values("card__tags__name")
        .annotate(seen=Count("pk"), mature=Count("pk", filter=Q(interval__gte=figures.MATURE_DAYS)))
        .order_by()
    )
    since = today - dt.timedelta(days=figures.RECENT_DAYS - 1)
    recent = (
        _classified(counted_log(user).filter(reviewed_on__gte=since, reviewed_on__lte=today))
        .filter(IS_SEEN_REVIEW, card__tags__isnull=False)
        .values("card__tags__name")
        .annotate(n=Count("pk"), passed=Count("pk", filter=PASSED))
        .order_by()
    )
    shares = {row["card__tags__name"]: figures.Share(row["passed"], row["n"]) for row in recent}
    return [
        figures.Concept(
            name=row["card__tags__name"],
            seen=row["seen"],
            mature=row["mature"],
            recent=shares.get(row["card__tags__name"], figures.Share()),
        )
        for row in seen
    ]


def challenges(user: AbstractBaseUser, zone: ZoneInfo) -> list[figures.ChallengeProgress]:
    """Per challenge attempted: attempts, and the first attempt and first pass (dated in `zone`)."""
    rows = (
        Submission.objects.filter(user=user)
        .values("challenge", "challenge__title", "challenge__slug", "challenge__position")
        .annotate(
            attempts=Count("pk"),
            first_at=Min("created_at"),
            first_pass_at=Min("created_at", filter=Q(passed=True)),
        )
        .order_by("challenge__position", "challenge")
    )
    return [
        figures.ChallengeProgress(
            title=row["challenge__title"],
            slug=row["challenge__slug"],
            attempts=row["attempts"],
            first_attempt_at=row["first_at"],
            first_pass_at=row["first_pass_at"],
            first_pass_on=row["first_pass_at"].astimezone(zone).date() if row["first_pass_at"] else None,
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class StatsPage:
    """Everything /stats/ shows."""

    today: dt.date
    streak: figures.Streak
    recent: figures.Recent
    heatmap: list[figures.HeatDay]
    forecast: list[figures.DayValue]
    retention: list[figures.WeekRetention]
    time: list[figures.DayValue]
    intervals: list[figures.Bucket]
    easiness: list[figures.Bucket]
    grades: list[figures.GradeCount]
    concepts: list[figures.Concept]
    challenges: list[figures.ChallengeProgress]
    median_time_to_pass: dt.timedelta | None


def stats_page(user: AbstractBaseUser, zone: ZoneInfo, today: dt.date) -> StatsPage:
    """The page's figures for `user` on their study day `today` (dates in `zone` for challenge passes).

    Nine queries whatever the history's size.
    """
    totals, grades = day_totals(user)
    since = figures.week_start(today) - dt.timedelta(weeks=figures.RETENTION_WEEKS - 1)
    retention_days = day_retention(user, min(since, today - dt.timedelta(days=figures.RECENT_DAYS - 1)))
    forecast = figures.forecast(due_by_day(user, today + dt.timedelta(days=figures.FORECAST_DAYS - 1)), today)
    progress = challenges(user, zone)
    return StatsPage(
        today=today,
        streak=figures.streak((day for day, row in totals.items() if row.reviews), today),
        recent=figures.recent(totals, retention_days, today),
        heatmap=figures.heatmap(totals, today),
        forecast=forecast,
        retention=figures.weekly_retention(retention_days, today),
        time=figures.daily_time(totals, today),
        intervals=figures.interval_buckets(interval_counts(user)),
        easiness=figures.easiness_buckets(easiness_counts(user)),
        grades=grades,
        concepts=figures.weakest_first(concepts(user, today)),
        challenges=progress,
        median_time_to_pass=figures.median_time_to_pass(progress),
    )


def studied_days(user: AbstractBaseUser) -> list[dt.date]:
    """The local days on which the user answered at least one review or new card (the streak's days)."""
    return list(
        counted_log(user).filter(IS_REVIEW).values_list("reviewed_on", flat=True).distinct().order_by("reviewed_on")
    )


def glance(user: AbstractBaseUser, today: dt.date) -> figures.Glance:
    """The home page's line of stats: the streak, and the reviews due today and tomorrow (two queries)."""
    days = studied_days(user)
    due = figures.forecast(due_by_day(user, today + dt.timedelta(days=1)), today, days=2)
    return figures.Glance(figures.streak(days, today), due[0].value, due[1].value, bool(days) and days[-1] >= today)


# --- your data, as CSV -----------------------------------------------------------------------------

REVIEW_LOG_COLUMNS = (
    "id", "answered_at_utc", "day", "source", "deck", "card", "quality", "duration_ms",
    "interval_before", "interval_after", "easiness_after", "due_on_after", "undone_by", "undoes",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "id", "challenge", "attempt", "submitted_at_utc", "finished_at_utc", "status", "passed", "quality",
    "after_answer_shown", "code",
)  # fmt: skip


def review_log_rows(user: AbstractBaseUser) -> Iterator[tuple]:
    """Every row of the user's review log, oldest first: undo rows too, and undone answers with the undo's id."""
    rows = (
        ReviewLog.objects.filter(user=user)
        .annotate(
            interval_before=KT("before__interval"),
            interval_after=KT("after__interval"),
            easiness_after=KT("after__easiness"),
            due_on_after=KT("after__due_on"),
        )
        .order_by("answered_at", "id")
        .values_list(
            "id",
            "answered_at",
            "reviewed_on",
            "source",
            "card__deck__slug",
            "card__key",
            "quality",
            "duration_ms",
            "interval_before",
            "interval_after",
            "easiness_after",
            "due_on_after",
            "undone_by",
            "undoes",
        )  # fmt: skip
    )
    for row in rows.iterator(chunk_size=2000):
        pk, at, day, *rest = row
        yield (pk, at.astimezone(dt.UTC).isoformat(), day.isoformat(), *rest)


def attempt_rows(user: AbstractBaseUser) -> Iterator[tuple]:
    """Every challenge attempt of the user, oldest first, with the code sent."""
    rows = (
        Submission.objects.filter(user=user)
        .order_by("created_at", "id")
        .values_list(
            "id",
            "challenge__slug",
            "number",
            "created_at",
            "finished_at",
            "status",
            "passed",
            "quality",
            "after_reveal",
            "code",
        )  # fmt: skip
    )
    for pk, slug, number, created, finished, status, passed, quality, after_reveal, code in rows.iterator(2000):
        yield (
            pk, slug, number, created.astimezone(dt.UTC).isoformat(),
            finished.astimezone(dt.UTC).isoformat() if finished else "", status,
            "" if passed is None else ("yes" if passed else "no"), quality, "yes" if after_reveal else "no", code,
        )  # fmt: skip
