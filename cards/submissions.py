"""Submitting code to a challenge: the one path shared by the web page and the tests.

A submission is validated (size, UTF-8, NUL bytes), rate limited per user through
the Redis cache, saved with status "queued", and only then queued for the worker,
after the transaction commits: the worker never looks for a row that is not there
yet, and a row is never lost because the broker was reached first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from . import logs, ratelimit
from .grading import InvalidSubmission, Verdict, check_code, grade
from .models import Challenge, Submission

logger = logging.getLogger(__name__)

DEFAULT_PER_MINUTE = 6
PENDING = (Submission.Status.QUEUED, Submission.Status.RUNNING)


class SubmissionRejected(Exception):
    """The submission was not accepted; `str(exc)` is a message for the learner."""


class UnknownChallenge(SubmissionRejected):
    """No active challenge has that slug."""


class RateLimited(SubmissionRejected):
    """Too many submissions from one user in the current minute."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Submitted:
    """What `submit` did: the submission, and whether it is new (False: an identical one was pending)."""

    submission: Submission
    created: bool


def per_minute_limit() -> int:
    """Submissions one user may make per minute (setting CHALLENGE_SUBMISSIONS_PER_MINUTE)."""
    return int(getattr(settings, "CHALLENGE_SUBMISSIONS_PER_MINUTE", DEFAULT_PER_MINUTE))


def active_challenge(slug: str) -> Challenge:
    """The active challenge with this slug, or UnknownChallenge."""
    try:
        return Challenge.objects.get(slug=slug, is_active=True)
    except Challenge.DoesNotExist:
        raise UnknownChallenge(f"There is no challenge called {slug!r}.") from None


def submission_limit() -> ratelimit.Limit:
    """The per-user limit on submissions, counted in the shared cache (Redis)."""
    return ratelimit.Limit(scope="challenge-submit", limit=per_minute_limit(), window=60)


def _take_rate_limit_slot(user_id: int) -> None:
    """Count one submission in this minute's window; raise RateLimited past the limit."""
    limit = submission_limit()
    decision = ratelimit.hit(limit, str(user_id))
    if not decision.allowed:
        raise RateLimited(
            f"You have sent {limit.limit} submissions in the last minute, the most allowed. "
            f"Try again in {decision.retry_after} seconds.",
            decision.retry_after,
        )


def submit(user: AbstractBaseUser, challenge: Challenge | str, code: str | bytes) -> Submitted:
    """Save a learner's code as a queued submission and queue its grading once the transaction commits.

    Raises SubmissionRejected (UnknownChallenge, RateLimited, or invalid code) with a
    message for the learner; nothing is saved or queued then. Submitting the same
    code again while an identical submission is still waiting returns that one
    (a double click queues nothing twice).
    """
    if isinstance(challenge, str):
        challenge = active_challenge(challenge)
    elif not challenge.is_active:
        raise UnknownChallenge(f"The challenge {challenge.slug!r} is not open for submissions.")
    try:
        text = check_code(code)
    except InvalidSubmission as exc:
        raise SubmissionRejected(str(exc)) from None
    if not text.strip():
        raise SubmissionRejected("The code is empty.")

    pending = Submission.objects.filter(user=user, challenge=challenge, status__in=PENDING, code=text).first()
    if pending is not None:
        return Submitted(pending, created=False)

    _take_rate_limit_slot(user.pk)
    with transaction.atomic():
        submission = Submission.objects.create(
            user=user, challenge=challenge, code=text, status=Submission.Status.QUEUED, queued_at=timezone.now()
        )
        enqueue_on_commit(submission.pk)
    return Submitted(submission, created=True)


def enqueue_on_commit(submission_id: int) -> None:
    """Queue the grading of a saved submission when the current transaction commits.

    If the broker (Redis) cannot be reached, the submission stays saved as "queued" and
    the learner's request still succeeds: the periodic sweep (cards.tasks) queues it
    again once Redis is back. The code is never lost and never graded twice.
    """
    from .tasks import grade_submission

    def publish() -> None:
        with logs.bind_submission(submission_id):
            try:
                grade_submission.delay(submission_id)
            except OperationalError:
                logger.warning("broker unreachable: submission stays queued until the sweep queues it again")

    transaction.on_commit(publish)


def grade_challenge(challenge: Challenge, code: str | bytes) -> Verdict:
    """Grade code against a challenge: the call the worker, the `grade` command and the admin share."""
    return grade(challenge.grader_kind, code, challenge.grader_params)
