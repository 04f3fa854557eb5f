"""A learner's profile: their time zone (where their day starts), pace and reminder preferences."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class Profile(models.Model):
    """Per-user preferences: time zone (the day boundary for reviews) and reminders."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    timezone = models.CharField(max_length=64, default="UTC")
    new_cards_per_day = models.PositiveSmallIntegerField(default=20, validators=[MaxValueValidator(500)])
    # Off until the learner asks for them (at sign-up or in Settings), which needs an address.
    reminders_enabled = models.BooleanField(default=False)
    reminder_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    reminder_email = models.EmailField(blank=True, help_text="Defaults to the account's address.")

    class Meta:
        db_table = "cards_profile"  # its table from before the app split

    def __str__(self) -> str:
        return f"profile of {self.user}"
