"""Reminder runs: who is mailed when (time zones, daylight saving), opt-out, nothing due, and once only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from cards.reminders.models import ReminderSend
from cards.reminders.sending import send_due_reminders
from cards.review.models import ReviewState
from tests.factories import make_due_challenge, make_learner
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_utc_plus_13_and_utc_minus_10_at_the_same_instant():
    # 2026-01-15 19:00Z: 08:00 on the 16th in Auckland (NZDT, UTC+13), 09:00 on the 15th in Honolulu (UTC-10).
    now = utc(2026, 1, 15, 19)
    auckland = make_learner(timezone="Pacific/Auckland", reminder_hour=8, due_on=dt.date(2026, 1, 16))
    honolulu = make_learner(timezone="Pacific/Honolulu", reminder_hour=9, due_on=dt.date(2026, 1, 15))
    # Due on the 16th: Auckland's today, Honolulu's tomorrow.
    not_yet = make_learner(timezone="Pacific/Honolulu", reminder_hour=9, due_on=dt.date(2026, 1, 16))
    # Auckland learner who chose 09:00: one hour to go.
    later = make_learner(timezone="Pacific/Auckland", reminder_hour=9, due_on=dt.date(2026, 1, 16))

    report = send_due_reminders(now)

    assert sorted(report.sent) == sorted([auckland.pk, honolulu.pk])
    assert recipients() == sorted([auckland.email, honolulu.email])
    dates = dict(ReminderSend.objects.values_list("user_id", "local_date"))
    assert dates == {auckland.pk: dt.date(2026, 1, 16), honolulu.pk: dt.date(2026, 1, 15)}
    assert not ReminderSend.objects.filter(user__in=[not_yet, later]).exists()

    mail.outbox.clear()
    send_due_reminders(now + dt.timedelta(hours=1))  # 09:00 in Auckland, 10:00 in Honolulu
    assert recipients() == [later.email]


def test_before_the_hour_nothing_then_a_missed_run_is_caught_up_the_same_local_day():
    user = make_learner(timezone="Europe/Paris", reminder_hour=8)  # CET, UTC+1 in January
    send_due_reminders(utc(2026, 1, 20, 6, 45))  # 07:45 in Paris
    assert mail.outbox == []
    send_due_reminders(utc(2026, 1, 20, 14))  # beat was down all morning: 15:00 in Paris
    assert recipients() == [user.email]
    send_due_reminders(utc(2026, 1, 20, 22, 45))  # 23:45, same local day: nothing more
    assert len(mail.outbox) == 1
    send_due_reminders(utc(2026, 1, 21, 7))  # 08:00 the next day: the next day's reminder
    assert len(mail.outbox) == 2


def test_spring_forward_gap_sends_at_the_first_run_after_it():
    # America/New_York, 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:xx never happens.
    user = make_learner(timezone="America/New_York", reminder_hour=2)
    send_due_reminders(utc(2026, 3, 8, 6, 45))  # 01:45 EST
    assert mail.outbox == []
    send_due_reminders(utc(2026, 3, 8, 7, 0))  # 03:00 EDT: the first run at or after the chosen hour
    assert recipients() == [user.email]
    assert ReminderSend.objects.get(user=user).local_date == dt.date(2026, 3, 8)
    send_due_reminders(utc(2026, 3, 8, 8, 0))
    assert len(mail.outbox) == 1


def test_fall_back_repeated_hour_sends_once():
    # America/New_York, 2026-11-01: 01:00-02:00 happens twice (EDT, then EST).
    user = make_learner(timezone="America/New_York", reminder_hour=1)
    send_due_reminders(utc(2026, 11, 1, 5, 0))  # 01:00 EDT
    send_due_reminders(utc(2026, 11, 1, 6, 0))  # 01:00 EST, the same hour again
    assert recipients() == [user.email]


def test_opted_out_addressless_and_deactivated_learners_get_nothing():
    make_learner(reminders_enabled=False)
    make_learner(email="", reminder_email="")
    gone = make_learner()
    gone.is_active = False
    gone.save()
    send_due_reminders(utc(2026, 1, 20, 9))
    assert mail.outbox == []
    assert not ReminderSend.objects.exists()


def test_reminder_email_overrides_the_account_address():
    make_learner(email="account@example.com", reminder_email="reminders@example.com")
    send_due_reminders(utc(2026, 1, 20, 9))
    assert recipients() == ["reminders@example.com"]


def test_nothing_due_no_email_and_no_record():
    make_learner(due=0)
    make_learner(due=3, due_on=dt.date(2026, 1, 21))  # due tomorrow
    report = send_due_reminders(utc(2026, 1, 20, 9))
    assert mail.outbox == []
    assert report.claimed == 0
    assert not ReminderSend.objects.exists()


def test_todays_redrill_counts_as_due():
    user = make_learner(due=0)
    from cards.review.models import ReviewState
    from tests.factories import make_cards

    (card,) = make_cards(1)
    ReviewState.objects.create(
        user=user, card=card, due_on=dt.date(2026, 1, 21), redrill=True, last_reviewed_on=dt.date(2026, 1, 20)
    )
    send_due_reminders(utc(2026, 1, 20, 9))
    assert recipients() == [user.email]


def test_a_challenge_alone_is_due_and_named_in_the_subject():
    user = make_learner(due=0)
    make_due_challenge(user=user, due_on=dt.date(2026, 1, 20))
    send_due_reminders(utc(2026, 1, 20, 9))
    assert [message.subject for message in mail.outbox] == ["1 challenge due today"]


def test_time_zone_change_after_a_send_does_not_send_again_the_same_hour():
    user = make_learner(timezone="UTC", reminder_hour=8)
    send_due_reminders(utc(2026, 1, 20, 8))
    user.profile.timezone = "Pacific/Honolulu"  # now it is 22:15 on the 19th there: another local day
    user.profile.save()
    send_due_reminders(utc(2026, 1, 20, 8, 15))
    assert len(mail.outbox) == 1
    send_due_reminders(utc(2026, 1, 20, 18, 0))  # 08:00 on the 20th in Honolulu: the 20th was mailed
    assert len(mail.outbox) == 1
    send_due_reminders(utc(2026, 1, 21, 18, 0))  # 08:00 on the 21st in Honolulu
    assert len(mail.outbox) == 2


def test_unknown_time_zone_is_reported_not_fatal():
    good = make_learner()
    make_learner(timezone="Mars/Olympus_Mons")
    report = send_due_reminders(utc(2026, 1, 20, 9))
    assert report.unknown_zones == ["Mars/Olympus_Mons"]
    assert recipients() == [good.email]


def test_after_a_move_east_the_email_waits_for_the_study_day_the_review_page_shows():
    # A Los Angeles learner is mailed and studies on Jan 19 (PST, UTC-8); their study day ends at 08:00Z on the 20th.
    user = make_learner(timezone="America/Los_Angeles", reminder_hour=8, due_on=dt.date(2026, 1, 19))
    send_due_reminders(utc(2026, 1, 19, 16))
    assert len(mail.outbox) == 1
    profile = user.profile
    assert profile.today(utc(2026, 1, 19, 17)) == dt.date(2026, 1, 19)  # the review page starts the day
    ReviewState.objects.filter(user=user).update(due_on=dt.date(2026, 1, 20))  # studied: next due the 20th
    # 02:00Z on the 20th: they fly to Tokyo, where it is already 11:00 on the 20th.
    profile.timezone = "Asia/Tokyo"
    profile.save()
    assert profile.today(utc(2026, 1, 20, 2)) == dt.date(2026, 1, 19)  # the day in progress goes on
    send_due_reminders(utc(2026, 1, 20, 2))
    assert len(mail.outbox) == 1  # "due today" would name cards the review page does not show yet
    # Once the day that began in Los Angeles has ended (08:00Z), the 20th is their day: 17:00 in Tokyo.
    send_due_reminders(utc(2026, 1, 20, 8, 30))
    assert len(mail.outbox) == 2
    assert ReminderSend.objects.filter(user=user).order_by("local_date").values_list("local_date", flat=True)[::1] == [
        dt.date(2026, 1, 19),
        dt.date(2026, 1, 20),
    ]
