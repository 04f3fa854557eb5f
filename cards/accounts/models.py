"""A learner's profile: their time zone and study day, pace and reminder preferences."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models


class Profile(models.Model):
    """Per-user preferences: time zone (the day boundary for reviews), the day's new cards, and reminders."""

    class NewCardOrder(models.TextChoices):
        REVIEWS_FIRST = "reviews_first", "Reviews first, then new cards"
        NEW_FIRST = "new_first", "New cards first, then reviews"
        MIXED = "mixed", "Mixed: new cards alternate with reviews"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    timezone = models.CharField(max_length=64, default="UTC")
    new_cards_per_day = models.PositiveSmallIntegerField(default=20, validators=[MaxValueValidator(500)])
    new_card_order = models.CharField(max_length=16, choices=NewCardOrder.choices, default=NewCardOrder.REVIEWS_FIRST)
    # Off until the learner asks for them (at sign-up or in Settings), which needs an address.
    reminders_enabled = models.BooleanField(default=False)
    reminder_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    reminder_email = models.EmailField(blank=True, help_text="Defaults to the account's address.")
    # The study day in progress (see `today`): its date, and the instants it began and ends.
    study_day = models.DateField(null=True, blank=True, editable=False)
    study_day_began_at = models.DateTimeField(null=True, blank=True, editable=False)
    study_day_ends_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "cards_profile"  # its table from before the app split

    def __str__(self) -> str:
        return f"profile of {self.user}"

    def zone(self) -> ZoneInfo:
        """The learner's time zone; UTC when the stored name is unknown (never fail a review over it)."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def today(self, now: dt.datetime) -> dt.date:
        """The learner's study day at `now` (aware): their date, except across a change of time zone.

        A day begins at midnight in the learner's zone and goes on until it has ended in the zone it
        began in. So a change of zone never starts a day early (east: the day in progress goes on
        until its own midnight) and never goes back to a day already studied (west: the date stays
        until the new zone's date passes it). The new cards introduced and the answers given today
        keep counting, and what is due on a day is never skipped. Recorded once a day (one UPDATE).
        """
        zone = self.zone()
        zone_date = now.astimezone(zone).date()
        day = self.study_day
        if day is not None:
            if now < self.study_day_began_at:
                return zone_date  # before the day in progress began (a past instant): the date then
            if now < self.study_day_ends_at or zone_date <= day:
                return day
        began = midnight(zone_date, zone)
        if self.study_day_ends_at is not None and day is not None and zone_date > day:
            began = max(began, self.study_day_ends_at)
        ends = midnight(zone_date + dt.timedelta(days=1), zone)
        self.study_day, self.study_day_began_at, self.study_day_ends_at = zone_date, began, ends
        if self.pk is not None:
            Profile.objects.filter(pk=self.pk).update(
                study_day=zone_date, study_day_began_at=began, study_day_ends_at=ends
            )
        return zone_date


# The regions of the IANA database's place names ("Europe/Paris"); the rest are aliases and
# oddities a learner should not be offered ("localtime", "Factory", "US/Eastern", "Etc/GMT+5").
ZONE_REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def timezone_choices() -> list[tuple[str, str]]:
    """The time zones to choose from, one spelling each: UTC, then every place by name ("America/New York")."""
    places = sorted(name for name in zoneinfo.available_timezones() if name.split("/", 1)[0] in ZONE_REGIONS)
    return [("UTC", "UTC")] + [(name, name.replace("_", " ")) for name in places]


def midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The instant `day` begins in `zone` (as an aware UTC datetime)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone).astimezone(dt.UTC)
