"""CSRF on every state-changing request: each URL pattern, POSTed (and PUT/PATCH/DELETE) without a token
by a logged-in user, is refused by Django's CSRF check; the only exemptions are named here."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from cards.review.models import ReviewLog
from tests.factories import make_state, make_user
from tests.production_urls import all_routes, url_for

pytestmark = pytest.mark.django_db

# View names exempt from CSRF, and why that is safe.
CSRF_EXEMPT = {
    "reminders_unsubscribe": "RFC 8058 one-click unsubscribe: mail clients POST without a session or token; "
    "the signed, expiring token in the URL is the credential and the only effect is turning reminders off",
}
FILL = {"slug": "some-challenge", "pk": "1", "token": "bogus-token"}
ADMIN_PARAMS = {
    "app_label": "cards", "object_id": "1", "content_type_id": "1", "url": "no-such-page/",
    "model": "challenge", "rest": "1/change/",
}  # fmt: skip


def _fill(route, param: str) -> str:
    if route.is_admin:
        return ADMIN_PARAMS.get(param, "1")
    return FILL.get(param, "1")


def test_only_the_named_views_are_csrf_exempt() -> None:
    exempt = {route.name for route in all_routes() if getattr(route.pattern.callback, "csrf_exempt", False)}
    assert exempt == set(CSRF_EXEMPT)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_every_url_refuses_a_state_changing_request_without_a_token(method: str) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(password=None, is_staff=True, is_superuser=True))
    checked = 0
    for route in all_routes():
        if route.name in CSRF_EXEMPT:
            continue
        url = url_for(route, _fill)
        response = getattr(client, method)(url, data="", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 403, f"{method.upper()} {url} ({route.name}) -> {response.status_code}"
        # Refused by Django's CSRF failure view, which renders the app's templates/403_csrf.html.
        refused_by = {template.name for template in response.templates}
        assert "403_csrf.html" in refused_by, f"{url} refused for another reason"
        checked += 1
    assert checked > 30


def test_a_wrong_token_is_refused_and_the_right_one_accepted() -> None:
    """The positive control: the same request with the page's token goes through (so the 403s above mean CSRF)."""
    user = make_user(password=None)
    state = make_state(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/review/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(uuid.uuid4())}
    assert client.post("/review/answer/", {**data, "csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert not ReviewLog.objects.filter(user=user).exists()
    assert client.post("/review/answer/", {**data, "csrfmiddlewaretoken": token}).status_code == 302
    # htmx sends the token in a header, as base.html sets it up.
    data["request_id"] = str(uuid.uuid4())
    data["version"] = state.version + 1
    assert client.post("/review/answer/", data, HTTP_X_CSRFTOKEN=token).status_code in (200, 302)
    assert ReviewLog.objects.filter(user=user).count() >= 1
