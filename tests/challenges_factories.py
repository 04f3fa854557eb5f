"""Factories for the challenge tests: users, challenges with a practice card, submissions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from cards.models import Card, Challenge, Deck, Submission
from tests import challenges_graders

PASSING = "PASS\n"
FAILING = "FAIL\n"


def make_user(username: str = "learner", **kwargs: Any) -> AbstractBaseUser:
    kwargs.setdefault("password", "a-long-test-password")
    return get_user_model().objects.create_user(username=username, **kwargs)


def make_challenge(slug: str = "test-challenge", **kwargs: Any) -> Challenge:
    deck, _ = Deck.objects.get_or_create(slug="challenges", defaults={"title": "Challenges"})
    card = Card.objects.create(deck=deck, key=slug, question=f"Challenge {slug}", answer="Solve it.")
    kwargs.setdefault("title", slug.replace("-", " ").title())
    kwargs.setdefault("prompt", "Write `get_data`.\n\n```python\nasync def get_data(url): ...\n```")
    kwargs.setdefault("starter_code", FAILING)
    kwargs.setdefault("reference_solution", PASSING)
    kwargs.setdefault("grader_kind", challenges_graders.KIND)
    kwargs.setdefault("practice_card", card)
    return Challenge.objects.create(slug=slug, **kwargs)


def make_submission(user: AbstractBaseUser, challenge: Challenge, code: str = PASSING, **kwargs: Any) -> Submission:
    kwargs.setdefault("status", Submission.Status.QUEUED)
    return Submission.objects.create(user=user, challenge=challenge, code=code, **kwargs)
