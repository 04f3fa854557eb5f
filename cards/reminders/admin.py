"""Admin for reminder sendings: read-only, the record that each reminder went out once.

Rows are written only by the reminder runs (cards/reminders/sending.py); an admin may
delete a stuck `claimed` row, which lets the next run send that reminder.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from cards.reminders.models import ReminderSend


@admin.register(ReminderSend)
class ReminderSendAdmin(admin.ModelAdmin):
    list_display = ("user", "local_date", "status", "due_count", "claimed_at", "sent_at")
    list_filter = ("status", "local_date")
    search_fields = ("user__username", "user__email")
    date_hierarchy = "local_date"
    list_select_related = ("user",)
    readonly_fields = ("user", "local_date", "status", "due_count", "claimed_at", "claim_token", "sent_at")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ReminderSend | None = None) -> bool:
        return False
