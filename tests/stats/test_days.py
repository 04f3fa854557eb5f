"""Days on /stats/: the streak, the calendar and time per day, in the learner's own zone across a DST change.

The learner is in Auckland and looks on Thursday 10 April 2025 at 09:00 (tests/stats/conftest.py).
Auckland left daylight saving at 03:00 on Sunday 6 April 2025 (UTC+13 to UTC+12): that day had 25 hours.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from cards.review import queue
from tests.factories import make_card, make_review_log, make_state, make_undo_log, make_user
from tests.stats.conftest import april, local, march, table_rows
from tests.stats.test_page import stats_html, summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner():
    return make_user(timezone="Pacific/Auckland")


def one_review(user, day, source="review", card=None):
    return make_review_log(user=user, card=card or make_card(), at=local(day), source=source, interval_before=3)


@pytest.fixture
def broken_streaks(learner):
    """Days with a review or new card: 10 March (imported), 12-13, 15-20 March, 1-4 April, 6-9 April.

    The gaps: 11 March (nothing), 14 March (only a challenge verdict), 21 March (only an answer that was
    undone), 22-31 March (nothing), 5 April (only a re-drill). Nothing yet today, 10 April.
    """
    one_review(learner, march(10), source="import")
    for day in (12, 13, 15, 16, 17, 18, 19, 20):
        one_review(learner, march(day))
    one_review(learner, march(14), source="challenge")
    make_undo_log(undone=one_review(learner, march(21)))
    for day in (1, 2, 3, 4, 6, 7, 8, 9):
        one_review(learner, april(day))
    one_review(learner, april(5), source="redrill")
    return learner


def test_streak_ends_yesterday_until_something_is_answered_today(client, clock, broken_streaks):
    html = stats_html(client, broken_streaks)

    # 6-9 April; 5 April had only a re-drill, which does not count, so the streak is not 1-9 April.
    assert summary(html)["Current streak"] == "4 days"
    # 15-20 March; 14 March (a verdict) and 21 March (an undone answer) do not count.
    assert summary(html)["Longest streak"] == "6 days"
    assert "Nothing answered yet today: answer a review or a new card to keep your 4-day streak going." in html


def test_an_answer_today_extends_the_streak(client, clock, broken_streaks):
    one_review(broken_streaks, april(10))  # at noon; the page is looked at after it
    clock(local(april(10), 13))

    html = stats_html(client, broken_streaks)

    assert summary(html)["Current streak"] == "5 days"
    assert summary(html)["Longest streak"] == "6 days"
    assert "Nothing answered yet today" not in html


def test_a_streak_that_ended_before_yesterday_is_zero(client, clock, broken_streaks):
    clock(local(april(11), 9))  # Friday: nothing answered on Thursday either

    assert summary(stats_html(client, broken_streaks))["Current streak"] == "0 days"


def test_real_answers_across_the_dst_change_fall_on_local_days(client, clock, learner):
    """Answers through the review's own code (queue.answer/undo), at instants around the change."""
    cards = [make_card() for _ in range(4)]
    states = [
        make_state(user=learner, card=card, due_on=april(1), interval=6, repetitions=2, last_reviewed_on=march(26))
        for card in cards
    ]

    def answer(state, quality, instant, ms):
        state.refresh_from_db()
        result = queue.answer(
            learner, state.pk, version=state.version, quality=quality, request_id=uuid.uuid4(), duration_ms=ms,
            now=instant,
        )  # fmt: skip
        assert result.outcome is queue.Outcome.APPLIED
        return result

    answer(states[0], 4, local(april(5), 23, 50), 120_000)  # Saturday 23:50 NZDT (10:50 UTC): 5 April
    answer(states[1], 5, local(april(6), 0, 30), 30_000)  # Sunday 00:30 NZDT (11:30 UTC on the 5th): 6 April
    answer(states[2], 2, local(april(6), 23, 0), 60_000)  # Sunday 23:00 NZST (11:00 UTC): still 6 April
    redrill = answer(states[2], 4, local(april(6), 23, 30), 30_000)  # the same card again: a re-drill
    assert redrill.log.source == "redrill"
    answer(states[3], 1, local(april(6), 23, 40), 50_000)
    undone = queue.undo(learner, request_id=uuid.uuid4(), now=local(april(6), 23, 41))
    assert undone.outcome is queue.Outcome.APPLIED

    html = stats_html(client, learner)

    labels = dict(re.findall(r'data-day="([\d-]+)"><title>([^<]+)</title>', html))
    assert labels["2025-04-05"] == "Sat 5 Apr 2025: 1 review, 2 min"
    # Two reviews and the re-drill, 30 + 60 + 30 s; the undone answer's 50 s count nowhere.
    assert labels["2025-04-06"] == "Sun 6 Apr 2025: 2 reviews and 1 re-drill, 2 min"
    assert labels["2025-04-07"] == "Mon 7 Apr 2025: 0 reviews"
    assert labels["2025-04-10"] == "Thu 10 Apr 2025: 0 reviews (today)"
    levels = {day: level for level, day in re.findall(r'class="heat heat-(\d)[^"]*"[^>]*?data-day="([\d-]+)"', html)}
    # Intensity by count against the busiest day of the year (6 April, 2 reviews): ceil(4 * 1 / 2) = 2 on the 5th.
    assert [levels[f"2025-04-{d:02d}"] for d in range(4, 11)] == ["0", "2", "4", "0", "0", "0", "0"]
    time = dict(map(tuple, table_rows(html, "time-table")))
    assert time["Sat 5 Apr"] == "2 min"
    assert time["Sun 6 Apr"] == "2 min"
    assert time["Thu 10 Apr"] == "0 min"
    assert summary(html)["Longest streak"] == "2 days"
    assert summary(html)["Current streak"] == "0 days"


