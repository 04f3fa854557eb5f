"""The Settings page: the learner's own day (time zone, new cards and their order) and reminder emails."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cards.accounts.models import Profile
from tests.factories import make_learner, make_user, settings_form

pytestmark = pytest.mark.django_db


def form_data(**overrides: object) -> dict:
    data = settings_form(reminders_enabled="on", reminder_hour="7", timezone="Europe/Paris")
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_settings_requires_login(client: Client):
    response = client.get(reverse("settings"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_settings_saves_own_profile_only(client: Client):
    user, other = make_learner(timezone="UTC", reminder_hour=8), make_learner(timezone="Asia/Tokyo", reminder_hour=20)
    client.force_login(user)
    response = client.post(reverse("settings"), form_data(reminder_email="me@example.org"))
    assert response.status_code == 302
    profile = Profile.objects.get(user=user)
    assert (profile.reminder_hour, profile.timezone, profile.reminder_email) == (7, "Europe/Paris", "me@example.org")
    assert profile.reminders_enabled
    other.profile.refresh_from_db()
    assert (other.profile.reminder_hour, other.profile.timezone) == (20, "Asia/Tokyo")


def test_settings_turns_reminders_off(client: Client):
    user = make_learner()
    client.force_login(user)
    client.post(reverse("settings"), form_data(reminders_enabled=None))
    user.profile.refresh_from_db()
    assert not user.profile.reminders_enabled


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus_Mons", "Select a valid choice"),
        ("reminder_hour", "24", "Select a valid choice"),
        ("reminder_hour", "eight", "Select a valid choice"),
        ("reminder_email", "not-an-address", "Enter a valid email address"),
    ],
)
def test_settings_rejects_bad_values_clearly(client: Client, field: str, value: str, message: str):
    user = make_learner(timezone="UTC", reminder_hour=8)
    client.force_login(user)
    response = client.post(reverse("settings"), form_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()
    user.profile.refresh_from_db()
    assert (user.profile.timezone, user.profile.reminder_hour) == ("UTC", 8)


def test_settings_needs_an_address_when_the_account_has_none(client: Client):
    user = make_learner(email="")
    client.force_login(user)
    response = client.post(reverse("settings"), form_data())
    assert response.status_code == 400
    assert "Give an address to send reminders to" in response.content.decode()
    assert client.post(reverse("settings"), form_data(reminders_enabled=None)).status_code == 302


def test_settings_offers_the_browser_zone_only_while_the_default_is_set(client: Client):
    user = make_learner(timezone="UTC")
    client.force_login(user)
    page = client.get(reverse("settings")).content.decode()
    assert "data-browser-default" in page and "js/settings-timezone.js" in page
    user.profile.timezone = "Europe/Paris"
    user.profile.save()
    assert "data-browser-default" not in client.get(reverse("settings")).content.decode()


def test_settings_creates_a_missing_profile(client: Client):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="noprofile", email="n@example.com")
    client.force_login(user)
    assert client.get(reverse("settings")).status_code == 200
    assert Profile.objects.filter(user=user).exists()


def test_time_zones_are_offered_once_each_by_place_name(client: Client):
    """No "localtime" or "Factory", one spelling per zone, the same list at sign-up and in Settings."""
    signup = client.get(reverse("signup")).content.decode()
    client.force_login(make_user())
    settings_page = client.get(reverse("settings")).content.decode()

    def options(html: str) -> list[tuple[str, str]]:
        select = html.split('id="id_timezone"')[1].split("</select>")[0]
        return re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', select)

    offered = options(settings_page)
    assert offered == options(signup)
    values = [value for value, _ in offered]
    assert "localtime" not in values and "Factory" not in values and "US/Eastern" not in values
    assert values[0] == "UTC" and ("Africa/Addis_Ababa", "Africa/Addis Ababa") in offered
    assert len(values) == len(set(values)) > 300


def test_a_zone_saved_under_an_old_alias_can_still_be_kept(client: Client):
    user = make_user(timezone="US/Eastern")
    client.force_login(user)
    data = settings_form(reminder_hour="9", timezone="US/Eastern")
    assert client.post(reverse("settings"), data).status_code == 302
    assert Profile.objects.get(user=user).reminder_hour == 9


def test_settings_set_new_cards_a_day_and_their_order(client: Client):
    user = make_user()
    client.force_login(user)
    page = client.get(reverse("settings")).content.decode()
    assert "New cards a day" in page and "Mixed: new cards alternate with reviews" in page
    response = client.post(reverse("settings"), settings_form(new_cards_per_day="5", new_card_order="mixed"))
    assert response.status_code == 302
    profile = Profile.objects.get(user=user)
    assert (profile.new_cards_per_day, profile.new_card_order) == (5, "mixed")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"new_cards_per_day": "501"}, "less than or equal to 500"),
        ({"new_cards_per_day": "-1"}, "greater than or equal to 0"),
        ({"new_cards_per_day": ""}, "This field is required"),
        ({"new_card_order": "random"}, "Select a valid choice"),
    ],
)
def test_bad_day_settings_are_refused_and_nothing_changes(client: Client, fields, message):
    user = make_user(timezone="Europe/Paris")
    client.force_login(user)
    response = client.post(reverse("settings"), settings_form(timezone="Asia/Tokyo", **fields))
    assert response.status_code == 400 and message in response.content.decode()
    profile = Profile.objects.get(user=user)
    assert (profile.timezone, profile.new_cards_per_day, profile.new_card_order) == (
        "Europe/Paris",
        20,
        "reviews_first",
    )
