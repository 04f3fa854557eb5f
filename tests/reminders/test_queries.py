"""A run's SQL does not grow with the number of learners: the same count for 20 as for 200."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.reminders.models import ReminderSend
from cards.reminders.sending import explain, send_due_reminders
from tests.factories import make_learners
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db

ZONES = ("UTC", "Pacific/Auckland", "Pacific/Honolulu", "Asia/Kolkata", "America/New_York")


def population(count: int, hour: int) -> None:
    """`count` learners spread over five zones, all due at the instant used below."""
    for i, zone in enumerate(ZONES):
        make_learners(count // len(ZONES) + (i < count % len(ZONES)), timezone=zone, reminder_hour=hour, due=4)


def marks(queries: CaptureQueriesContext) -> int:
    """The UPDATEs that record messages as sent."""
    return sum(1 for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "sent_at" in q["sql"])


def test_sending_to_20_or_200_learners_runs_the_same_queries(django_assert_num_queries):
    population(20, hour=0)
    with CaptureQueriesContext(connection) as small:
        assert len(send_due_reminders(utc(2026, 1, 20, 12)).sent) == 20
    population(180, hour=0)
    mail.outbox.clear()
    # The next day: all 200 learners are due again (their cards are overdue).
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(send_due_reminders(utc(2026, 1, 21, 12)).sent) == 200
    assert len(mail.outbox) == 200


@pytest.mark.parametrize("learners", [10, 200])
def test_sent_messages_are_recorded_in_at_most_marks_per_run_updates(settings, learners):
    settings.REMINDERS_MARKS_PER_RUN = 4
    population(learners, hour=0)
    with CaptureQueriesContext(connection) as queries:
        assert len(send_due_reminders(utc(2026, 1, 20, 12)).sent) == learners
    assert marks(queries) == 4  # 10: 3+3+3+1; 200: 50 each
    assert ReminderSend.objects.filter(status="sent").count() == learners


def test_dry_run_reads_in_two_queries_for_any_number(django_assert_num_queries):
    population(50, hour=0)
    with django_assert_num_queries(2):
        decisions, _ = explain(utc(2026, 1, 20, 12))
    assert len(decisions) == 50
