"""Submitting code to a challenge: the one path shared by the web page and the tests.

A submission is validated (size, UTF-8, NUL bytes), checked against the limits that
keep one client from flooding the sandbox, saved with status "queued", and only then
queued for the worker, after the transaction commits: the worker never looks for a row
that is not there yet, and a row is never lost because the broker was reached first.

The limits (settings, see docs/challenges.md):

- CHALLENGE_IN_FLIGHT_PER_USER (3): gradings one learner may have queued or running at
  once. This is what bounds a learner's share of the workers, not a rate: a fast learner
  submits again as soon as a verdict is in and never waits on a clock.
- CHALLENGE_QUEUE_MAX (200): with that many gradings queued in all, new submissions are
  refused with a Retry-After of CHALLENGE_QUEUE_RETRY_AFTER seconds (back-pressure).
- CHALLENGE_SUBMISSIONS_PER_MINUTE (30): a per-user safety net, counted in Redis. The
  in-flight cap bounds concurrency, not the rate of new rows: code that fails at once is
  graded in well under a second, so a script could still write 64 KiB rows as fast as a
  worker clears them. Thirty a minute stops that and is far above what a person types.

Both counts are read from the database (Submission rows queued or running), the truth
that the worker and the sweep also keep; Redis may lose its counters, the table does not.
Nothing is limited per client address here: a classroom behind one NAT submits freely.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from studyapp import logs, ratelimit

from cards.grading import InvalidSubmission, check_code, count
from . import answers
from .models import Challenge, Submission
from .tasks import grade_submission

logger = logging.getLogger(__name__)

PENDING = (Submission.Status.QUEUED, Submission.Status.RUNNING)


class SubmissionRejected(Exception):
    """The submission was not accepted; `str(exc)` is a message for the learner.

    `http_status` is the answer a web request gets, and `retry_after` (seconds, or None)
    its Retry-After header.
    """

    http_status = 400
    retry_after: int | None = None


class UnknownChallenge(SubmissionRejected):
    """No active challenge has that slug."""


class RateLimited(SubmissionRejected):
    """Refused for now, not for what the code is: try again later (HTTP 429)."""

    http_status = 429

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyInFlight(RateLimited):
    """The learner already has CHALLENGE_IN_FLIGHT_PER_USER gradings queued or running."""


class QueueFull(RateLimited):
    """CHALLENGE_QUEUE_MAX gradings are queued in all: back-pressure on every new submission."""


@dataclass(frozen=True, slots=True)
class Submitted:
    """What `submit` did: the submission, and whether it is new (False: an identical one was pending)."""

    submission: Submission
    created: bool


def in_flight_limit() -> int:
    """Gradings one learner may have queued or running at once."""
    return settings.CHALLENGE_IN_FLIGHT_PER_USER


def active_challenge(slug: str) -> Challenge:
    """The active challenge with this slug, or UnknownChallenge."""
    try:
        return Challenge.objects.get(slug=slug, is_active=True)
    except Challenge.DoesNotExist:
        raise UnknownChallenge(f"There is no challenge called {slug!r}.") from None


def submission_limit() -> ratelimit.Limit:
    """The per-user safety limit on new submissions, counted in the shared cache (Redis)."""
    return ratelimit.Limit(scope="challenge-submit", limit=settings.CHALLENGE_SUBMISSIONS_PER_MINUTE, window=60)


def _check_limits(user: AbstractBaseUser) -> None:
    """Raise RateLimited (or a subclass) if this user may not queue one more grading now.

    Called inside the transaction that creates the row, with the user's row locked, so two
    requests from one learner cannot both see two in flight and both add a third.
    """
    cap = in_flight_limit()
    if Submission.objects.filter(user=user, status__in=PENDING).count() >= cap:
        raise TooManyInFlight(
            f"You already have {cap} submissions waiting for or being graded, the most at once. "
            "Your code is still here: submit it again when one of them has its verdict."
        )
    if Submission.objects.filter(status=Submission.Status.QUEUED).count() >= settings.CHALLENGE_QUEUE_MAX:
        wait = settings.CHALLENGE_QUEUE_RETRY_AFTER
        raise QueueFull(
            f"The graders are busy: too many submissions from everyone are waiting right now. "
            f"Your code is still here: submit it again in {count(wait, 'second')}.",
            wait,
        )
    limit = submission_limit()
    decision = ratelimit.hit(limit, str(user.pk))
    if not decision.allowed:
        raise RateLimited(
            f"You have sent {limit.limit} submissions in the last minute, the most allowed. "
            f"Try again in {count(decision.retry_after, 'second')}.",
            decision.retry_after,
        )


def submit(user: AbstractBaseUser, challenge: Challenge | str, code: str | bytes) -> Submitted:
    """Save a learner's code as a queued submission and queue its grading once the transaction commits.

    Raises SubmissionRejected (UnknownChallenge, invalid code, or RateLimited: too many in
    flight, the queue full, the safety limit) with a message for the learner; nothing is
    saved or queued then. Submitting the same code again while an identical submission is
    still waiting returns that one (a double click queues nothing twice).
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

    with transaction.atomic():
        # One learner's submissions go one at a time (SQLite's IMMEDIATE transactions already do).
        get_user_model()._default_manager.select_for_update().filter(pk=user.pk).values_list("pk").get()
        pending = Submission.objects.filter(user=user, challenge=challenge, status__in=PENDING, code=text).first()
        if pending is not None:
            return Submitted(pending, created=False)
        _check_limits(user)
        submission = Submission.objects.create(
            user=user,
            challenge=challenge,
            code=text,
            status=Submission.Status.QUEUED,
            queued_at=timezone.now(),
            after_reveal=answers.has_revealed(user, challenge),  # scores at most 3 when graded
        )
        enqueue_on_commit(submission.pk)
    return Submitted(submission, created=True)


def enqueue_on_commit(submission_id: int) -> None:
    """Queue the grading of a saved submission when the current transaction commits.

    If the broker (Redis) cannot be reached, the submission stays saved as "queued" and
    the learner's request still succeeds: the periodic sweep (cards.challenges.tasks) queues it
    again once Redis is back. The code is never lost and never graded twice.
    """

    def publish() -> None:
        with logs.bind_submission(submission_id):
            try:
                grade_submission.delay(submission_id)
            except OperationalError:
                logger.warning("broker unreachable: submission stays queued until the sweep queues it again")

    transaction.on_commit(publish)
