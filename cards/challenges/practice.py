"""A graded challenge as an answer to its practice card: the verdict's quality moves SM-2.

A challenge takes its place in the daily review through its practice card, so a
graded submission is one answer to that card, through the same
`cards.review.queue.answer` a learner's click goes through (same re-drill rules, same
log). Its request_id is derived from the submission id and the review log is
unique per (user, request_id): a verdict feeds the schedule once, however often
the worker is asked to save it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from cards.review import queue
from cards.review.models import ReviewLog

from .models import Submission

# Fixed namespace: uuid5(namespace, "submission:<id>") is the same on every worker.
SUBMISSION_NAMESPACE = uuid.UUID("6c1f4a52-2d0e-4f8e-9a55-0c3b1f6a7e21")
# A learner answering the same card in another tab can move its version under us; try again.
_STALE_RETRIES = 3


def request_id_for(submission_id: int) -> uuid.UUID:
    """The review log's idempotency key for a submission's verdict."""
    return uuid.uuid5(SUBMISSION_NAMESPACE, f"submission:{submission_id}")


def record_verdict(submission: Submission, *, now: dt.datetime | None = None) -> ReviewLog | None:
    """Feed a graded submission's quality to its challenge's practice card; return the new log row.

    Returns None when the challenge has no practice card, the submission has no
    quality, or this verdict was already recorded.
    """
    card_id = submission.challenge.practice_card_id
    if card_id is None or submission.quality is None:
        return None
    now = now or timezone.now()
    user = submission.user
    today = queue.local_today(queue.profile_for(user), now)
    request_id = request_id_for(submission.pk)
    for _ in range(_STALE_RETRIES):
        state = queue.show_new_card(user, card_id, today)
        result = queue.answer(
            user,
            state.pk,
            version=state.version,
            quality=submission.quality,
            request_id=request_id,
            now=now,
            challenge=True,
        )
        if result.outcome is not queue.Outcome.STALE:
            return result.log
    return None
