"""The stats' figures computed from the raw review log: the reference the trigger-kept rollup must equal.

These are the queries /stats/ ran before the rollup (cards/stats/models.py) and before the concepts'
hand-written join to the tags, kept unchanged so the tests can check, on SQLite and PostgreSQL alike,
that the page's queries give the same figures.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from cards.review.models import ReviewLog
from cards.stats import figures
from cards.stats.queries import (
    IS_NEW,
    IS_REVIEW,
    IS_SEEN_REVIEW,
    IS_YOUNG,
    PASSED,
    REDRILL,
    REVIEW_SOURCES,
    _classified,
    counted_log,
    seen_states,
)


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


def studied_days(user: AbstractBaseUser) -> list[dt.date]:
    """The local days on which the user answered at least one review or new card (the streak's days)."""
    return list(
        counted_log(user).filter(IS_REVIEW).values_list("reviewed_on", flat=True).distinct().order_by("reviewed_on")
    )


def concepts(user: AbstractBaseUser, today: dt.date) -> list[figures.Concept]:
    """Per tag of the cards: cards seen, of which mature now, and retention over the last 30 days (all ORM joins)."""
    seen = (
        seen_states(user)
        .filter(card__tags__isnull=False)
        .values("card__tags__name")
        .annotate(seen=Count("pk"), mature=Count("pk", filter=Q(interval__gte=figures.MATURE_DAYS)))
        .order_by()
    )
    since = today - dt.timedelta(days=figures.RECENT_DAYS - 1)
    recent = (
        _classified(
            ReviewLog.objects.filter(
                user=user,
                source__in=(*REVIEW_SOURCES, REDRILL),
                undone_by__isnull=True,
                reviewed_on__gte=since,
                reviewed_on__lte=today,
            )  # fmt: skip
        )
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
