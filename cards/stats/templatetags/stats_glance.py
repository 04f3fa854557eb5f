"""`{% stats_glance %}`: the home page's line of stats (streak, due today and tomorrow, a link to /stats/).

For a page of another app: `{% load stats_glance %}{% stats_glance %}` renders templates/stats/_glance.html
for the logged-in learner (two queries), without that app importing this one. A view that already has
the figures includes the template itself: `{% include "stats/_glance.html" with glance=... %}`.
"""

from __future__ import annotations

from django import template

from cards.review import queue
from cards.stats import queries

register = template.Library()


@register.inclusion_tag("stats/_glance.html", takes_context=True)
def stats_glance(context: template.Context, due_today: bool = True) -> dict:
    """`due_today=False` where the page shows today's queue itself (home: its own count, by the review's rules)."""
    user = context["request"].user
    if not user.is_authenticated:
        return {"glance": None}
    today = queue.local_today(queue.profile_for(user))
    return {"glance": queries.glance(user, today), "show_due_today": due_today}
