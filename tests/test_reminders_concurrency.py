"""Two runs at the same moment in two threads, each on its own database connection: no duplicates.

This is the two-beat-processes case against the real database (SQLite or PostgreSQL,
whichever the suite runs on), not an interleaving simulated in one connection.
"""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections

from cards.models import ReminderSend
from cards.reminders import RunReport, send_due_reminders
from tests.reminders_factories import make_learners, utc

NOW = utc(2026, 1, 20, 9)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("runs", [2, 4])
def test_concurrent_runs_send_each_reminder_once(runs):
    users = make_learners(30)
    barrier = threading.Barrier(runs)
    reports: list[RunReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            reports.append(send_due_reminders(NOW))
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert all(report.error == "" for report in reports)
    sent = [user_id for report in reports for user_id in report.sent]
    assert sorted(sent) == sorted(user.pk for user in users)  # every learner once, by one run or another
    addresses = [address for message in mail.outbox for address in message.to]
    assert sorted(addresses) == sorted(user.email for user in users)
    assert ReminderSend.objects.filter(status="sent").count() == 30
