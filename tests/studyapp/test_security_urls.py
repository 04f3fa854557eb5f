"""Every URL pattern, walked through Django's resolver: learner URLs need a log-in and are scoped to
their owner (another user's ids give 403/404), the admin needs staff, and only a short, named list
of URLs is public. A URL added later is covered without editing this file, unless its parameters
are unknown here, in which case the test fails and says which table to extend."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.utils import timezone

from cards.challenges.models import Challenge, Submission
from cards.models import Tag
from cards.review.models import ReviewLog, ReviewState
from tests.factories import make_state, make_user
from tests.production_urls import Route, all_routes, url_for

pytestmark = pytest.mark.django_db

# URL names anyone may open, and why.
PUBLIC = {
    "home": "for a visitor, the front page: what the app is and a sample card from the shared deck",
    "login": "the log-in page",
    "signup": "the sign-up page",
    "password_reset": "asking for a reset link: the same answer whether or not the address is known, rate-limited",
    "password_reset_done": "says a link may be on its way; no user data",
    "password_reset_confirm": "the emailed link: the signed, single-use token in the URL is the credential",
    "password_reset_complete": "says the password was changed; no user data",
    "logout": "logging out is harmless (POST only, CSRF-protected)",
    "healthz": "the health probe for monitors and load balancers; reports no user data",
    "favicon": "a redirect to the site icon, a static file",
    "card_media": "an image of an imported card, by the SHA-256 of its bytes (known only from the card); no user data",
    "reminders_unsubscribe": "one-click unsubscribe from an email: the signed token in the URL is the credential",
    "admin:login": "the admin's log-in page",
    "admin:logout": "logging out of the admin is harmless; non-staff are sent to the admin index (and on to log-in)",
}
# URL name -> parameter -> which object of the owner it names. Shared content (challenges) is
# readable by every learner; objects in OWNED belong to one user.
OWNED = {"challenge_submission": {"pk": "submission"}}
SHARED = {
    "challenge_detail": {"slug": "challenge"},
    "challenge_submit": {"slug": "challenge"},
    "challenge_reveal": {"slug": "challenge"},  # "Show me": records the caller's own reveal, shows the shared key
    # A concept (tag) is shared content; the review of it shows only the caller's own states of its cards.
    "review_concept": {"name": "tag"},
    "review_concept_practice": {"name": "tag"},  # POST only: a practice answer changes nothing
}
TOKENS = {
    "reminders_unsubscribe": {"token": "bogus-token"},
    "password_reset_confirm": {"uidb64": "MQ", "token": "bogus-token"},
}
# The admin's parameters: any value will do, the staff check comes first.
ADMIN_PARAMS = {
    "app_label": "cards", "object_id": "1", "content_type_id": "1", "url": "no-such-page/",
    "model": "challenge", "rest": "1/change/",
}  # fmt: skip


@dataclass
class World:
    owner: AbstractBaseUser
    intruder: AbstractBaseUser
    state: ReviewState
    log: ReviewLog
    challenge: Challenge
    submission: Submission
    tag: Tag


@pytest.fixture
def world() -> World:
    owner, intruder = make_user(password=None), make_user(password=None)
    state = make_state(user=owner)
    snapshot = {"repetitions": 0, "easiness": "2.50", "interval": 0}
    today = dt.datetime.now(dt.UTC).date()
    log = ReviewLog.objects.create(
        user=owner, card=state.card, source=ReviewLog.Source.REVIEW, quality=4, before=snapshot, after=snapshot,
        reviewed_on=today, answered_at=timezone.now(),
    )  # fmt: skip
    challenge = Challenge.objects.create(
        slug=f"walk-{uuid.uuid4().hex[:6]}", title="Walk", prompt="p", reference_solution="pass",
        grader_kind="none",
    )  # fmt: skip
    submission = Submission.objects.create(user=owner, challenge=challenge, code="print(1)")
    tag = Tag.objects.create(name=f"walk-{uuid.uuid4().hex[:6]}")
    state.card.tags.add(tag)
    return World(owner, intruder, state, log, challenge, submission, tag)


def _filler(world: World):
    def fill(route: Route, param: str) -> str:
        if route.is_admin:
            return ADMIN_PARAMS.get(param, "1")
        for table in (OWNED, SHARED):
            if param in table.get(route.name, {}):
                obj = getattr(world, table[route.name][param])
                return str(obj.pk if param in ("pk", "id") else getattr(obj, param))
        if param in TOKENS.get(route.name, {}):
            return TOKENS[route.name][param]
        raise AssertionError(
            f"URL {route.route!r} ({route.name}) takes {param!r}: add it to OWNED, SHARED or TOKENS in {__file__}"
        )

    return fill


def _get_or_post(client: Client, url: str):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


def _learner_routes() -> list[Route]:
    return [route for route in all_routes() if not route.is_admin]


def test_the_walk_sees_every_area_of_the_app() -> None:
    names = {route.name for route in all_routes()}
    for expected in ("home", "review", "review_answer", "challenge_submission", "healthz", "admin:index"):
        assert expected in names
    assert not {name for name in PUBLIC if name not in names}, "a public URL listed here no longer exists"


def test_every_non_public_learner_url_sends_anonymous_visitors_to_log_in(client: Client, world: World) -> None:
    fill = _filler(world)
    checked = []
    for route in _learner_routes():
        if route.name in PUBLIC:
            continue
        url = url_for(route, fill)
        response = _get_or_post(client, url)
        assert response.status_code == 302, f"{url} ({route.name}) answered {response.status_code} to a stranger"
        assert response["Location"].startswith("/accounts/login/?next="), f"{url} -> {response['Location']}"
        checked.append(route.name)
    assert len(checked) >= 8


def test_another_users_ids_are_403_or_404_and_the_owner_gets_them(client: Client, world: World) -> None:
    fill = _filler(world)
    owned = [route for route in _learner_routes() if route.name in OWNED]
    assert owned
    for route in owned:
        url = url_for(route, fill)
        client.force_login(world.intruder)
        assert _get_or_post(client, url).status_code in (403, 404), f"{url} shows {route.name} to another user"
        client.force_login(world.owner)
        assert _get_or_post(client, url).status_code in (200, 302), f"{url}: the owner cannot open their own"


def test_other_learner_urls_answer_a_logged_in_user_without_error(client: Client, world: World) -> None:
    fill = _filler(world)
    client.force_login(world.intruder)
    for route in _learner_routes():
        if route.name in OWNED or route.name in PUBLIC:
            continue
        url = url_for(route, fill)
        response = client.get(url)  # GET only: a POST here could act (submit code) on the intruder's behalf
        assert response.status_code in (200, 302, 405), f"{url} ({route.name}) answered {response.status_code}"


def test_ids_posted_in_forms_are_scoped_too(client: Client, world: World) -> None:
    """The review endpoints take their ids in the body: another user's state or log is not theirs to change."""
    client.force_login(world.intruder)
    answer = client.post(
        "/review/answer/",
        {"state": world.state.pk, "version": world.state.version, "quality": 5, "request_id": str(uuid.uuid4())},
    )
    assert answer.status_code == 404
    client.post("/review/undo/", {"log": world.log.pk, "request_id": str(uuid.uuid4())})
    world.state.refresh_from_db()
    assert world.state.version == 0
    assert not ReviewLog.objects.filter(undoes=world.log).exists()
    assert not ReviewLog.objects.filter(user=world.intruder).exists()
    # A concept's review: the owner's card is not the intruder's to practise, nor shown to them.
    practice = client.post(f"/review/concept/{world.tag.name}/practice/", {"card": world.state.card_id, "quality": 5})
    assert practice.status_code == 404
    page = client.get(f"/review/concept/{world.tag.name}/").content.decode()
    assert "No cards to practise yet" in page and world.state.card.question not in page


@pytest.mark.parametrize("who", ["anonymous", "learner"])
def test_every_admin_url_needs_staff(client: Client, world: World, who: str) -> None:
    if who == "learner":
        client.force_login(world.intruder)
    fill = _filler(world)
    admin_routes = [route for route in all_routes() if route.is_admin and route.name not in PUBLIC]
    assert len(admin_routes) > 20
    for route in admin_routes:
        url = url_for(route, fill)
        response = client.get(url)
        if route.name == "moved_admin":  # an address from before the app split: to the new one, checked there
            assert (response.status_code, response["Location"]) == (301, "/admin/challenges/challenge/1/change/")
            response = client.get(response["Location"])
        assert response.status_code == 302, f"{url} ({route.name}) answered {response.status_code}"
        assert response["Location"].startswith("/admin/login/"), f"{url} -> {response['Location']}"


def test_public_urls_leak_nothing_with_a_bogus_token(client: Client, world: World) -> None:
    response = client.get(url_for(next(r for r in all_routes() if r.name == "reminders_unsubscribe"), _filler(world)))
    assert response.status_code == 400
    assert world.owner.username not in response.content.decode()
