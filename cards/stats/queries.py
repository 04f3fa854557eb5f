"""The stats page's figures, aggregated in SQL: a fixed number of queries however long the history.

What needs the whole history (the calendar, the streaks, time, grade counts) and the retention split
of the last weeks come from the rollup (cards/stats/models.py: one row per learner and day, kept
exact by triggers on the log), read in one query. The rest is one GROUP BY each over one learner's
rows: bounded by a date range on the (user, reviewed_on, answered_at) index of the log (a concept's
last 30 days), or over the learner's states. The rows that come back are few (one per day, grade,
interval, concept or challenge); cards/stats/figures.py turns them into the page's figures, with the
definitions.

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
from django.db import connection
from django.db.models import Case, Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce

from cards.challenges.models import Submission
from cards.models import Card, Tag
from cards.review.models import ReviewLog, ReviewState
from cards.stats import figures
from cards.stats.models import DayRollup

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
    # NOT EXISTS, not `undone_by__isnull=True` (a LEFT JOIN ... IS NULL): PostgreSQL estimates that join
    # leaves one row, then joins the concepts' tags by nested loops (13 ms at 3,000 rows instead of 7).
    undone = ReviewLog.objects.filter(undoes=OuterRef("pk"))
    return ReviewLog.objects.filter(user=user, source__in=(*REVIEW_SOURCES, REDRILL)).filter(~Exists(undone))


def _classified(queryset: QuerySet[ReviewLog]) -> QuerySet[ReviewLog]:
    """With the interval before each answer read from its JSON snapshot (0 when it has none)."""
    return queryset.alias(interval_before=Coalesce(Cast(KT("before__interval"), IntegerField()), 0))


def days(
    user: AbstractBaseUser, since: dt.date
) -> tuple[dict[dt.date, figures.DayTotals], list[figures.GradeCount], list[figures.DayRetention]]:
    """Per local day, the whole history: reviews, re-drills, time; the grades given; the retention split from `since`.

    One query, on the learner's rows of the trigger-kept rollup (cards/stats/models.py: one row per
    day with a review or re-drill, however many answers), never on the log itself.
    """
    totals: dict[dt.date, figures.DayTotals] = {}
    retention: list[figures.DayRetention] = []
    reviews, redrills = [0] * 6, [0] * 6
    rows = DayRollup.objects.filter(user=user).order_by("day").values_list("day", *DayRollup.COUNTERS)
    for day, n, d, ms, new, young, young_passed, mature, mature_passed, *grades in rows:
        if not (n or d):
            continue
        totals[day] = figures.DayTotals(day, n, d, ms)
        for q in range(6):
            reviews[q] += grades[q]
            redrills[q] += grades[6 + q]
        if day >= since:
            passed = sum(grades[6 + q] for q in range(figures.PASSING_QUALITY, 6))
            retention.append(figures.DayRetention(day, new, young, young_passed, mature, mature_passed, d, passed))
    return totals, [figures.GradeCount(q, reviews[q], redrills[q]) for q in range(6)], retention


def seen_states(user: AbstractBaseUser) -> QuerySet[ReviewState]:
    """The user's states of cards answered at least once (a card shown but never answered is still new)."""
    return ReviewState.objects.for_user(user).filter(last_reviewed_on__isnull=False)


def due_by_day(user: AbstractBaseUser, until: dt.date) -> dict[dt.date, int]:
    """Scheduled reviews per due date, up to `until` (overdue ones on their own, earlier, dates)."""
    rows = seen_states(user).filter(due_on__lte=until).values("due_on").annotate(n=Count("pk")).order_by()
    return {row["due_on"]: row["n"] for row in rows}


def distribution_counts(user: AbstractBaseUser) -> tuple[dict[int, int], dict[Decimal, int]]:
    """Cards seen per interval and per easiness factor: one pass over the states, grouped by both."""
    intervals: dict[int, int] = {}
    easiness: dict[Decimal, int] = {}
    rows = seen_states(user).values_list("interval", "easiness").annotate(n=Count("pk")).order_by()
    for interval, factor, n in rows:
        intervals[interval] = intervals.get(interval, 0) + n
        easiness[Decimal(factor)] = easiness.get(Decimal(factor), 0) + n
    return intervals, easiness


