"""Reminder sendings: one row per learner per local day, the claim that makes a reminder go out once."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ReminderSend(models.Model):
    """One row per user per local day: the unique constraint is what makes a reminder go out once."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SENT = "sent", "Sent"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_sends")
    local_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    due_count = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField()
    claim_token = models.UUIDField(
        null=True, blank=True, help_text="The run holding the claim: a run sends only the rows carrying its token."
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cards_remindersend"  # its table from before the app split
        constraints = [models.UniqueConstraint(fields=["user", "local_date"], name="one_reminder_per_local_day")]

    def __str__(self) -> str:
        return f"reminder {self.user} {self.local_date} {self.status}"
