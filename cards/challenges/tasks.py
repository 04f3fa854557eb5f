"""Celery tasks: grade a submission in the sandbox, and sweep up submissions left behind.

How a grading survives a dying worker, and never counts twice:

- The message is acknowledged late (settings: acks_late, reject_on_worker_lost), so
  a worker killed mid-grading leaves it for the next worker (Redis redelivers it
  after the broker's visibility timeout; the periodic sweep queues it again too).
- A worker claims a submission with a lease in Redis (SET NX with a TTL, renewed by
  a heartbeat thread while it grades) and a conditional UPDATE queued/running ->
  running with attempts + 1. A live lease means another worker is on it; a running
  submission without a live lease was left by a dead worker and is taken over.
- The verdict is written only if the row is still running *with this attempt's
  number* (a fencing token), in the same transaction as the SM-2 answer it feeds,
  whose review-log key is unique per submission: a verdict is saved once and
  counted once, whatever is delivered twice.

Error policy: a `GradingError` (the sandbox or a fixture could not run: not the
learner's fault) is retried with back-off, the submission going back to "queued";
when the retries are spent it ends as "error" with a message saying the code was
not judged. Any other exception from a grader is a bug of ours: "error" at once,
no retry (it would fail the same way), with the traceback in the worker's log.
Past the soft time limit the grading ends as "error"; past the hard limit the
worker's child is killed and the sweep takes the submission up again, at most
MAX_ATTEMPTS times, so code that kills workers cannot loop forever.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task, signals
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from cards.grading import GradingError, InvalidSubmission, Verdict

from . import answers, practice
from .models import Challenge, Submission

logger = logging.getLogger(__name__)

# The tasks keep the names they had before the app split: beat's rows and queued messages name them.
TASK_PREFIX = "cards.tasks"


# Seconds (studyapp/settings.py). The soft limit must cover a grading on a loaded 2-core machine;
# the hard limit kills what ignores it.
SOFT_TIME_LIMIT = settings.CHALLENGE_GRADING_SOFT_SECONDS
HARD_TIME_LIMIT = SOFT_TIME_LIMIT + 30
LEASE_SECONDS = settings.CHALLENGE_GRADING_LEASE_SECONDS
QUEUED_STALE_SECONDS = settings.CHALLENGE_QUEUED_STALE_SECONDS
MAX_ATTEMPTS = 3
MAX_RETRIES = 4

Status = Submission.Status


def grade_challenge(challenge: Challenge, code: str | bytes) -> Verdict:
    """Grade code against a challenge: the one call the grading task, the check task and `manage.py grade` share."""
    from cards.grading.graders import grade  # here: the web imports this module, never the graders

    return grade(challenge.grader_kind, code, challenge.grader_params)


def lease_key(submission_id: int) -> str:
    """The Redis key a worker holds while it grades a submission."""
    return f"challenges:grading:{submission_id}"


class _Lease:
    """A claim on one submission in Redis, renewed by a daemon thread until released."""

    def __init__(self, submission_id: int) -> None:
        self.key = lease_key(submission_id)
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> bool:
        if not cache.add(self.key, self.token, timeout=LEASE_SECONDS):
            return False
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.key}", daemon=True)
        self._thread.start()
        return True

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_SECONDS / 3):
            try:
                cache.touch(self.key, timeout=LEASE_SECONDS)
            except Exception:  # a Redis hiccup: the next beat tries again; expiry is the worst case
                logger.warning("could not renew %s", self.key, exc_info=True)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if cache.get(self.key) == self.token:
            cache.delete(self.key)


def _fenced(submission_id: int, attempt: int) -> QuerySet[Submission]:
    """The submission, only while this attempt still owns it."""
    return Submission.objects.filter(pk=submission_id, status=Status.RUNNING, attempts=attempt)


def _verdict_json(verdict: Verdict) -> dict[str, Any]:
    # Round-trip through JSON so what is stored is exactly what any reader gets back.
    return json.loads(json.dumps(verdict.to_dict(), default=str))


def _finish_error(submission_id: int, attempt: int, message: str) -> None:
    _fenced(submission_id, attempt).update(status=Status.ERROR, error_message=message, finished_at=timezone.now())


def _claim(submission_id: int) -> int | None:
    """Mark the submission running for this worker; return the attempt number, or None if done.

    A queued submission is always taken; a running one (its worker died: no live
    lease) only while fewer than MAX_ATTEMPTS workers have started it.
    """
    now = timezone.now()
    claimed = Submission.objects.filter(
        Q(status=Status.QUEUED) | Q(status=Status.RUNNING, attempts__lt=MAX_ATTEMPTS), pk=submission_id
    ).update(status=Status.RUNNING, attempts=F("attempts") + 1, started_at=now, error_message="")
    if claimed:
        return Submission.objects.values_list("attempts", flat=True).get(pk=submission_id)
    _give_up(Submission.objects.filter(pk=submission_id, status=Status.RUNNING), now)
    return None


def _give_up(running: QuerySet[Submission], now: datetime) -> int:
    """End as "error" the submissions whose workers died MAX_ATTEMPTS times: stop trying."""
    return running.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=Status.ERROR,
        error_message=f"Grading stopped {MAX_ATTEMPTS} times before it finished; your code was not judged.",
        finished_at=now,
    )


def save_verdict(submission_id: int, attempt: int, verdict: Verdict) -> bool:
    """Store the verdict and feed its quality to SM-2, together, if this attempt still owns the row.

    An attempt sent after its learner saw the answer counts at most 3 (cards.challenges.answers).
    """
    with transaction.atomic():
        after_reveal = Submission.objects.filter(pk=submission_id).values_list("after_reveal", flat=True).first()
        saved = _fenced(submission_id, attempt).update(
            status=Status.GRADED,
            verdict=_verdict_json(verdict),
            passed=verdict.passed,
            quality=answers.capped_quality(verdict.quality, bool(after_reveal)),
            error_message="",
            finished_at=timezone.now(),
        )
        if saved:
            submission = Submission.objects.select_related("challenge").get(pk=submission_id)
            practice.record_verdict(submission)
    return bool(saved)


@shared_task(
    name=f"{TASK_PREFIX}.grade_submission",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
    max_retries=MAX_RETRIES,
)
def grade_submission(self, submission_id: int) -> str:
    """Grade one submission in the sandbox and save its verdict; returns what happened (for logs)."""
    status = Submission.objects.filter(pk=submission_id).values_list("status", flat=True).first()
    if status is None:
        return "missing"
    if status in (Status.GRADED, Status.ERROR):
        return "already done"

    lease = _Lease(submission_id)
    if not lease.acquire():
        # Another worker holds it (or held it a moment ago). Look again later, in
        # case that worker dies: the lease will have expired by then.
        raise self.retry(countdown=LEASE_SECONDS, max_retries=None)
    try:
        attempt = _claim(submission_id)
        if attempt is None:
            return "already done"
        submission = Submission.objects.select_related("challenge").get(pk=submission_id)
        try:
            verdict = grade_challenge(submission.challenge, submission.code)
        except GradingError as exc:
            logger.warning("submission %s: grader could not run: %s", submission_id, exc)
            if self.request.retries < MAX_RETRIES:
                _fenced(submission_id, attempt).update(
                    status=Status.QUEUED,
                    queued_at=timezone.now(),
                    error_message=f"The grader could not run ({exc}); trying again shortly.",
                )
                raise self.retry(countdown=10 * 2**self.request.retries) from None
            _finish_error(
                submission_id, attempt, f"The grader could not run ({exc}). Your code was not judged; try again later."
            )
            return "error"
        except InvalidSubmission as exc:
            _finish_error(submission_id, attempt, str(exc))
            return "error"
        except SoftTimeLimitExceeded:
            _finish_error(submission_id, attempt, f"Grading took longer than {SOFT_TIME_LIMIT} s and was stopped.")
            return "error"
        except Exception:
            logger.exception("submission %s: grader %s crashed", submission_id, submission.challenge.grader_kind)
            _finish_error(
                submission_id,
                attempt,
                "The grader crashed: a fault on our side, not in your code. It has been logged.",
            )
            return "error"
        return "graded" if save_verdict(submission_id, attempt, verdict) else "superseded"
    finally:
        lease.release()


@shared_task(name=f"{TASK_PREFIX}.sweep_stuck_submissions")
def sweep_stuck_submissions() -> dict[str, int]:
    """Queue again the submissions left queued or running too long (periodic, in beat)."""
    now = timezone.now()
    requeued = 0
    stale_queued = Submission.objects.filter(
        status=Status.QUEUED, queued_at__lt=now - timedelta(seconds=QUEUED_STALE_SECONDS)
    ).values_list("pk", flat=True)
    for pk in list(stale_queued):
        # Duplicated messages are harmless (the task is idempotent); a lost one is not.
        if Submission.objects.filter(pk=pk, status=Status.QUEUED).update(queued_at=now):
            grade_submission.apply_async((pk,))
            requeued += 1
    abandoned = Submission.objects.filter(
        status=Status.RUNNING, started_at__lt=now - timedelta(seconds=LEASE_SECONDS)
    ).values_list("pk", "attempts")
    for pk, attempts in list(abandoned):
        if cache.get(lease_key(pk)) is not None:
            continue  # a live worker is still grading it
        if _give_up(Submission.objects.filter(pk=pk, status=Status.RUNNING), now):
            continue
        if Submission.objects.filter(pk=pk, status=Status.RUNNING, attempts=attempts).update(
            status=Status.QUEUED, queued_at=now
        ):
            grade_submission.apply_async((pk,))
            requeued += 1
    if requeued:
        logger.info("sweep queued %d stuck submission(s) again", requeued)
    return {"requeued": requeued}


# --- Author checks (issue 9): the admin's "Grade reference and starter", on the worker -------------
#
# The admin saves a ChallengeCheck (a snapshot of the code and grader) and queues this task on the
# "sandbox" queue after the commit; the web process never grades. A check is not a Submission: no
# practice card, attempt count or statistic sees it. A worker claims a queued check with a
# conditional update and writes the result only while the check is still running with its claim;
# a check left running by a worker that died (or never picked up) is ended as "error" by the
# periodic `expire_stale_challenge_checks`, and the admin shows it as stale until then.

CHECK_STALE_SECONDS = settings.AUTHOR_CHECK_STALE_SECONDS
CHECK_QUEUED_STALE_SECONDS = settings.AUTHOR_CHECK_QUEUED_STALE_SECONDS
GRADER_KINDS_KEY = "challenges:grader-kinds"


def _check_piece(kind: str, params: dict[str, Any], code: str) -> tuple[dict[str, Any] | None, str]:
    """Grade one piece of an author's check: (the verdict as JSON, "") or (None, why it was not graded)."""
    from cards.grading.graders import grade

    if not code.strip():
        return None, "No code to grade."
    try:
        return _verdict_json(grade(kind, code, params)), ""
    except GradingError as exc:
        return None, f"The grader could not run: {exc}"
    except InvalidSubmission as exc:
        return None, str(exc)


