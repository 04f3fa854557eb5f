"""The geometry of the stats page's SVG charts, drawn on the server. Pure: no Django.

Each function returns coordinates in the SVG's own user units (its viewBox); the templates only
write them out. The Content-Security-Policy allows no inline style, so everything a chart needs
is an SVG attribute or a class in static/css/stats.css.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from cards.stats.figures import HeatDay

# --- the calendar heatmap --------------------------------------------------------------------------

CELL = 11
STEP = 13  # cell and gap
HEAT_LEFT = 30  # weekday labels
HEAT_TOP = 16  # month labels
HEAT_RIGHT = 16  # room for a month's name over the last week
WEEKDAY_LABELS = ((0, "Mon"), (2, "Wed"), (4, "Fri"), (6, "Sun"))


@dataclass(frozen=True, slots=True)
class HeatCell:
    x: int
    y: int
    day: HeatDay


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class Heatmap:
    width: int
    height: int
    cells: list[HeatCell]
    months: list[Label]
    weekdays: list[Label]
    cell: int = CELL


def heatmap_geometry(days: Sequence[HeatDay]) -> Heatmap:
    """One column a week (Monday at the top), a month's name over the week its first day falls in."""
    columns = (days[-1].column + 1) if days else 0
    cells = [HeatCell(HEAT_LEFT + d.column * STEP, HEAT_TOP + d.row * STEP, d) for d in days]
    months: list[Label] = []
    last_column = -10
    for d in days:
        if d.day.day == 1 and d.column - last_column >= 3:
            months.append(Label(HEAT_LEFT + d.column * STEP, HEAT_TOP - 5, f"{d.day:%b}"))
            last_column = d.column
    weekdays = [Label(HEAT_LEFT - 4, HEAT_TOP + row * STEP + CELL - 2, text) for row, text in WEEKDAY_LABELS]
    return Heatmap(HEAT_LEFT + columns * STEP + HEAT_RIGHT, HEAT_TOP + 7 * STEP, cells, months, weekdays)


def heatmap_svg(heatmap: Heatmap, label: str) -> str:
    """The calendar as SVG markup (escaped here: ~370 days are too many for a template loop's speed).

    Each day is a focusable cell (only today in the Tab order; static/js/stats.js moves along
    with the arrow keys) with its figures in `aria-label` and, for a hover without JavaScript, `<title>`.
    """
    parts = [
        f'<svg class="heatmap" id="heatmap" width="{heatmap.width}" height="{heatmap.height}" '
        f'viewBox="0 0 {heatmap.width} {heatmap.height}" role="group" aria-label="{escape(label)}">'
    ]
    parts += [f'<text class="axis" x="{m.x}" y="{m.y}">{escape(m.text)}</text>' for m in heatmap.months]
    parts += [
        f'<text class="axis" x="{w.x}" y="{w.y}" text-anchor="end">{escape(w.text)}</text>' for w in heatmap.weekdays
    ]
    for cell in heatmap.cells:
        day = cell.day
        text = escape(day.label)
        today = " heat-today" if day.today else ""
        parts.append(
            f'<rect class="heat heat-{day.level}{today}" x="{cell.x}" y="{cell.y}" width="{heatmap.cell}" '
            f'height="{heatmap.cell}" rx="2" role="img" tabindex="{0 if day.today else -1}" aria-label="{text}" '
            f'data-day="{day.day.isoformat()}"><title>{text}</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- bar charts ------------------------------------------------------------------------------------

BAR_WIDTH = 420
BAR_HEIGHT = 170
BAR_LEFT = 34  # y-axis labels
BAR_BOTTOM = 22  # x-axis labels
BAR_TOP = 8


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # what a hover shows: "Tue 4 Mar: 12 reviews"


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    text: str


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[Label]
    left: int
    right: int
    baseline: float


def nice_ceiling(value: float) -> int:
    """The axis' top: the smallest of 2, 4, 6, 8 times a power of ten (from 1) at or above `value`.

    Even, so the middle tick is a whole number too.
    """
    power = 1
    while True:
        for step in (2, 4, 6, 8):
            if step * power >= value:
                return step * power
        power *= 10


def bar_chart(
    values: Sequence[float],
    bar_labels: Sequence[str],
    axis_labels: Sequence[tuple[int, str]],
    tick_format: str = "{:g}",
) -> BarChart:
    """Vertical bars for `values` (one per slot), y axis from 0 to a round maximum with a middle tick.

    `axis_labels` are (slot index, text) pairs written under the bars.
    """
    top = nice_ceiling(max(values, default=0))
    plot_width = BAR_WIDTH - BAR_LEFT - 4
    plot_height = BAR_HEIGHT - BAR_TOP - BAR_BOTTOM
    slot = plot_width / max(1, len(values))
    baseline = BAR_TOP + plot_height
    bars = []
    for i, (value, label) in enumerate(zip(values, bar_labels, strict=True)):
        height = plot_height * value / top if value else 0
        bars.append(Bar(round(BAR_LEFT + i * slot + slot * 0.15, 2), round(baseline - height, 2),
                        round(slot * 0.7, 2), round(height, 2), label))  # fmt: skip
    ticks = [Tick(round(baseline - plot_height * f, 2), tick_format.format(top * f)) for f in (0, 0.5, 1)]
    labels = [Label(round(BAR_LEFT + (i + 0.5) * slot, 2), BAR_HEIGHT - 6, text) for i, text in axis_labels]
    return BarChart(BAR_WIDTH, BAR_HEIGHT, bars, ticks, labels, BAR_LEFT, BAR_WIDTH - 4, baseline)


def day_axis(days: Sequence[dt.date], every: int = 7) -> list[tuple[int, str]]:
    """Labels under a chart of consecutive days: the first day and every `every`-th after it ("4 Mar")."""
    return [(i, f"{day.day} {day:%b}") for i, day in enumerate(days) if i % every == 0]


def proportions(counts: Sequence[int]) -> list[float]:
    """Each count as a percentage of the largest (for the bars inside a table), 0 when all are 0."""
    largest = max(counts, default=0)
    return [round(100 * count / largest, 1) if largest else 0 for count in counts]
