"""`manage.py send_reminders`: dry run, whom and why, --now, and a run that really sends."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from cards.reminders.models import ReminderSend
from cards.reminders.sending import explain, send_due_reminders
from tests.factories import make_learner
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("send_reminders", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_dry_run_says_whom_and_why_and_sends_nothing():
    due = make_learner(timezone="Pacific/Auckland", reminder_hour=8)
    off = make_learner(reminders_enabled=False)
    early = make_learner(timezone="Pacific/Honolulu", reminder_hour=10)

    quiet = run("--dry-run", "--now", "2026-01-15T19:00:00Z")
    assert f"would mail {due.username} <{due.email}>: 1 card, 0 challenges due;" in quiet
    assert "local 2026-01-16 08h in Pacific/Auckland, chosen 08h" in quiet
    assert off.username not in quiet
    assert "1 would be mailed, 2 not." in quiet

    verbose = run("--dry-run", "--now", "2026-01-15T19:00:00Z", "--verbosity", "2")
    assert f"would not mail {off.username}: reminders are off" in verbose
    assert f"would not mail {early.username}: local hour 09 is before the chosen 10" in verbose
    assert mail.outbox == [] and not ReminderSend.objects.exists()


def test_real_run_mails_and_reports_then_finds_nothing_left():
    user = make_learner()
    out = run("--now", "2026-01-20T09:00:00+00:00")
    assert f"mailed {user.username} <{user.email}>" in out
    assert "1 mailed (1 claimed, 0 taken over from a dead run), 0 given back" in out
    assert len(mail.outbox) == 1
    again = run("--now", "2026-01-20T09:30:00+00:00", "--verbosity", "2")
    assert f"did not mail {user.username}: already sent for this local day" in again
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("bad", ["yesterday", "2026-01-20T09:00:00"])
def test_now_must_be_an_aware_iso_time(bad: str):
    with pytest.raises(CommandError, match="--now"):
        run("--now", bad)


def test_failed_sending_exits_with_an_error(settings):
    from tests.mail_helpers import FailAfterBackend

    settings.EMAIL_BACKEND = "tests.mail_helpers.FailAfterBackend"
    FailAfterBackend.limit, FailAfterBackend.delivered = 0, 0
    make_learner()
    with pytest.raises(CommandError, match="SMTPServerDisconnected"):
        run("--now", "2026-01-20T09:00:00Z")
    assert not ReminderSend.objects.exists()


def test_dry_run_lists_exactly_whom_the_real_run_mails():
    now = utc(2026, 3, 8, 7)  # New York's spring-forward morning
    people = [
        make_learner(timezone="America/New_York", reminder_hour=2),
        make_learner(timezone="America/New_York", reminder_hour=4),
        make_learner(timezone="Europe/Berlin", reminder_hour=8, due=0),
        make_learner(timezone="Asia/Kolkata", reminder_hour=12),  # UTC+5:30: 12:30
        make_learner(timezone="Asia/Kathmandu", reminder_hour=13),  # UTC+5:45: 12:45
        make_learner(timezone="UTC", reminder_hour=7, reminders_enabled=False),
        make_learner(timezone="UTC", reminder_hour=7, email=""),
        make_learner(timezone="Australia/Sydney", reminder_hour=18, due_on=dt.date(2026, 3, 8)),
    ]
    decisions, _ = explain(now)
    predicted = sorted(decision.user_id for decision in decisions if decision.sends)
    assert sorted(send_due_reminders(now).sent) == predicted
    assert predicted == sorted(user.pk for user in (people[0], people[3], people[7]))
