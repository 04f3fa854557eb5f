"""The challenges app's data migration: review-log rows written by challenge verdicts become source "challenge"."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone

from cards.challenges.models import Submission
from cards.challenges.practice import request_id_for
from cards.review.models import ReviewLog
from tests.migration_helpers import migrate_to, migrate_to_latest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE = [("review", "0002_reviewlog_source"), ("challenges", "0001_initial")]


def test_verdict_rows_are_marked_as_challenges_and_nothing_else_is() -> None:
    apps = migrate_to(BEFORE)
    User = apps.get_model("auth", "User")
    Deck, Card = apps.get_model("cards", "Deck"), apps.get_model("cards", "Card")
    Challenge, Submission = apps.get_model("challenges", "Challenge"), apps.get_model("challenges", "Submission")
    Log = apps.get_model("review", "ReviewLog")
    ann, bo = User.objects.create(username="ann"), User.objects.create(username="bo")
    deck = Deck.objects.create(slug="d", title="D")
    card = Card.objects.create(deck=deck, key="k", question="q", answer="a")
    practice = Card.objects.create(deck=deck, key="p", question="p", answer="a")
    challenge = Challenge.objects.create(
        slug="c", title="C", prompt="p", reference_solution="pass", grader_kind="x", practice_card=practice
    )
    graded = Submission.objects.create(user=ann, challenge=challenge, code="x", status="graded", quality=2)
    ungraded = Submission.objects.create(user=ann, challenge=challenge, code="y", status="error")
    day, now = dt.date(2026, 11, 30), timezone.now()

    def row(user, source, request_id, card=practice):
        return Log.objects.create(
            user=user, card=card, source=source, quality=3, request_id=request_id, before={"redrill": False},
            after={}, reviewed_on=day, answered_at=now,
        ).pk  # fmt: skip

    verdict = row(ann, "review", request_id_for(graded.pk))
    own_answer = row(ann, "review", uuid.uuid4(), card=card)
    own_redrill = row(ann, "redrill", uuid.uuid4(), card=card)
    # Another learner's row that happens to carry the same key is theirs, not a verdict.
    other = row(bo, "review", request_id_for(graded.pk))
    never_graded = row(ann, "review", request_id_for(ungraded.pk))

    migrate_to_latest()
    sources = dict(ReviewLog.objects.values_list("pk", "source"))
    assert sources[verdict] == "challenge"
    assert (sources[own_answer], sources[own_redrill], sources[other], sources[never_graded]) == (
        "review", "redrill", "review", "review",
    )  # fmt: skip

    # Unapplied, the verdict is an answer again (as it was written then); read through the models of then.
    apps = migrate_to(BEFORE)
    assert apps.get_model("review", "ReviewLog").objects.get(pk=verdict).source == "review"
    migrate_to_latest()


def test_existing_attempts_are_numbered_per_learner_and_challenge_in_order() -> None:
    apps = migrate_to([("challenges", "0002_verdict_log_rows")])
    User = apps.get_model("auth", "User")
    Challenge, OldSubmission = apps.get_model("challenges", "Challenge"), apps.get_model("challenges", "Submission")
    ann, bo = User.objects.create(username="ann"), User.objects.create(username="bo")
    one, two = (
        Challenge.objects.create(slug=slug, title=slug, prompt="p", reference_solution="pass", grader_kind="x")
        for slug in ("one", "two")
    )
    order = [(bo, one), (ann, one), (ann, two), (ann, one), (bo, one), (ann, one)]
    pks = [OldSubmission.objects.create(user=user, challenge=challenge, code="x").pk for user, challenge in order]

    migrate_to_latest()
    numbers = [Submission.objects.get(pk=pk).number for pk in pks]
    assert numbers == [1, 1, 1, 2, 2, 3]
