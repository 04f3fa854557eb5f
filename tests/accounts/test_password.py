"""Passwords: an email at sign-up, a reset link by email (account or reminder address), changing it.

Mail goes to Django's locmem backend; the reset link is read out of the message and followed.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
NEW_PASSWORD = "a-brand-new-passphrase-42"


@pytest.fixture(autouse=True)
def site_url(settings):
    # The rate-limit counters start empty: the `redis` marker flushes the test Redis (conftest.py).
    settings.SITE_URL = "https://study.example.org"


def reset_link(message) -> str:
    link = re.search(r"https://study\.example\.org(/accounts/password/reset/\S+/)", message.body)
    assert link, message.body
    return link.group(1)


def test_sign_up_with_an_address_keeps_it_on_the_account(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "ada",
            "email": "ada@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "timezone": "UTC",
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.get(username="ada").email == "ada@example.org"


def test_a_reset_link_sets_a_new_password_once(client):
    user = make_user(password=PASSWORD, email="ada@example.org")

    response = client.post(reverse("password_reset"), {"email": "ADA@example.org"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@example.org"]  # the stored address, not the one typed
    assert message.subject == "Reset your study app password"
    assert "testserver" not in message.body  # the link is built on SITE_URL, not on the Host header
    link = reset_link(message)

    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    again = client.get(link, follow=True)
    assert b"This link does not work" in again.content


def test_the_reminder_address_also_gets_a_link(client):
    user = make_user(password=PASSWORD)  # no account address
    user.profile.reminder_email = "reminders@example.net"
    user.profile.save()

    client.post(reverse("password_reset"), {"email": "reminders@example.net"})

    assert [m.to for m in mail.outbox] == [["reminders@example.net"]]
    assert f"Hello {user.username}" in mail.outbox[0].body


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client):
    make_user(password=PASSWORD, email="ada@example.org")
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_a_mismatched_new_password_changes_nothing(client):
    user = make_user(password=PASSWORD, email="ada@example.org")
    client.post(reverse("password_reset"), {"email": "ada@example.org"})
    set_url = client.get(reset_link(mail.outbox[0]), follow=True).redirect_chain[-1][0]

    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})

    assert response.status_code == 200
    assert b"didn\xe2\x80\x99t match" in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_requests_are_rate_limited_per_address(client, settings):
    make_user(password=PASSWORD, email="ada@example.org")
    for _ in range(settings.PASSWORD_RESETS_PER_EMAIL):
        assert client.post(reverse("password_reset"), {"email": "ada@example.org"}).status_code == 302

    response = client.post(reverse("password_reset"), {"email": "ada@example.org"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many password reset links" in response.content
    assert len(mail.outbox) == settings.PASSWORD_RESETS_PER_EMAIL


def test_reset_requests_are_rate_limited_per_client(client, settings):
    settings.PASSWORD_RESETS_PER_CLIENT = 2
    for _ in range(2):
        assert client.post(reverse("password_reset"), {"email": "nobody@example.org"}).status_code == 302
    assert client.post(reverse("password_reset"), {"email": "ada@example.org"}).status_code == 429


def test_changing_the_password_needs_the_old_one(client):
    user = make_user(password=PASSWORD)
    client.force_login(user)
    assert b"Change your password" in client.get(reverse("settings")).content

    wrong = client.post(
        reverse("password_change"),
        {"old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200 and b"Your old password was entered incorrectly" in wrong.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    right = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert right.status_code == 302 and right["Location"] == reverse("password_change_done")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get(reverse("home")).status_code == 200  # still logged in
