"""Submitting code: validation, unknown challenges, the per-user safety limit, nothing queued twice.

The in-flight cap and the queue's back-pressure are in tests/challenges/test_grading_queue.py.
"""

import pytest

from cards.challenges.models import Submission
from cards.challenges.submissions import RateLimited, SubmissionRejected, UnknownChallenge, submit
from cards.grading import MAX_CODE_BYTES
from tests.factories import PASSING, make_challenge, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def learner():
    return make_user()


def test_submission_is_saved_queued_and_enqueued_once_on_commit(learner, django_capture_on_commit_callbacks):
    challenge = make_challenge()
    with django_capture_on_commit_callbacks() as callbacks:
        submitted = submit(learner, challenge.slug, PASSING)
    assert submitted.created
    submission = submitted.submission
    assert submission.status == Submission.Status.QUEUED
    assert submission.queued_at is not None
    assert len(callbacks) == 1  # the enqueue waits for the commit


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("x = 1\n" * (MAX_CODE_BYTES // 6 + 1), "64 KiB"),
        (b"print('caf\xe9')", "not UTF-8"),
        ("print(1)\x00", "NUL byte"),
        ("   \n", "empty"),
    ],
)
def test_invalid_code_is_refused_nothing_saved_or_queued(learner, django_capture_on_commit_callbacks, code, message):
    challenge = make_challenge()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(SubmissionRejected, match=message):
        submit(learner, challenge, code)
    assert not Submission.objects.exists()
    assert callbacks == []


def test_exactly_64_kib_is_accepted(learner):
    challenge = make_challenge()
    code = "#" * (MAX_CODE_BYTES - 1) + "\n"
    assert submit(learner, challenge, code.encode()).created


def test_unknown_or_inactive_challenge_is_refused(learner):
    make_challenge(slug="closed", is_active=False)
    with pytest.raises(UnknownChallenge, match="no challenge called 'nope'"):
        submit(learner, "nope", PASSING)
    with pytest.raises(UnknownChallenge):
        submit(learner, "closed", PASSING)
    assert not Submission.objects.exists()


def test_identical_pending_submission_is_not_queued_twice(learner, django_capture_on_commit_callbacks):
    challenge = make_challenge()
    with django_capture_on_commit_callbacks() as callbacks:
        first = submit(learner, challenge, PASSING)
        again = submit(learner, challenge, PASSING)
    assert not again.created
    assert again.submission.pk == first.submission.pk
    assert Submission.objects.count() == 1
    assert len(callbacks) == 1


def test_rate_limit_per_user_with_a_clear_message(learner, settings, django_capture_on_commit_callbacks):
    settings.CHALLENGE_SUBMISSIONS_PER_MINUTE = 3
    settings.CHALLENGE_IN_FLIGHT_PER_USER = 10  # the safety limit, not the in-flight cap, is under test
    challenge = make_challenge()
    other = make_user(username="other")
    with django_capture_on_commit_callbacks() as callbacks:
        for n in range(3):
            submit(learner, challenge, f"PASS\n# {n}\n")
        with pytest.raises(RateLimited, match="3 submissions in the last minute") as excinfo:
            submit(learner, challenge, "PASS\n# 4\n")
        # Another learner is not held back by the first one's flood.
        assert submit(other, challenge, PASSING).created
    assert 1 <= excinfo.value.retry_after <= 60
    assert Submission.objects.filter(user=learner).count() == 3
    assert len(callbacks) == 4


def test_attempts_are_numbered_per_learner_and_challenge(learner):
    """A learner's first try is attempt 1, whatever others (or they, elsewhere) submitted before."""
    first, second = make_challenge(), make_challenge()
    other = make_user()
    for n in range(3):
        submit(other, first.slug, f"PASS\n# {n}\n")
        Submission.objects.filter(user=other).update(status=Submission.Status.GRADED)  # under the in-flight cap
    mine = [submit(learner, first.slug, "PASS\n# a\n").submission]
    Submission.objects.filter(pk=mine[0].pk).update(status=Submission.Status.GRADED)
    mine.append(submit(learner, first.slug, "PASS\n# b\n").submission)
    elsewhere = submit(learner, second.slug, PASSING).submission
    assert [s.number for s in mine] == [1, 2] and elsewhere.number == 1
    assert sorted(Submission.objects.filter(user=other).values_list("number", flat=True)) == [1, 2, 3]
