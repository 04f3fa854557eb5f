"""Reminders off where they could never reach anyone: profiles without any address."""

from __future__ import annotations

import pytest

from cards.accounts.models import Profile
from tests.migration_helpers import migrate_to, migrate_to_latest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_reminders_are_turned_off_only_where_there_is_no_address() -> None:
    apps = migrate_to([("accounts", "0001_initial")])
    User, OldProfile = apps.get_model("auth", "User"), apps.get_model("accounts", "Profile")

    def learner(name, email="", reminder_email="", on=True):
        user = User.objects.create(username=name, email=email)
        return OldProfile.objects.create(user=user, reminders_enabled=on, reminder_email=reminder_email).pk

    nowhere = learner("nowhere")
    account = learner("account", email="a@example.com")
    own = learner("own", reminder_email="r@example.com")
    chose_off = learner("off", email="o@example.com", on=False)

    migrate_to_latest()
    enabled = dict(Profile.objects.values_list("pk", "reminders_enabled"))
    assert (enabled[nowhere], enabled[account], enabled[own], enabled[chose_off]) == (False, True, True, False)