def test_the_calendar_lists_each_day_with_its_count_and_minutes(client, clock, learner):
    card = make_card()
    for minute, ms in ((0, 60_000), (1, 90_000), (2, 30_000)):
        make_review_log(user=learner, card=card, at=local(april(9), 20, minute), duration_ms=ms)
    make_review_log(user=learner, card=card, at=local(april(9), 20, 5), source="redrill", duration_ms=45_000)
    make_review_log(user=learner, card=card, at=local(march(3), 8), source="import", duration_ms=None)

    html = stats_html(client, learner)

    listed = re.search(r'<ul class="day-list">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", listed) == [
        "Wed 9 Apr 2025: 3 reviews and 1 re-drill, 4 min",  # 60 + 90 + 30 + 45 s = 3 min 45 s
        "Mon 3 Mar 2025: 1 review, 0 min",  # an import without a duration
    ]


def test_the_glance_for_the_home_page(rf: RequestFactory, clock, broken_streaks):
    card = make_card()
    make_state(user=broken_streaks, card=card, due_on=april(11), last_reviewed_on=april(8), interval=3)
    make_state(user=broken_streaks, card=make_card(), due_on=april(3), last_reviewed_on=march(30), interval=4)
    request = rf.get("/")
    request.user = broken_streaks

    html = Template("{% load stats_glance %}{% stats_glance %}").render(Context({"request": request}))

    figures = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))
    assert figures == {"Streak": "4 days", "Due today": "1", "Due tomorrow": "1"}
    assert 'href="/stats/"' in html


def test_the_glance_is_empty_for_a_visitor(rf: RequestFactory):
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()

    assert Template("{% load stats_glance %}{% stats_glance %}").render(Context({"request": request})).strip() == ""


def test_days_of_history_before_the_calendar_still_count_for_the_longest_streak(client, clock, learner):
    for offset in range(3):
        one_review(learner, dt.date(2023, 1, 1) + dt.timedelta(days=offset))

    html = stats_html(client, learner)

    assert summary(html)["Longest streak"] == "3 days"
    assert "2023-01-01" not in html  # more than a year ago: not in the calendar


def test_home_shows_the_streak_due_tomorrow_and_the_way_to_the_stats(client, clock, broken_streaks):
    make_state(user=broken_streaks, card=make_card(), due_on=april(11), last_reviewed_on=april(8), interval=3)
    client.force_login(broken_streaks)
    html = client.get("/").content.decode()
    figures = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))
    assert figures["Streak"] == "4 days" and figures["Due tomorrow"] == "1"
    assert "Due today" not in figures  # home counts today's queue itself ("Due for review")
    assert 'href="/stats/"' in html
