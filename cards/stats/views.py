"""The stats page (/stats/) and the learner's own data as CSV. Thin: the figures come from queries.py."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from cards.review import queue, sm2
from cards.stats import charts, figures, queries


@require_GET
@login_required
def stats(request: HttpRequest) -> HttpResponse:
    """Calendar, forecast, retention, streak, time, distributions, concepts, challenges, downloads."""
    profile = queue.profile_for(request.user)
    today = queue.local_today(profile)
    page = queries.stats_page(request.user, profile.zone(), today)
    forecast_chart = charts.bar_chart(
        [d.value for d in page.forecast],
        [f"{d.day:%a} {d.day.day} {d.day:%b}: {figures.plural(d.value, 'review')}" for d in page.forecast],
        charts.day_axis([d.day for d in page.forecast]),
    )
    minutes = [round(d.value / 60000, 1) for d in page.time]
    time_chart = charts.bar_chart(
        minutes,
        [f"{d.day:%a} {d.day.day} {d.day:%b}: {figures.format_duration_ms(d.value)}" for d in page.time],
        charts.day_axis([d.day for d in page.time]),
    )
    context = {
        "page": page,
        "profile": profile,
        # Built in Python, every value escaped there (charts.heatmap_svg): ~370 cells in a template loop are slow.
        "heat_svg": mark_safe(  # noqa: S308
            charts.heatmap_svg(
                charts.heatmap_geometry(page.heatmap), "Calendar of reviews per day; arrow keys move between days"
            )
        ),
        "heat_active": [d for d in reversed(page.heatmap) if d.reviews or d.redrills],
        "heat_levels": range(figures.HEAT_LEVELS + 1),
        "forecast_chart": forecast_chart,
        "forecast_total": sum(d.value for d in page.forecast),
        "time_chart": time_chart,
        "time_rows": [(d, figures.format_duration_ms(d.value)) for d in reversed(page.time)],
        "intervals": _with_bars(page.intervals),
        "easiness": _with_bars(page.easiness),
        "grades": list(
            zip(
                reversed(page.grades),
                [sm2.QUALITY_MEANINGS[g.quality] for g in reversed(page.grades)],
                reversed(charts.proportions([g.reviews for g in page.grades])),
                strict=True,
            )
        ),
        "median_time_to_pass": (
            figures.format_timedelta(page.median_time_to_pass) if page.median_time_to_pass is not None else None
        ),
        "recent_time": figures.format_duration_ms(page.recent.duration_ms),
        "definitions": figures.DEFINITIONS,
        "mature_days": figures.MATURE_DAYS,
        "recent_days": figures.RECENT_DAYS,
    }
    return render(request, "stats/stats.html", context)


def _with_bars(buckets: list[figures.Bucket]) -> list[tuple[figures.Bucket, float]]:
    return list(zip(buckets, charts.proportions([b.count for b in buckets]), strict=True))


class _Echo:
    """A file-like object whose write returns the line: csv.writer, one row at a time, for streaming."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts with one of these as a formula: such cells get a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return "" if cell is None else cell


def _csv_response(filename: str, header: Iterable[str], rows: Iterable[tuple]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_safe(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
def review_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Your review log, every row (undo rows and undone answers included, marked), oldest first."""
    return _csv_response("review-log.csv", queries.REVIEW_LOG_COLUMNS, queries.review_log_rows(request.user))


@require_GET
@login_required
def attempts_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Your challenge attempts, with the code you sent, oldest first."""
    return _csv_response("challenge-attempts.csv", queries.ATTEMPT_COLUMNS, queries.attempt_rows(request.user))
