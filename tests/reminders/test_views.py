"""The token-based unsubscribe page, and the reminder sendings in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from cards.accounts.models import Profile
from cards.reminders.message import UNSUBSCRIBE_SALT, unsubscribe_token
from tests.factories import make_learner

pytestmark = pytest.mark.django_db


# --- unsubscribe ------------------------------------------------------------------------------------


def unsubscribe_url(token: str) -> str:
    return reverse("reminders_unsubscribe", args=[token])


def enabled(user) -> bool:
    return Profile.objects.get(user=user).reminders_enabled


def test_get_only_confirms(client: Client):
    user = make_learner()
    response = client.get(unsubscribe_url(unsubscribe_token(user.pk)))
    assert response.status_code == 200
    assert "Stop reminder emails?" in response.content.decode()
    assert enabled(user)  # a mail scanner following the link changes nothing


def test_confirm_button_unsubscribes_without_login_or_csrf_token():
    user = make_learner()
    client = Client(enforce_csrf_checks=True)
    url = unsubscribe_url(unsubscribe_token(user.pk))
    page = client.get(url).content.decode()
    assert f'action="{url}"' in page
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "You are unsubscribed" in response.content.decode()
    assert not enabled(user)
    # The same link again: it says so instead of asking a second time.
    again = client.get(url).content.decode()
    assert "You are already unsubscribed" in again and "Stop reminder emails?" not in again
    assert "<form" not in again.split("<main")[-1]


def test_rfc8058_one_click_post():
    user, bystander = make_learner(), make_learner()
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        unsubscribe_url(unsubscribe_token(user.pk)),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert not enabled(user) and enabled(bystander)


def test_forged_token_changes_nothing(client: Client):
    user = make_learner()
    genuine = unsubscribe_token(user.pk)
    other = make_learner()
    forged = f"{other.pk}:{genuine.split(':', 1)[1]}"  # someone else's id, this signature
    wrong_salt = signing.TimestampSigner(salt="something-else").sign(str(user.pk))
    for token in (forged, wrong_salt, "garbage", genuine[:-2]):
        for method in (client.get, client.post):
            response = method(unsubscribe_url(token))
            assert response.status_code == 400
            assert "This unsubscribe link is not valid" in response.content.decode()
    assert enabled(user) and enabled(other)


def test_stale_token_changes_nothing(client: Client, settings):
    settings.REMINDERS_UNSUBSCRIBE_MAX_AGE_DAYS = 60
    user = make_learner()

    class LongAgo(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int((dt.datetime.now(dt.UTC) - dt.timedelta(days=61)).timestamp()))

    stale = LongAgo(salt=UNSUBSCRIBE_SALT).sign(str(user.pk))
    response = client.post(unsubscribe_url(stale))
    assert response.status_code == 400
    assert "This unsubscribe link has expired" in response.content.decode()
    assert enabled(user)


def test_token_for_a_deleted_user_is_not_valid(client: Client):
    user = make_learner()
    token = unsubscribe_token(user.pk)
    user.delete()
    assert client.post(unsubscribe_url(token)).status_code == 400


# --- admin ------------------------------------------------------------------------------------------


def test_admin_lists_sendings_read_only(admin_client: Client):
    from cards.reminders.models import ReminderSend
    from tests.time_helpers import utc

    user = make_learner()
    row = ReminderSend.objects.create(user=user, local_date=dt.date(2026, 1, 20), claimed_at=utc(2026, 1, 20, 9))
    page = admin_client.get(reverse("admin:reminders_remindersend_changelist"))
    assert page.status_code == 200 and user.username in page.content.decode()
    assert admin_client.get(reverse("admin:reminders_remindersend_add")).status_code == 403
    detail = admin_client.get(reverse("admin:reminders_remindersend_change", args=[row.pk]))
    assert detail.status_code == 200 and 'name="status"' not in detail.content.decode()