def concepts(user: AbstractBaseUser, today: dt.date) -> list[figures.Concept]:
    """Per tag of the cards: cards seen, of which mature now, and retention over the last 30 days: one query.

    The ORM writes the two row sets (the seen states; the last 30 days' counted reviews of seen cards,
    with its JSON lookups as each database needs them), one UNION ALL; the join to the tags is written
    here, straight from `card_id` to the cards' tags and summed per tag id before the names: the ORM's
    `card__tags` joins cards_card in between, which PostgreSQL hashes whole (10,000 cards), and groups
    by the name (two queries so written took 17 ms at 10,000 cards, this one 7).
    """
    one, zero = Value(1, output_field=IntegerField()), Value(0, output_field=IntegerField())
    columns = ("card_id", "seen", "mature", "n", "passed")
    states = (
        seen_states(user)
        .annotate(
            seen=one,
            mature=Case(When(interval__gte=figures.MATURE_DAYS, then=one), default=zero),
            n=zero,
            passed=zero,
        )
        .values(*columns)
        .order_by()
    )
    since = today - dt.timedelta(days=figures.RECENT_DAYS - 1)
    reviews = (
        _classified(counted_log(user).filter(reviewed_on__gte=since, reviewed_on__lte=today))
        .filter(IS_SEEN_REVIEW)
        .annotate(seen=zero, mature=zero, n=one, passed=Case(When(PASSED, then=one), default=zero))
        .values(*columns)
        .order_by()
    )
    sql, params = states.union(reviews, all=True).query.sql_with_params()
    quote = connection.ops.quote_name
    through, tag_id, card_id = quote(Card.tags.through._meta.db_table), quote("tag_id"), quote("card_id")
    sums = ", ".join(f"SUM(r.{quote(c)}) AS {c}" for c in columns[1:])
    query = (  # names from the models and this function, every value a parameter
        f"SELECT t.{quote('name')}, a.seen, a.mature, a.n, a.passed FROM ("  # noqa: S608
        f"SELECT ct.{tag_id} AS tag_id, {sums} FROM ({sql}) AS r"
        f" INNER JOIN {through} AS ct ON ct.{card_id} = r.{card_id} GROUP BY ct.{tag_id}"
        f") AS a INNER JOIN {quote(Tag._meta.db_table)} AS t ON t.{quote('id')} = a.tag_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return [
        figures.Concept(name=name, seen=int(seen), mature=int(mature), recent=figures.Share(int(passed), int(n)))
        for name, seen, mature, n, passed in rows
        if seen
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

    Five queries whatever the history's size.
    """
    since = figures.week_start(today) - dt.timedelta(weeks=figures.RETENTION_WEEKS - 1)
    totals, grades, retention_days = days(user, min(since, today - dt.timedelta(days=figures.RECENT_DAYS - 1)))
    forecast = figures.forecast(due_by_day(user, today + dt.timedelta(days=figures.FORECAST_DAYS - 1)), today)
    progress = challenges(user, zone)
    intervals, easiness = distribution_counts(user)
    return StatsPage(
        today=today,
        streak=figures.streak((day for day, row in totals.items() if row.reviews), today),
        recent=figures.recent(totals, retention_days, today),
        heatmap=figures.heatmap(totals, today),
        forecast=forecast,
        retention=figures.weekly_retention(retention_days, today),
        time=figures.daily_time(totals, today),
        intervals=figures.interval_buckets(intervals),
        easiness=figures.easiness_buckets(easiness),
        grades=grades,
        concepts=figures.weakest_first(concepts(user, today)),
        challenges=progress,
        median_time_to_pass=figures.median_time_to_pass(progress),
    )


def studied_days(user: AbstractBaseUser) -> list[dt.date]:
    """The local days on which the user answered at least one review or new card (the streak's days)."""
    return list(DayRollup.objects.filter(user=user, reviews__gt=0).order_by("day").values_list("day", flat=True))


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
