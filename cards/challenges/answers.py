"""A challenge's answer key: hidden from a learner until they pass or give up ("Show me").

The key is what would hand the answer over: the author's reference solution, and what a
grader measured and kept in a verdict's `answer_key` (the order a program printed its
lines in, the lines that blocked its loop). Giving up is recorded once per learner and
challenge; every attempt sent after it is marked, and scores at most
AnswerReveal.REVEALED_MAX_QUALITY when graded.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from .models import AnswerReveal, Challenge, Submission


def reveal(user: AbstractBaseUser, challenge: Challenge) -> AnswerReveal:
    """Record that `user` gave up on `challenge` and may see its answer (again: nothing changes)."""
    revealed, _ = AnswerReveal.objects.get_or_create(user=user, challenge=challenge)
    return revealed


def has_revealed(user: AbstractBaseUser, challenge: Challenge) -> bool:
    """Did `user` ask to see this challenge's answer?"""
    return AnswerReveal.objects.filter(user=user, challenge=challenge).exists()


def has_passed(user: AbstractBaseUser, challenge: Challenge) -> bool:
    """Has any of `user`'s attempts at this challenge passed?"""
    return Submission.objects.filter(user=user, challenge=challenge, passed=True).exists()


def key_visible(user: AbstractBaseUser, challenge: Challenge) -> bool:
    """May `user` see the answer key: have they passed this challenge, or given up on it?"""
    return has_revealed(user, challenge) or has_passed(user, challenge)


def capped_quality(quality: int, after_reveal: bool) -> int:
    """An attempt's quality as it counts: at most REVEALED_MAX_QUALITY once the answer was seen."""
    return min(quality, AnswerReveal.REVEALED_MAX_QUALITY) if after_reveal else quality