@shared_task(
    name=f"{TASK_PREFIX}.run_challenge_check",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
)
def run_challenge_check(self, check_id: int) -> str:
    """Grade an author's check (reference, then starter) and store both results; returns what happened."""
    from .models import ChallengeCheck

    checks = ChallengeCheck.objects
    started = timezone.now()
    worker = self.request.hostname or ""
    if not checks.filter(pk=check_id, status=ChallengeCheck.Status.QUEUED).update(
        status=ChallengeCheck.Status.RUNNING, started_at=started, worker=worker
    ):
        # Done, ended, missing, or another worker has it (a duplicate or redelivered message).
        return "already taken"
    owned = checks.filter(pk=check_id, status=ChallengeCheck.Status.RUNNING, started_at=started, worker=worker)
    check = checks.get(pk=check_id)
    params = dict(check.grader_params or {})
    try:
        reference = _check_piece(check.grader_kind, params, check.reference_code)
        starter = _check_piece(check.grader_kind, params, check.starter_code)
    except SoftTimeLimitExceeded:
        owned.update(
            status=ChallengeCheck.Status.ERROR,
            error_message=f"The check took longer than {SOFT_TIME_LIMIT} s and was stopped.",
            finished_at=timezone.now(),
        )
        return "error"
    except Exception:
        logger.exception("challenge check %s: grader %s crashed", check_id, check.grader_kind)
        owned.update(
            status=ChallengeCheck.Status.ERROR,
            error_message="The grader crashed; the traceback is in the worker's log.",
            finished_at=timezone.now(),
        )
        return "error"
    saved = owned.update(
        status=ChallengeCheck.Status.DONE,
        reference_verdict=reference[0],
        reference_error=reference[1],
        starter_verdict=starter[0],
        starter_error=starter[1],
        finished_at=timezone.now(),
    )
    return "done" if saved else "superseded"


