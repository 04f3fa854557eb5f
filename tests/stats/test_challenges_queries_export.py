"""/stats/: challenge progress, the number of queries whatever the history, and the CSV downloads."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.challenges.models import Submission
from tests.factories import (
    make_card,
    make_challenge,
    make_review_log,
    make_state,
    make_submission,
    make_undo_log,
    make_user,
)
from tests.stats.conftest import april, element, local, table_rows
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner():
    return make_user(timezone="Pacific/Auckland")


def attempt(user, challenge, at: dt.datetime, passed: bool | None, code: str = "PASS\n") -> Submission:
    submission = make_submission(
        user=user, challenge=challenge, code=code, status=Submission.Status.GRADED if passed is not None else "queued",
        passed=passed,
    )  # fmt: skip
    Submission.objects.filter(pk=submission.pk).update(created_at=at)
    return submission


def test_challenges_attempts_passes_first_pass_date_and_median_time_to_pass(client, clock, learner):
    first = make_challenge(title="Blocking call", position=1)
    second = make_challenge(title="Gather with a limit", position=2)
    third = make_challenge(title="Threads or processes", position=3)
    attempt(learner, first, utc(2025, 4, 1, 10, 0), passed=False)
    # 11:30 UTC on 6 April is 23:30 NZST, the 6th in Auckland (on the summer's UTC+13 it would be the 7th).
    attempt(learner, first, utc(2025, 4, 6, 11, 30), passed=True)
    attempt(learner, first, utc(2025, 4, 7, 9, 0), passed=True)
    attempt(learner, second, utc(2025, 4, 8, 0, 0), passed=False)
    attempt(learner, second, utc(2025, 4, 8, 2, 0), passed=True)
    attempt(learner, third, utc(2025, 4, 9, 3, 0), passed=False)
    attempt(learner, third, utc(2025, 4, 9, 4, 0), passed=None)  # still queued
    attempt(make_user(), first, utc(2025, 4, 2), passed=True)  # someone else's

    client.force_login(learner)
    html = client.get("/stats/").content.decode()

    assert table_rows(html, "challenges") == [
        ["Blocking call", "3", "Yes", "6 Apr 2025"],
        ["Gather with a limit", "2", "Yes", "8 Apr 2025"],  # 02:00 UTC is 14:00 in Auckland
        ["Threads or processes", "2", "Not yet", "—"],
    ]
    # 5 d 1 h 30 min and 2 h: the median of two is their mean, 2 d 13 h 45 min (shown to the hour).
    assert element(html, "median-time-to-pass") == "2 d 13 h"


def test_no_pass_yet(client, clock, learner):
    attempt(learner, make_challenge(), utc(2025, 4, 9, 3, 0), passed=False)

    client.force_login(learner)
    html = client.get("/stats/").content.decode()

    assert element(html, "median-time-to-pass") == "no pass yet"


def history(user, days: int, cards_per_day: int) -> None:
    """`days` days of reviews, re-drills and undos on cards of two concepts, and challenge attempts."""
    cards = [make_card(tags=["gil", "event-loop"][i % 2 : i % 2 + 1]) for i in range(cards_per_day)]
    for card in cards:
        make_state(user=user, card=card, due_on=april(12), last_reviewed_on=april(9), interval=5)
    for offset in range(days):
        day = april(9) - dt.timedelta(days=offset)
        for i, card in enumerate(cards):
            log = make_review_log(user=user, card=card, at=local(day, 10, i), quality=i % 6, interval_before=i * 7)
            make_review_log(user=user, card=card, at=local(day, 11, i), source="redrill", quality=4)
            if i == 0:
                make_undo_log(undone=log)
    for challenge in (make_challenge(), make_challenge()):
        attempt(user, challenge, utc(2025, 4, 1), passed=False)
        attempt(user, challenge, utc(2025, 4, 2), passed=True)


def page_queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/stats/")
    assert response.status_code == 200
    return len(queries)


def test_the_page_takes_the_same_queries_for_a_short_and_a_long_history(client, clock):
    short, long = make_user(timezone="Pacific/Auckland"), make_user(timezone="Pacific/Auckland")
    history(short, days=1, cards_per_day=1)
    history(long, days=40, cards_per_day=6)

    counts = (page_queries(client, short), page_queries(client, long))

    # The session, the user, the profile and the study day's once-a-day update; then the five aggregates of
    # cards/stats/queries.py (the days from the rollup, due dates, challenges, intervals and easiness in one
    # pass, concepts).
    assert counts == (9, 9)


def read_csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_download_the_review_log(client, clock, learner):
    card = make_card(key="gil-basics")
    kept = make_review_log(user=learner, card=card, at=local(april(8), 9), quality=5, interval_before=6,
                           duration_ms=4200)  # fmt: skip
    undone = make_review_log(user=learner, card=card, at=local(april(9), 9), quality=1, interval_before=15)
    undo = make_undo_log(undone=undone)
    make_review_log(user=make_user(), card=card, at=local(april(9), 9))  # someone else's

    client.force_login(learner)
    response = client.get("/stats/review-log.csv")

    assert response["Content-Disposition"] == 'attachment; filename="review-log.csv"'
    rows = read_csv(response)
    assert [(r["id"], r["source"], r["quality"], r["undone_by"], r["undoes"]) for r in rows] == [
        (str(kept.pk), "review", "5", "", ""),
        (str(undone.pk), "review", "1", str(undo.pk), ""),
        (str(undo.pk), "undo", "", "", str(undone.pk)),
    ]
    first = rows[0]
    assert first["answered_at_utc"] == "2025-04-07T21:00:00+00:00"  # 09:00 on the 8th in Auckland
    assert first["day"] == "2025-04-08"
    assert (first["card"], first["duration_ms"], first["interval_before"], first["interval_after"]) == (
        "gil-basics", "4200", "6", "6",
    )  # fmt: skip


def test_download_the_attempts_with_formulas_defused(client, clock, learner):
    challenge = make_challenge(slug="blocking-call")
    attempt(learner, challenge, utc(2025, 4, 1, 10), passed=False, code='=HYPERLINK("http://evil")\n')
    attempt(learner, challenge, utc(2025, 4, 2, 10), passed=True)

    client.force_login(learner)
    rows = read_csv(client.get("/stats/attempts.csv"))

    assert [(r["challenge"], r["attempt"], r["submitted_at_utc"], r["passed"]) for r in rows] == [
        ("blocking-call", "1", "2025-04-01T10:00:00+00:00", "no"),
        ("blocking-call", "2", "2025-04-02T10:00:00+00:00", "yes"),
    ]
    assert rows[0]["code"] == '\'=HYPERLINK("http://evil")\n'  # a spreadsheet shows it, never runs it
    assert rows[1]["code"] == "PASS\n"


def test_downloads_need_a_login(client):
    for path in ("/stats/review-log.csv", "/stats/attempts.csv"):
        assert client.get(path).status_code == 302
