"""/stats/: every figure against a small log computed by hand (docs/stats.md has the definitions).

The learner lives in Auckland (UTC+13, then UTC+12 after daylight saving ended on Sunday
6 April 2025) and looks at the page at 09:00 on Thursday 10 April 2025 (still 9 April in UTC).
Weeks run Monday to Sunday: 24-30 March, 31 March-6 April, 7-13 April (the current one).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from cards.review.models import ReviewLog
from tests.factories import make_card, make_review_log, make_state, make_undo_log, make_user
from tests.stats.conftest import april, element, local, march, table_rows, text_of

pytestmark = pytest.mark.django_db

REVIEW, REDRILL, IMPORT, CHALLENGE = "review", "redrill", "import", "challenge"


@pytest.fixture
def learner():
    return make_user(timezone="Pacific/Auckland")


@pytest.fixture
def month(learner):
    """A month of history on five cards (tags in brackets), every row written out:

    c1 [event-loop], c2 [event-loop, gil], c3 [gil], c4 [asyncio], c5 (no tag); c6 [gil] shown, never answered.

    Tue 25 Mar   c1 new q5; c2 new q1, re-drills q2 and q4
    Tue  1 Apr   c1 q4 (interval before 6: young); c2 q2 (1: young), re-drill q4; c3 q5 (30: mature);
                 c4 q2 (21: mature); c5 q3 (20: young); c3 q1 (30) undone; c4 challenge verdict q5
    Tue  8 Apr   c1 imported q4 (40: mature); c2 q4 (1: young)
    """
    c1 = make_card(tags=["event-loop"])
    c2 = make_card(tags=["event-loop", "gil"])
    c3 = make_card(tags=["gil"])
    c4 = make_card(tags=["asyncio"])
    c5 = make_card()
    c6 = make_card(tags=["gil"])

    def log(card, day, quality, source=REVIEW, interval=1, new=False, minute=0):
        return make_review_log(
            user=learner, card=card, at=local(day, 12, minute), quality=quality, source=source,
            interval_before=interval, new=new, duration_ms=10_000,
        )  # fmt: skip

    log(c1, march(25), 5, new=True)
    log(c2, march(25), 1, new=True, minute=1)
    log(c2, march(25), 2, REDRILL, minute=2)
    log(c2, march(25), 4, REDRILL, minute=3)
    log(c1, april(1), 4, interval=6)
    log(c2, april(1), 2, interval=1, minute=1)
    log(c2, april(1), 4, REDRILL, minute=2)
    log(c3, april(1), 5, interval=30, minute=3)
    log(c4, april(1), 2, interval=21, minute=4)
    log(c5, april(1), 3, interval=20, minute=5)
    make_undo_log(undone=log(c3, april(1), 1, interval=30, minute=6))
    log(c4, april(1), 5, CHALLENGE, interval=21, minute=7)
    log(c1, april(8), 4, IMPORT, interval=40)
    log(c2, april(8), 4, interval=1, minute=1)

    # The schedule as it stands: (card, interval, easiness, due on).
    for card, interval, easiness, due_on in (
        (c1, 45, "2.60", april(20)),
        (c2, 1, "1.30", april(9)),  # overdue: counts on today
        (c3, 70, "2.50", april(10)),
        (c4, 1, "2.36", april(11)),
        (c5, 25, "2.80", dt.date(2025, 5, 10)),  # 30 days on: past the forecast's last day (9 May)
    ):
        make_state(
            user=learner, card=card, interval=interval, easiness=Decimal(easiness), due_on=due_on,
            last_reviewed_on=april(8), repetitions=3,
        )  # fmt: skip
    make_state(user=learner, card=c6, due_on=april(10), introduced_on=april(10))  # new: not a scheduled review
    return learner


def stats_html(client, user) -> str:
    client.force_login(user)
    response = client.get("/stats/")
    assert response.status_code == 200
    return response.content.decode()


def summary(html: str) -> dict[str, str]:
    block = re.search(r'<dl class="stats stats-summary">(.*?)</dl>', html, re.S).group(1)
    return {text_of(dt_): text_of(dd) for dt_, dd in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", block, re.S)}


def test_retention_by_week_young_mature_and_redrills_apart(client, clock, month):
    html = stats_html(client, month)

    assert table_rows(html, "retention-table") == [
        # Week of, young, mature, all reviews (young + mature), re-drills
        ["7 Apr", "100% 1 of 1", "100% 1 of 1", "100% 2 of 2", "—"],
        ["31 Mar", "67% 2 of 3", "50% 1 of 2", "60% 3 of 5", "100% 1 of 1"],
        ["24 Mar", "—", "—", "—", "50% 1 of 2"],  # the two new cards' first answers are in none
    ]


def test_the_summary_last_30_days(client, clock, month):
    figures = summary(stats_html(client, month))

    # Reviews: 2 new + 5 on 1 April (not the undone one, not the verdict) + 2 on 8 April (the import counts).
    assert figures["Reviews, last 30 days"] == "9 of which 2 new"
    # Retention: seen cards only (no first answers): 3 of 5 on 1 April, 2 of 2 on 8 April.
    assert figures["Retention, last 30 days"] == "71%"
    # Time: 10 s for each of 9 reviews and 3 re-drills (the undone answer and the verdict count nowhere).
    assert figures["Time, last 30 days"] == "2 min"
    assert figures["Due today"] == "2"
    assert figures["Due tomorrow"] == "1"


def test_forecast_from_the_schedule(client, clock, month):
    html = stats_html(client, month)

    rows = dict(map(tuple, table_rows(element_html(html, "forecast-heading"), "forecast-table")))
    assert len(rows) == 30
    assert rows["Thu 10 Apr (today)"] == "2"  # c3 due today, c2 overdue; c6 is a new card
    assert rows["Fri 11 Apr"] == "1"
    assert rows["Sun 20 Apr"] == "1"
    assert rows["Fri 9 May"] == "0"  # the last day shown; c5 is due the day after
    assert sum(int(v) for v in rows.values()) == 4
    assert "4 scheduled reviews from the schedule as it stands: 2 today (anything overdue included), 1 tomorrow" in (
        element(html, "forecast-summary")
    )


def element_html(html: str, heading_id: str) -> str:
    """The HTML of the section a heading opens."""
    match = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert match, heading_id
    return match.group(1)


def test_distributions_of_intervals_easiness_and_grades(client, clock, month):
    html = stats_html(client, month)

    intervals = {label: count for label, count, _bar in table_rows(html, "intervals")}
    assert intervals == {
        "1 day or less": "2",  # c2, c4
        "2–3 days": "0",
        "4–7 days": "0",
        "8–14 days": "0",
        "15–20 days": "0",
        "21–30 days": "1",  # c5 (25)
        "31–90 days": "2",  # c1 (45), c3 (70)
        "91–180 days": "0",
        "181–365 days": "0",
        "Over a year": "0",
    }
    easiness = {label: count for label, count, _bar in table_rows(html, "easiness")}
    assert easiness == {
        "1.30–1.49": "1",  # c2
        "1.50–1.69": "0",
        "1.70–1.89": "0",
        "1.90–2.09": "0",
        "2.10–2.29": "0",
        "2.30–2.49": "1",  # c4 2.36
        "2.50–2.69": "2",  # c1 2.60, c3 2.50
        "2.70 or more": "1",  # c5 2.80
    }
    grades = [(grade.split()[0], reviews, redrills) for grade, reviews, redrills, _bar in table_rows(html, "grades")]
    assert grades == [
        ("5", "2", "0"),  # c1 new, c3
        ("4", "3", "2"),  # c1, c1 imported, c2; re-drills of c2 on 25 March and 1 April
        ("3", "1", "0"),  # c5
        ("2", "2", "1"),  # c2, c4; a re-drill of c2
        ("1", "1", "0"),  # c2 new (the undone q1 counts nowhere)
        ("0", "0", "0"),
    ]


def test_concepts_weakest_first(client, clock, month):
    html = stats_html(client, month)

    assert table_rows(html, "concepts") == [
        # Concept, cards seen, mature now (interval >= 21), retention of the last 30 days
        ["asyncio", "1", "0% 0 of 1", "0% 0 of 1"],  # c4 q2
        ["gil", "2", "50% 1 of 2", "67% 2 of 3"],  # c2 q2, c2 q4, c3 q5 (c6 never answered)
        ["event-loop", "2", "50% 1 of 2", "75% 3 of 4"],  # c1 q4, c1 import q4, c2 q2, c2 q4
    ]


def test_the_definitions_are_on_the_page(client, clock, month):
    text = text_of(stats_html(client, month))

    assert "under 21 days is young" in text
    assert "answered at least one review or new card (re-drills alone do not count)" in text
    assert "Undone answers count nowhere, and challenge verdicts count only under Challenges" in text


def test_the_page_needs_a_login(client):
    response = client.get("/stats/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_learner_sees_only_their_own_log(client, clock, month):
    other = make_user(timezone="Pacific/Auckland")
    html = stats_html(client, other)

    assert summary(html)["Reviews, last 30 days"] == "0"
    assert "No reviews in the last 12 weeks yet." in html
    assert "No concepts yet" in html
    assert "No challenge attempts yet" in html


def test_an_undo_row_and_the_answer_it_took_back_count_nowhere(client, clock, learner):
    card = make_card(tags=["gil"])
    undone = make_review_log(user=learner, card=card, at=local(april(9)), quality=1, interval_before=30)
    make_undo_log(undone=undone)

    html = stats_html(client, learner)

    assert summary(html)["Reviews, last 30 days"] == "0"
    assert summary(html)["Current streak"] == "0 days"
    assert ReviewLog.objects.filter(user=learner).count() == 2


def test_a_new_learner_sees_an_empty_page(client, clock):
    html = stats_html(client, make_user(timezone="Pacific/Auckland"))

    assert summary(html) == {
        "Current streak": "0 days",
        "Longest streak": "0 days",
        "Due today": "0",
        "Due tomorrow": "0",
        "Reviews, last 30 days": "0",
        "Retention, last 30 days": "—",
        "Time, last 30 days": "0 min",
    }


def test_heatmap_spans_the_last_year_in_whole_weeks(client, clock, month):
    html = stats_html(client, month)

    days = re.findall(r'data-day="([\d-]+)"', html)
    # 365 days back from Thursday 10 April 2025 starts on 11 April 2024 (a Thursday): its week from Monday 8 April.
    assert days[0] == "2024-04-08"
    assert days[-1] == "2025-04-10"
    assert len(days) == len(set(days)) == 368
    today_cell = re.search(r'<rect class="heat [^"]*heat-today"[^>]*>', html).group(0)
    assert 'data-day="2025-04-10"' in today_cell
    assert 'tabindex="0"' in today_cell
    assert len(re.findall(r'tabindex="0"', element_html(html, "calendar-heading"))) == 1
