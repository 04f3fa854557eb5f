"""Factories for the production and security tests (kwargs.setdefault style)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from cards.models import Card, Deck, Profile, ReviewState

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 (test fixture)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: real hashing costs ~0.5 s


def make_user(*, password: str | None = PASSWORD, **kwargs: object) -> AbstractBaseUser:
    """A user with a Profile and, unless told otherwise, the password PASSWORD (hashed with `FAST_HASHERS`
    when the test sets them)."""
    kwargs.setdefault("username", f"user-{uuid.uuid4().hex[:10]}")
    user = get_user_model().objects.create_user(password=password, **kwargs)
    Profile.objects.create(user=user)
    return user


def make_due_state(user: AbstractBaseUser, **kwargs: object) -> ReviewState:
    """A card of a fresh deck, due today (UTC) for `user`."""
    suffix = uuid.uuid4().hex[:8]
    deck = Deck.objects.create(slug=f"deck-{suffix}", title=f"Deck {suffix}")
    card = Card.objects.create(deck=deck, key=f"card-{suffix}", question="Q?", answer="A.", position=1)
    kwargs.setdefault("due_on", dt.datetime.now(dt.UTC).date())
    return ReviewState.objects.create(user=user, card=card, **kwargs)
