"""A database from before the app split (everything in the `cards` app, up to cards 0008) migrates
forward with nothing lost: same tables, same rows and keys, permissions still granted.

On PostgreSQL, the production database: the test migrates the test database back to the schema
main had before the split, fills it through the historical models, migrates forward, and reads
everything back through today's models.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from cards.accounts.models import Profile
from cards.challenges.models import Challenge, ChallengeCheck, Submission
from cards.models import Card, Deck, Tag
from cards.reminders.models import ReminderSend
from cards.review.models import ReviewLog, ReviewState
from tests.migration_helpers import migrate_to, migrate_to_latest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# The schema main had before the split: the cards app at 0008, none of the new apps yet.
BEFORE_SPLIT = [
    ("cards", "0008_challenge_check"),
    ("accounts", None),
    ("review", None),
    ("challenges", None),
    ("reminders", None),
    ("anki", None),  # came after the split (it depends on cards 0010)
]
MOVED = {
    "profile": "accounts",
    "reviewstate": "review",
    "reviewlog": "review",
    "challenge": "challenges",
    "submission": "challenges",
    "challengecheck": "challenges",
    "remindersend": "reminders",
}


def fill_the_old_schema(apps) -> dict:
    """One of everything, through the models as they were in the cards app."""
    User = apps.get_model("auth", "User")
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    old = {
        name: apps.get_model("cards", name)
        for name in ("Deck", "Card", "Tag", "Profile", "ReviewState", "ReviewLog")
        + ("Challenge", "Submission", "ChallengeCheck", "ReminderSend")
    }
    now = timezone.now()
    today = dt.date(2026, 11, 30)

    ann = User.objects.create(username="ann", email="ann@example.com")
    authors = Group.objects.create(name="authors")
    authors.permissions.add(Permission.objects.get(codename="change_challenge", content_type__app_label="cards"))
    ann.groups.add(authors)
    ann.user_permissions.add(Permission.objects.get(codename="view_reviewlog", content_type__app_label="cards"))

    deck = old["Deck"].objects.create(slug="async", title="Async")
    tag = old["Tag"].objects.create(name="event-loop")
    card = old["Card"].objects.create(deck=deck, key="loop", question="Q?", answer="A.", position=1)
    card.tags.add(tag)
    practice = old["Card"].objects.create(deck=deck, key="practice", question="Fix it", answer="Done", position=2)
    profile = old["Profile"].objects.create(user=ann, timezone="Pacific/Auckland", new_cards_per_day=7)
    state = old["ReviewState"].objects.create(
        user=ann, card=card, repetitions=2, easiness=Decimal("2.36"), interval=6, due_on=today,
        last_reviewed_on=today, version=3, introduced_on=dt.date(2026, 11, 20),
    )  # fmt: skip
    snapshot = {"repetitions": 1, "easiness": "2.50", "interval": 1}
    answer = old["ReviewLog"].objects.create(
        user=ann, card=card, kind="review", quality=4, before=snapshot, after=snapshot, reviewed_on=today,
        answered_at=now, duration_ms=4200,
    )  # fmt: skip
    undo = old["ReviewLog"].objects.create(
        user=ann, card=card, kind="undo", undoes=answer, before=snapshot, after=snapshot, reviewed_on=today,
        answered_at=now,
    )  # fmt: skip
    challenge = old["Challenge"].objects.create(
        slug="async-blocking-call", title="Blocking call", prompt="p", reference_solution="pass",
        grader_kind="async_blocking_call", grader_params={"calls": 10}, practice_card=practice,
    )  # fmt: skip
    challenge.concepts.add(card)
    submission = old["Submission"].objects.create(
        user=ann, challenge=challenge, code="print(1)", status="graded", passed=True, quality=5,
        verdict={"passed": True}, finished_at=now,
    )  # fmt: skip
    check = old["ChallengeCheck"].objects.create(challenge=challenge, requested_by=ann, grader_kind="x", status="done")
    send = old["ReminderSend"].objects.create(
        user=ann, local_date=today, status="sent", due_count=4, claimed_at=now, claim_token=uuid.uuid4(), sent_at=now
    )
    return {
        "ann": ann.pk, "deck": deck.pk, "tag": tag.pk, "card": card.pk, "practice": practice.pk,
        "profile": profile.pk, "state": state.pk, "answer": answer.pk, "undo": undo.pk,
        "challenge": challenge.pk, "submission": submission.pk, "check": check.pk, "send": send.pk,
        "send_token": send.claim_token,
    }  # fmt: skip


def test_a_database_from_before_the_split_migrates_forward_with_nothing_lost() -> None:
    kinds_before = {model: ContentType.objects.get(app_label=label, model=model).pk for model, label in MOVED.items()}
    old_apps = migrate_to(BEFORE_SPLIT)
    # Back where main was: the moved models are the cards app's again, with the same content types.
    assert {
        model: old_apps.get_model("contenttypes", "ContentType").objects.get(app_label="cards", model=model).pk
        for model in MOVED
    } == kinds_before
    ids = fill_the_old_schema(old_apps)

    migrate_to_latest()
    ContentType.objects.clear_cache()

    ann = get_user_model().objects.get(pk=ids["ann"])
    assert Profile.objects.get(pk=ids["profile"]).user == ann and ann.profile.timezone == "Pacific/Auckland"
    assert ann.profile.new_cards_per_day == 7
    card = Card.objects.get(pk=ids["card"])
    assert card.deck == Deck.objects.get(pk=ids["deck"]) and list(card.tags.all()) == [Tag.objects.get(pk=ids["tag"])]

    state = ReviewState.objects.get(pk=ids["state"])
    assert (state.user, state.card, state.repetitions, state.easiness, state.interval, state.version) == (
        ann, card, 2, Decimal("2.36"), 6, 3,
    )  # fmt: skip
    assert state.introduced_on == dt.date(2026, 11, 20)
    answer, undo = ReviewLog.objects.get(pk=ids["answer"]), ReviewLog.objects.get(pk=ids["undo"])
    assert (answer.source, answer.quality, answer.duration_ms, answer.undone_by) == ("review", 4, 4200, undo)
    assert list(ReviewLog.objects.answers_on(ann, dt.date(2026, 11, 30))) == []  # undone stays undone

    challenge = Challenge.objects.get(pk=ids["challenge"])
    assert challenge.practice_card_id == ids["practice"] and list(challenge.concepts.all()) == [card]
    assert challenge.grader_params == {"calls": 10} and card.challenges.get() == challenge
    submission = Submission.objects.get(pk=ids["submission"])
    assert (submission.user, submission.challenge, submission.quality, submission.verdict) == (
        ann, challenge, 5, {"passed": True},
    )  # fmt: skip
    assert ChallengeCheck.objects.get(pk=ids["check"]).requested_by == ann
    send = ReminderSend.objects.get(pk=ids["send"])
    assert (send.user, send.status, send.due_count, send.claim_token) == (ann, "sent", 4, ids["send_token"])

    # The content types moved with the models (same rows), so permissions granted before still hold.
    for model, label in MOVED.items():
        assert ContentType.objects.get(app_label=label, model=model).pk == kinds_before[model]
    assert not ContentType.objects.filter(app_label="cards", model__in=list(MOVED)).exists()
    assert ann.has_perm("challenges.change_challenge") and ann.has_perm("review.view_reviewlog")
    assert not ann.has_perm("challenges.delete_challenge")
    assert Permission.objects.filter(codename="change_challenge").count() == 1

    # The tables' sequences went on: new rows get new keys.
    later = ReviewLog.objects.create(
        user=ann, card=card, source="review", quality=5, before={}, after={}, reviewed_on=dt.date(2026, 12, 1),
        answered_at=timezone.now(),
    )  # fmt: skip
    assert later.pk > ids["undo"]


def test_the_split_unapplies_cleanly() -> None:
    """Migrating back to before the split (a rollback of a deploy) keeps the rows too."""
    card = Card.objects.create(deck=Deck.objects.create(slug="d", title="D"), key="k", question="q", answer="a")
    user = get_user_model().objects.create(username="bo")
    state = ReviewState.objects.create(user=user, card=card, due_on=dt.date(2026, 12, 1))

    old_apps = migrate_to(BEFORE_SPLIT)
    assert old_apps.get_model("cards", "ReviewState").objects.get(pk=state.pk).card_id == card.pk
    migrate_to_latest()
    ContentType.objects.clear_cache()
    assert ReviewState.objects.get(pk=state.pk).user == user
