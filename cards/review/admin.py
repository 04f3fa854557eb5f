"""The review log in the admin: append-only, so readable and never editable."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import ReviewLog


@admin.register(ReviewLog)
class ReviewLogAdmin(admin.ModelAdmin):
    list_display = ["answered_at", "user", "card", "source", "quality", "reviewed_on", "duration_ms"]
    list_filter = ["source", "quality", "reviewed_on"]
    list_select_related = ["user", "card", "card__deck"]
    search_fields = ["user__username", "card__key"]
    date_hierarchy = "answered_at"
    show_full_result_count = False  # the log grows without bound; skip the extra COUNT(*)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ReviewLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ReviewLog | None = None) -> bool:
        return False
