"""Small factories for the review tests: users, decks, cards, review states (kwargs.setdefault style)."""

from __future__ import annotations

import datetime as dt
import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from cards.models import Card, Deck, Profile, ReviewState

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-staple"  # noqa: S105 (test fixture)


def make_user(*, password: str | None = None, **kwargs: object) -> AbstractBaseUser:
    """A user with a Profile (time zone, new-card limit from `timezone`/`new_cards_per_day`).

    No usable password unless one is given: hashing one costs ~0.5 s here, and most
    tests log in with `client.force_login`.
    """
    profile_fields = {key: kwargs.pop(key) for key in ("timezone", "new_cards_per_day") if key in kwargs}
    kwargs.setdefault("username", f"learner{next(_seq)}")
    user = get_user_model().objects.create_user(password=password, **kwargs)
    Profile.objects.create(user=user, **profile_fields)
    return user


def make_deck(**kwargs: object) -> Deck:
    n = next(_seq)
    kwargs.setdefault("slug", f"deck-{n}")
    kwargs.setdefault("title", f"Deck {n}")
    return Deck.objects.create(**kwargs)


def make_card(**kwargs: object) -> Card:
    n = next(_seq)
    if "deck" not in kwargs:
        kwargs["deck"] = make_deck()
    kwargs.setdefault("key", f"card-{n}")
    kwargs.setdefault("question", f"Question {n}?")
    kwargs.setdefault("answer", f"Answer {n}.")
    kwargs.setdefault("position", n)
    return Card.objects.create(**kwargs)


def make_cards(count: int, **kwargs: object) -> list[Card]:
    """`count` cards in one deck, positions 1..count, created in one query."""
    deck = kwargs.pop("deck", None) or make_deck()
    return Card.objects.bulk_create(
        Card(deck=deck, key=f"c{i}", question=f"Question {i}?", answer=f"Answer {i}.", position=i, **kwargs)
        for i in range(1, count + 1)
    )


def make_state(**kwargs: object) -> ReviewState:
    """A review state; due today (UTC) unless told otherwise."""
    if "user" not in kwargs:
        kwargs["user"] = make_user()
    if "card" not in kwargs:
        kwargs["card"] = make_card()
    kwargs.setdefault("due_on", dt.datetime.now(dt.UTC).date())
    return ReviewState.objects.create(**kwargs)
