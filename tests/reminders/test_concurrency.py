"""Two or four runs at the same moment in threads, each on its own database connection: no duplicates.

This is the two-beat-processes case against the real database (SQLite or PostgreSQL,
whichever the suite runs on), not an interleaving simulated in one connection.

The SQLite test database is in memory with a shared cache, where a connection that
meets another's write lock fails at once with "database table is locked" instead
of waiting (the file database the app uses waits, up to its busy timeout). A run
that fails that way is what a run failing on a busy database is in production:
its work is left to the next run. So the test allows exactly that error, runs
once more as the next beat would, and then demands every learner mailed once.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import OperationalError, connections

from cards.reminders.models import ReminderSend
from cards.reminders.sending import RunReport, send_due_reminders
from tests.factories import make_learners
from tests.time_helpers import utc

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

    assert all(isinstance(exc, OperationalError) and "locked" in str(exc) for exc in errors), errors
    if connections["default"].vendor != "sqlite":
        assert errors == []
    if errors:
        # A run that failed may have left claims (if even giving them back met the lock):
        # let them go stale, as the claim timeout would between two real runs.
        for row in ReminderSend.objects.filter(status="claimed"):
            row.claimed_at -= dt.timedelta(hours=1)
            row.save(update_fields=["claimed_at"])
    next_run = send_due_reminders(NOW)  # the next beat, 15 minutes later in real life

    assert all(report.error == "" for report in [*reports, next_run])
    sent = [user_id for report in [*reports, next_run] for user_id in report.sent]
    assert sorted(sent) == sorted(user.pk for user in users)  # every learner once, by one run or another
    addresses = [address for message in mail.outbox for address in message.to]
    assert sorted(addresses) == sorted(user.email for user in users)
    assert ReminderSend.objects.filter(status="sent").count() == 30
    assert not ReminderSend.objects.exclude(status="sent").exists()
