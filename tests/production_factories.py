"""Factories for the production and security tests (kwargs.setdefault style)."""

from __future__ import annotations

import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from cards.models import Profile

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 (test fixture)
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # tests only: real hashing costs ~0.5 s


def make_user(*, password: str | None = PASSWORD, **kwargs: object) -> AbstractBaseUser:
    """A user with a Profile and, unless told otherwise, the password PASSWORD (hashed with `FAST_HASHERS`
    when the test sets them)."""
    kwargs.setdefault("username", f"user-{uuid.uuid4().hex[:10]}")
    user = get_user_model().objects.create_user(password=password, **kwargs)
    Profile.objects.create(user=user)
    return user
