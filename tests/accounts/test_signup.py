"""Sign-up: the account, its profile and time zone, and whether the learner wants reminder emails."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from cards.accounts.models import Profile
from tests.factories import PASSWORD, settings_form

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def sign_up(client, **fields):
    data = {"username": "ada", "password1": PASSWORD, "password2": PASSWORD, "timezone": "UTC", **fields}
    return client.post(reverse("signup"), {key: value for key, value in data.items() if value is not None})


def test_sign_up_creates_the_user_and_profile_and_logs_in(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "ada",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "timezone": "Europe/Paris",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    user = get_user_model().objects.get(username="ada")
    assert Profile.objects.get(user=user).timezone == "Europe/Paris"
    assert client.get(reverse("home")).status_code == 200


def test_sign_up_refuses_an_unknown_time_zone(client):
    response = client.post(
        reverse("signup"),
        {"username": "bob", "password1": PASSWORD, "password2": PASSWORD, "timezone": "Nowhere/Land"},
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="bob").exists()


def test_without_an_address_reminders_are_off_and_settings_save(client):
    assert sign_up(client).status_code == 302
    profile = Profile.objects.get(user__username="ada")
    assert not profile.reminders_enabled
    # The learner changes only the time zone: saved, with no demand for an address.
    data = settings_form(timezone="America/Los_Angeles")
    assert client.post(reverse("settings"), data).status_code == 302
    profile.refresh_from_db()
    assert (profile.timezone, profile.reminders_enabled) == ("America/Los_Angeles", False)


def test_with_an_address_the_learner_chooses(client):
    page = client.get(reverse("signup")).content.decode()
    assert "Email me on days when cards are due" in page
    assert sign_up(client, email="ada@example.com", reminders="on").status_code == 302
    assert Profile.objects.get(user__username="ada").reminders_enabled
    client.post(reverse("logout"))
    assert sign_up(client, username="bea", email="bea@example.com").status_code == 302
    assert not Profile.objects.get(user__username="bea").reminders_enabled


def test_reminders_without_an_address_are_refused_and_nothing_is_created(client):
    response = sign_up(client, reminders="on")
    assert response.status_code == 200
    assert "Reminders need an email address" in response.content.decode()
    assert not get_user_model().objects.filter(username="ada").exists()
