"""Small factories for the admin tests: staff, learners, decks, cards, CSV uploads."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from cards.models import Card, Deck, Tag

_seq = itertools.count(1)


def make_superuser(**kwargs: object) -> AbstractBaseUser:
    kwargs.setdefault("username", f"author{next(_seq)}")
    return get_user_model().objects.create_superuser(password=None, **kwargs)


def make_staff(*permissions: str, **kwargs: object) -> AbstractBaseUser:
    """Staff with only the given permission codenames (e.g. "view_card")."""
    kwargs.setdefault("username", f"staff{next(_seq)}")
    user = get_user_model().objects.create_user(password=None, is_staff=True, **kwargs)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    return user


def make_learner(**kwargs: object) -> AbstractBaseUser:
    kwargs.setdefault("username", f"learner{next(_seq)}")
    return get_user_model().objects.create_user(password=None, **kwargs)


def make_deck(**kwargs: object) -> Deck:
    n = next(_seq)
    kwargs.setdefault("slug", f"deck-{n}")
    kwargs.setdefault("title", f"Deck {n}")
    return Deck.objects.create(**kwargs)


def make_card(*, tags: tuple[str, ...] = (), **kwargs: object) -> Card:
    n = next(_seq)
    if "deck" not in kwargs:
        kwargs["deck"] = make_deck()
    kwargs.setdefault("key", f"card-{n}")
    kwargs.setdefault("question", f"Question {n}?")
    kwargs.setdefault("answer", f"Answer {n}.")
    card = Card.objects.create(**kwargs)
    card.tags.set([Tag.objects.get_or_create(name=name)[0] for name in tags])
    return card


def csv_upload(text: str, name: str = "cards.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