@shared_task(name=f"{TASK_PREFIX}.expire_stale_challenge_checks")
def expire_stale_challenge_checks() -> dict[str, int]:
    """End as "error" the author checks left running (the worker died) or never picked up (periodic, in beat)."""
    from .models import ChallengeCheck

    now = timezone.now()
    running = ChallengeCheck.objects.filter(
        status=ChallengeCheck.Status.RUNNING, started_at__lt=now - timedelta(seconds=CHECK_STALE_SECONDS)
    ).update(
        status=ChallengeCheck.Status.ERROR,
        error_message=(
            f"The worker stopped before finishing this check (still running after {CHECK_STALE_SECONDS} s: "
            "it was killed or lost). Nothing was judged; run the check again."
        ),
        finished_at=now,
    )
    queued = ChallengeCheck.objects.filter(
        status=ChallengeCheck.Status.QUEUED, created_at__lt=now - timedelta(seconds=CHECK_QUEUED_STALE_SECONDS)
    ).update(
        status=ChallengeCheck.Status.ERROR,
        error_message=(
            f"No worker picked this check up within {CHECK_QUEUED_STALE_SECONDS} s. "
            "Start a worker on the sandbox queue and run the check again."
        ),
        finished_at=now,
    )
    if running or queued:
        logger.info("ended %d stale running and %d stale queued author check(s)", running, queued)
    return {"running": running, "queued": queued}


@signals.worker_ready.connect(dispatch_uid="cards.challenges.tasks.publish_grader_kinds")
def _publish_grader_kinds(sender: Any = None, **kwargs: Any) -> None:
    """Tell the web which grader kinds the workers can run, so that the admin offers them without loading graders."""
    from cards.grading.graders import GRADERS  # in the worker only: the web never imports the graders

    try:
        cache.set(GRADER_KINDS_KEY, sorted(GRADERS), timeout=None)
    except Exception:  # Redis down: the worker cannot work either; the admin says no kinds were reported
        logger.warning("could not publish the grader kinds", exc_info=True)
