"""One-click unsubscribe from reminder emails, by signed token, without logging in.

GET shows a confirmation page with a button: mail scanners and link previews
fetch GET links, and must not unsubscribe anyone. POST unsubscribes, both from
that button and from a mail client's RFC 8058 one-click request
(`List-Unsubscribe=One-Click` in the body); the client has no CSRF token, and
the signed token is the proof, so this one view is CSRF-exempt. A forged or
stale token gets a page that says so and changes nothing.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cards.accounts.models import Profile
from cards.reminders.message import read_unsubscribe_token


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Confirm (GET) or apply (POST) an unsubscribe from reminder emails."""
    try:
        user_id = read_unsubscribe_token(token)
    except signing.SignatureExpired:
        return _page(request, "expired", status=400)
    except signing.BadSignature:
        return _page(request, "invalid", status=400)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return _page(request, "invalid", status=400)
    if request.method == "GET":
        if not Profile.objects.filter(user=user, reminders_enabled=True).exists():
            return _page(request, "already")  # a link used before (or reminders turned off since)
        return _page(request, "confirm", token=token)
    Profile.objects.update_or_create(user=user, defaults={"reminders_enabled": False})
    return _page(request, "done")


def _page(request: HttpRequest, state: str, status: int = 200, token: str = "") -> HttpResponse:
    response = render(request, "reminders/unsubscribe.html", {"state": state, "token": token}, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response
