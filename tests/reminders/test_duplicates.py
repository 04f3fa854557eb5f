"""Exactly once per learner per local day: crashes, retries, SMTP failing mid-batch, two runs at once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core import mail

from cards.reminders import sending
from cards.reminders import tasks as reminder_tasks
from cards.reminders.models import ReminderSend
from cards.reminders.sending import Policy, send_due_reminders
from tests.factories import make_learner, make_learners, make_unsent_claim
from tests.mail_helpers import FailAfterBackend
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db

NOW = utc(2026, 1, 20, 9)
TODAY = dt.date(2026, 1, 20)


def sent_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def age_claims(seconds: float) -> None:
    """Move every claim into the past, as if its run started `seconds` ago."""
    for row in ReminderSend.objects.all():
        row.claimed_at -= dt.timedelta(seconds=seconds)
        row.save(update_fields=["claimed_at"])


def test_second_run_the_same_day_sends_nothing():
    users = make_learners(3)
    assert len(send_due_reminders(NOW).sent) == 3
    again = send_due_reminders(NOW + dt.timedelta(minutes=15))
    assert again.sent == [] and again.claimed == 0
    assert sent_to() == sorted(user.email for user in users)
    assert set(ReminderSend.objects.values_list("status", flat=True)) == {"sent"}


def test_crash_between_claim_and_send_is_sent_once_after_the_claim_goes_stale(settings):
    settings.REMINDERS_CLAIM_TIMEOUT_SECONDS = 600
    user = make_learner()
    policy = Policy.from_settings()
    groups, _ = sending._zone_groups(NOW)
    dead_run = uuid.uuid4()
    assert sending._claim(groups, NOW, policy, dead_run) == 1  # ... and then the worker died

    # A run while the claim is fresh leaves it alone: the dead run might still be sending.
    assert send_due_reminders(NOW + dt.timedelta(minutes=5)).sent == []
    assert mail.outbox == []

    age_claims(601)
    report = send_due_reminders(NOW + dt.timedelta(minutes=15))
    assert report.taken_over == 1 and report.sent == [user.pk]
    assert sent_to() == [user.email]
    row = ReminderSend.objects.get()
    assert row.status == "sent" and row.claim_token != dead_run

    age_claims(10_000)  # a sent row never goes stale
    send_due_reminders(NOW + dt.timedelta(minutes=30))
    assert len(mail.outbox) == 1


def test_stale_claim_of_a_learner_who_opted_out_meanwhile_is_not_sent():
    user = make_learner()
    make_unsent_claim(user=user, local_date=TODAY, claimed_at=NOW - dt.timedelta(hours=2))
    user.profile.reminders_enabled = False
    user.profile.save()
    assert send_due_reminders(NOW).taken_over == 0
    assert mail.outbox == []


def test_task_retried_after_a_crash_sends_each_reminder_once(monkeypatch):
    make_learners(4)
    monkeypatch.setattr(sending.timezone, "now", lambda: NOW)
    reminder_tasks.send_due_reminders.apply()  # eager, like a worker picking it up
    reminder_tasks.send_due_reminders.apply()  # the broker redelivers the same message
    assert reminder_tasks.send_due_reminders.name == "cards.reminder_tasks.send_due_reminders"
    assert len(mail.outbox) == 4
    assert len(set(sent_to())) == 4


def test_smtp_failing_halfway_sends_the_rest_next_run_and_none_twice(settings):
    settings.EMAIL_BACKEND = "tests.mail_helpers.FailAfterBackend"
    settings.REMINDERS_MARKS_PER_RUN = 4  # 7 held: a mark every 2 messages, so marks land mid-batch too
    users = make_learners(7)
    FailAfterBackend.limit, FailAfterBackend.delivered = 3, 0

    first = send_due_reminders(NOW)
    assert "SMTPServerDisconnected" in first.error
    assert len(first.sent) == 3 and len(first.released) == 4
    assert ReminderSend.objects.filter(status="sent").count() == 3
    assert ReminderSend.objects.filter(status="claimed").count() == 0  # released at once, not left to go stale

    FailAfterBackend.limit = 100  # the server is back
    second = send_due_reminders(NOW + dt.timedelta(minutes=15))
    assert second.error == "" and len(second.sent) == 4
    assert set(first.sent).isdisjoint(second.sent)
    assert sent_to() == sorted(user.email for user in users)  # each exactly once
    send_due_reminders(NOW + dt.timedelta(minutes=30))
    assert len(mail.outbox) == 7


def test_a_refused_address_does_not_stop_the_others(settings):
    settings.EMAIL_BACKEND = "tests.mail_helpers.RefuseAddressBackend"
    good = make_learner()
    bounce = make_learner(email="bounce@example.com")
    report = send_due_reminders(NOW)
    assert report.sent == [good.pk] and report.refused == [bounce.pk]
    assert sent_to() == [good.email]
    assert not ReminderSend.objects.filter(user=bounce).exists()  # tried again next run


def test_interleaved_runs_each_learner_claimed_by_one():
    """Run B starts while run A holds its claims but has not sent yet: B sends nothing of A's."""
    users = make_learners(5)
    policy = Policy.from_settings()
    groups, _ = sending._zone_groups(NOW)
    token_a = uuid.uuid4()
    assert sending._claim(groups, NOW, policy, token_a) == 5
    b = send_due_reminders(NOW)  # B: the same instant, as a second beat would
    assert b.claimed == 0 and b.sent == []
    # A goes on from where it was: it holds all five.
    held = sending._held(groups, NOW, policy, token_a)
    assert sorted(profile.user_id for profile in held) == sorted(user.pk for user in users)
    assert sending._claim(groups, NOW, policy, uuid.uuid4()) == 0


def test_a_run_stops_before_its_claims_could_go_stale(settings):
    settings.REMINDERS_CLAIM_TIMEOUT_SECONDS = 100  # send window 90 s
    make_learners(4)
    ticks = iter([0.0, 10.0, 20.0, 95.0, 96.0])  # deadline 90: the third message is past it
    report = send_due_reminders(NOW, monotonic=lambda: next(ticks))
    assert len(report.sent) == 2 and len(report.released) == 2
    assert "claim timeout" in report.error
    assert len(send_due_reminders(NOW + dt.timedelta(minutes=15)).sent) == 2
    assert len(mail.outbox) == 4
