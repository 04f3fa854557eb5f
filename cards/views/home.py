"""Home: what is due today, new cards, re-drills pending, and when the next review is."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cards import review
from cards.models import ReviewState


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The day at a glance."""
    profile = review.profile_for(request.user)
    today = review.local_today(profile)
    progress = review.progress_for(request.user, profile, today)
    next_due_on = None
    if not progress.remaining:
        next_due_on = ReviewState.objects.for_user(request.user).next_due_after(today)
    return render(
        request,
        "cards/home.html",
        {"today": today, "progress": progress, "next_due_on": next_due_on, "profile": profile},
    )
