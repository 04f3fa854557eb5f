"""The study day across a change of time zone: never started early, never gone back to, nothing skipped.

The issue's case: 20 new cards finished in Europe/Paris, then a switch to America/Los_Angeles
offered 17 more the same day. Here each move of the clock is an explicit instant.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from cards.accounts.models import Profile
from cards.review import queue
from cards.review.models import ReviewState
from tests.factories import make_cards, make_user, settings_form
from tests.time_helpers import utc

pytestmark = pytest.mark.django_db


def study_new_cards(user, count: int, now: dt.datetime) -> None:
    """Answer `count` new cards with 5 (each comes back in one day)."""
    for _ in range(count):
        upcoming = queue.session_for(user, now).next
        assert upcoming is not None and upcoming.kind == "new"
        state = upcoming.state
        queue.answer(user, state.pk, version=state.version, quality=5, request_id=uuid.uuid4(), now=now)


def move_to(user, zone: str, now: dt.datetime) -> None:
    """Change the learner's zone as the Settings page does: the day in progress is recorded first."""
    profile = Profile.objects.get(user=user)
    profile.today(now)
    profile.timezone = zone
    profile.save(update_fields=["timezone"])
    user.refresh_from_db()


def session(user, now: dt.datetime) -> queue.Session:
    user.refresh_from_db()
    return queue.session_for(user, now)


def test_going_west_hands_out_no_second_batch_and_skips_nothing():
    user = make_user(timezone="Europe/Paris", new_cards_per_day=20)
    make_cards(60)
    paris_morning = utc(2026, 12, 2, 7)  # 08:00 in Paris on 2 Dec; 23:00 on 1 Dec in Los Angeles
    study_new_cards(user, 20, paris_morning)
    assert session(user, paris_morning).next is None  # done for 2 Dec

    move_to(user, "America/Los_Angeles", paris_morning + dt.timedelta(minutes=5))
    for later in (dt.timedelta(minutes=10), dt.timedelta(hours=9)):  # 1 Dec 23:10, then 2 Dec 07:00 in LA
        now = paris_morning + later
        current = session(user, now)
        assert current.today == dt.date(2026, 12, 2)  # never back to 1 Dec, a day already studied
        assert (current.progress.new, current.next) == (0, None)
        assert current.progress.done == 20  # today's answers still count

    # 2 Dec ends in Los Angeles: 3 Dec begins there, with what is due on it and new cards again.
    next_day = utc(2026, 12, 3, 8, 30)  # 00:30 on 3 Dec in Los Angeles
    current = session(user, next_day)
    assert current.today == dt.date(2026, 12, 3)
    assert (current.progress.due, current.progress.new) == (20, 20)
    assert current.next.kind == "review"  # yesterday's cards, due on 3 Dec, come first


def test_going_east_does_not_start_the_next_day_early_and_skips_nothing():
    user = make_user(timezone="America/Los_Angeles", new_cards_per_day=20)
    make_cards(60)
    la_afternoon = utc(2026, 12, 2, 0)  # 16:00 on 1 Dec in Los Angeles; 09:00 on 2 Dec in Tokyo
    study_new_cards(user, 20, la_afternoon)

    move_to(user, "Asia/Tokyo", la_afternoon + dt.timedelta(minutes=5))
    tokyo_morning = la_afternoon + dt.timedelta(minutes=10)
    current = session(user, tokyo_morning)
    # Still 1 Dec until that day ends where it began (midnight in Los Angeles, 17:00 in Tokyo).
    assert current.today == dt.date(2026, 12, 1)
    assert (current.progress.due, current.progress.new, current.next) == (0, 0, None)
    assert current.next_due_on == dt.date(2026, 12, 2)

    after = utc(2026, 12, 2, 8, 5)  # 00:05 in Los Angeles, 17:05 in Tokyo
    assert session(user, after - dt.timedelta(minutes=10)).today == dt.date(2026, 12, 1)
    current = session(user, after)
    assert current.today == dt.date(2026, 12, 2)
    assert (current.progress.due, current.progress.new) == (20, 20)  # nothing due on 2 Dec was lost

    # From then on, days begin at midnight in Tokyo.
    assert session(user, utc(2026, 12, 2, 15, 5)).today == dt.date(2026, 12, 3)  # 00:05 on 3 Dec in Tokyo


def test_days_begin_at_local_midnight_across_a_dst_change():
    user = make_user(timezone="America/New_York")
    profile = Profile.objects.get(user=user)
    # New York springs forward at 02:00 on 8 March 2026: that day has 23 hours.
    assert profile.today(utc(2026, 3, 8, 4, 59)) == dt.date(2026, 3, 7)  # 23:59 EST
    assert profile.today(utc(2026, 3, 8, 5, 0)) == dt.date(2026, 3, 8)  # 00:00 EST
    assert profile.study_day_ends_at == utc(2026, 3, 9, 4, 0)  # 00:00 EDT, 23 hours later
    assert profile.today(utc(2026, 3, 9, 3, 59)) == dt.date(2026, 3, 8)
    assert profile.today(utc(2026, 3, 9, 4, 0)) == dt.date(2026, 3, 9)


def test_the_settings_page_records_the_day_in_progress_before_changing_zone(client):
    """UTC+14 to UTC-11: the new zone's date is always a day behind; the study day must not go back."""
    user = make_user(timezone="Pacific/Kiritimati", new_cards_per_day=3)
    make_cards(10)
    client.force_login(user)
    client.get(reverse("review"))  # one new card shown: introduced today
    today = Profile.objects.get(user=user).study_day
    data = settings_form(timezone="Pacific/Pago_Pago", new_cards_per_day="3")
    assert client.post(reverse("settings"), data).status_code == 302
    profile = Profile.objects.get(user=user)
    assert (profile.timezone, profile.study_day) == ("Pacific/Pago_Pago", today)
    current = session(user, dt.datetime.now(dt.UTC))
    assert current.today == today
    assert current.progress.new == 3  # the card shown (not answered yet) is one of today's three
    assert ReviewState.objects.filter(user=user, introduced_on=today).count() == 1
