"""The grading task in this process (Celery's eager apply): transitions, idempotence, errors, sweep.

The grader is tests/challenges_graders.py's marker grader (it reads the code, never
runs it). The same task under a real worker, killed mid-run, is in
test_challenges_worker.py.
"""

import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone

from cards.challenges import tasks
from cards.challenges.models import Submission
from cards.challenges.practice import request_id_for
from cards.challenges.tasks import grade_challenge
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from studyapp.celery import app as celery_app
from tests.factories import FAILING, PASSING, make_challenge, make_submission, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
Status = Submission.Status


def run(submission: Submission) -> str:
    return tasks.grade_submission.apply(args=[submission.pk]).get()


def test_passing_submission_is_graded_once_and_feeds_its_practice_card():
    user, challenge = make_user(), make_challenge()
    submission = make_submission(user=user, challenge=challenge, code=PASSING, queued_at=timezone.now())

    assert run(submission) == "graded"
    submission.refresh_from_db()
    assert submission.status == Status.GRADED
    assert submission.attempts == 1
    assert submission.started_at <= submission.finished_at
    assert submission.passed is True and submission.quality == 5
    assert submission.verdict["passed"] is True
    assert submission.verdict["checks"][0]["name"] == "markers"
    state = ReviewState.objects.get(user=user, card=challenge.practice_card)
    assert (state.repetitions, state.interval, state.redrill) == (1, 1, False)
    log = ReviewLog.objects.get(user=user, card=challenge.practice_card)
    assert (log.source, log.quality, log.request_id) == ("challenge", 5, request_id_for(submission.pk))

    # Delivered again (a redelivery after a worker restart): nothing changes.
    assert run(submission) == "already done"
    submission.refresh_from_db()
    assert submission.attempts == 1
    assert ReviewLog.objects.filter(user=user).count() == 1


def test_failing_verdict_resets_the_card_and_brings_it_back_today():
    user, challenge = make_user(), make_challenge()
    submission = make_submission(user=user, challenge=challenge, code=FAILING)
    assert run(submission) == "graded"
    submission.refresh_from_db()
    assert (submission.passed, submission.quality) == (False, 1)
    state = ReviewState.objects.get(user=user, card=challenge.practice_card)
    assert (state.repetitions, state.redrill) == (0, True)

    # The same day, a passing answer is a re-drill: the schedule does not move.
    second = make_submission(user=user, challenge=challenge, code=PASSING)
    assert run(second) == "graded"
    state.refresh_from_db()
    assert (state.repetitions, state.redrill) == (0, False)
    # Both rows are the challenge's verdicts, not review answers: neither counts as a card answered today.
    assert list(ReviewLog.objects.filter(user=user).order_by("id").values_list("source", flat=True)) == [
        "challenge",
        "challenge",
    ]
    today = queue.local_today(queue.profile_for(user))
    assert queue.progress_for(user, queue.profile_for(user), today).done == 0
    assert ReviewLog.objects.undoable(user, today).first() is None


def test_infrastructure_failure_is_retried_then_ends_in_error_without_a_review():
    user, challenge = make_user(), make_challenge()
    submission = make_submission(user=user, challenge=challenge, code="INFRA\n")
    assert run(submission) == "error"
    submission.refresh_from_db()
    assert submission.status == Status.ERROR
    assert "could not run" in submission.error_message
    assert "not judged" in submission.error_message
    assert submission.attempts == tasks.MAX_RETRIES + 1
    assert not ReviewLog.objects.exists()


def test_grader_crash_ends_in_error_at_once():
    user, challenge = make_user(), make_challenge()
    submission = make_submission(user=user, challenge=challenge, code="CRASH\n")
    assert run(submission) == "error"
    submission.refresh_from_db()
    assert (submission.status, submission.attempts) == (Status.ERROR, 1)
    assert "grader crashed" in submission.error_message
    assert "grader bug" not in submission.error_message  # internals stay in the worker's log


def test_unknown_grader_kind_is_a_grading_error():
    user = make_user()
    challenge = make_challenge(grader_kind="no-such-kind")
    submission = make_submission(user=user, challenge=challenge, code=PASSING)
    assert run(submission) == "error"
    submission.refresh_from_db()
    assert "no grader of kind 'no-such-kind'" in submission.error_message


def test_a_stale_attempt_cannot_overwrite_a_newer_one():
    user, challenge = make_user(), make_challenge()
    submission = make_submission(user=user, challenge=challenge, code=PASSING, status=Status.RUNNING, attempts=2)
    verdict = grade_challenge(challenge, PASSING)
    assert tasks.save_verdict(submission.pk, attempt=1, verdict=verdict) is False
    submission.refresh_from_db()
    assert submission.status == Status.RUNNING
    assert tasks.save_verdict(submission.pk, attempt=2, verdict=verdict) is True


def test_running_submission_of_a_dead_worker_is_taken_over_up_to_the_limit():
    user, challenge = make_user(), make_challenge()
    taken = make_submission(user=user, challenge=challenge, code=PASSING, status=Status.RUNNING, attempts=1)
    assert run(taken) == "graded"
    taken.refresh_from_db()
    assert taken.attempts == 2

    poison = make_submission(
        user=user, challenge=challenge, code="PASS\n#2\n", status=Status.RUNNING, attempts=tasks.MAX_ATTEMPTS
    )
    assert run(poison) == "already done"
    poison.refresh_from_db()
    assert poison.status == Status.ERROR
    assert "stopped 3 times" in poison.error_message


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_sweep_queues_stuck_submissions_again_and_they_get_graded(eager_celery):
    user, challenge = make_user(), make_challenge()
    long_ago = timezone.now() - dt.timedelta(hours=1)
    queued = make_submission(user=user, challenge=challenge, code="PASS\n#q\n", queued_at=long_ago)
    running = make_submission(
        user=user, challenge=challenge, code="PASS\n#r\n", status=Status.RUNNING, attempts=1, started_at=long_ago
    )
    fresh = make_submission(user=user, challenge=challenge, code="PASS\n#f\n", queued_at=timezone.now())
    busy = make_submission(
        user=user, challenge=challenge, code="PASS\n#b\n", status=Status.RUNNING, attempts=1, started_at=long_ago
    )
    cache.set(tasks.lease_key(busy.pk), "another worker", timeout=30)
    assert tasks.sweep_stuck_submissions() == {"requeued": 2}
    statuses = dict(Submission.objects.values_list("pk", "status"))
    assert statuses[queued.pk] == statuses[running.pk] == Status.GRADED
    assert statuses[fresh.pk] == Status.QUEUED
    assert statuses[busy.pk] == Status.RUNNING


def test_beat_runs_the_sweep_every_minute():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="cards.tasks.sweep_stuck_submissions")
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (60, "seconds")


def test_a_challenge_without_practice_card_is_graded_without_a_review():
    user = make_user()
    challenge = make_challenge(practice_card=None)
    submission = make_submission(user=user, challenge=challenge, code=PASSING)
    assert run(submission) == "graded"
    assert not ReviewLog.objects.exists()
