"""A run's SQL does not grow with the number of learners: the same count for 10 as for 200."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cards.reminders import explain, send_due_reminders
from tests.reminders_factories import make_learners, utc

pytestmark = pytest.mark.django_db

ZONES = ("UTC", "Pacific/Auckland", "Pacific/Honolulu", "Asia/Kolkata", "America/New_York")


def population(count: int, hour: int) -> None:
    """`count` learners spread over five zones, all due at the instant used below."""
    for i, zone in enumerate(ZONES):
        make_learners(count // len(ZONES) + (i < count % len(ZONES)), zone=zone, hour=hour, due=4)


def test_sending_to_10_or_200_learners_runs_the_same_queries(django_assert_num_queries, settings):
    settings.REMINDERS_MARK_EVERY = 500  # the default: one mark for a batch this size
    population(10, hour=0)
    with CaptureQueriesContext(connection) as small:
        assert len(send_due_reminders(utc(2026, 1, 20, 12)).sent) == 10
    population(190, hour=0)
    mail.outbox.clear()
    # The next day: all 200 learners are due again (their cards are overdue).
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(send_due_reminders(utc(2026, 1, 21, 12)).sent) == 200
    assert len(mail.outbox) == 200


def test_marking_costs_one_update_per_mark_every_messages(settings):
    settings.REMINDERS_MARK_EVERY = 50
    population(10, hour=0)
    with CaptureQueriesContext(connection) as small:
        send_due_reminders(utc(2026, 1, 20, 12))
    population(190, hour=0)
    with CaptureQueriesContext(connection) as large:
        send_due_reminders(utc(2026, 1, 21, 12))
    assert len(large.captured_queries) - len(small.captured_queries) == 200 // 50 - 1


def test_dry_run_reads_in_two_queries_for_any_number(django_assert_num_queries):
    population(50, hour=0)
    with django_assert_num_queries(2):
        decisions, _ = explain(utc(2026, 1, 20, 12))
    assert len(decisions) == 50
