"""The grading task under real Celery workers and a real Redis: states, duplicates, a worker killed mid-grading.

The processes share a SQLite file (tests/challenges_stack.py says why); the grader
is the tests' marker grader, loaded into the workers with `-I`, which takes as
long as the code asks (SLEEP n) so that a worker can be caught mid-grading.
"""

import re
import time

import pytest

from tests.challenges_stack import Stack, migrated_template, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SUBMIT = """
from studyapp import ratelimit
from cards.challenges.submissions import submit
from tests.factories import make_challenge, make_user
user = make_user()
submission = submit(user, make_challenge(), {code!r}).submission
print("SUBMISSION", submission.pk)
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return migrated_template(tmp_path_factory.mktemp("challenges-db"))


def submit(stack: Stack, code: str, extra: str = "") -> int:
    out = stack.shell(SUBMIT.format(code=code) + extra)
    return int(re.search(r"SUBMISSION (\d+)", out).group(1))


def outcomes(log: str) -> list[str]:
    """What each finished task returned, from a worker's log."""
    return re.findall(r"grade_submission\[[^]]+\] succeeded in [\d.]+s: '([^']+)'", log)


def review_logs(stack: Stack) -> list[tuple]:
    return stack.query("SELECT source, quality FROM cards_reviewlog")


def test_worker_moves_a_submission_queued_running_graded_once_despite_duplicates(tmp_path, template):
    with Stack(tmp_path, template, CHALLENGE_GRADING_LEASE_SECONDS="3") as stack:
        worker = stack.start_worker("w1", concurrency=2)
        # Two more messages for the same submission, as a redelivery or a sweep would send.
        duplicates = "from cards.challenges.tasks import grade_submission\n"
        duplicates += "grade_submission.delay(submission.pk)\n" * 2
        pk = submit(stack, "SLEEP 2\nPASS\n", duplicates)

        seen = []

        def graded() -> bool:
            status = stack.submission(pk)["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            return status == "graded"

        wait_for(graded, 60, "the verdict")
        assert seen[-2:] == ["running", "graded"]
        # All three messages are done: one graded, the others found it graded (after waiting out the lease).
        wait_for(lambda: outcomes(stack.log(worker)).count("already done") == 2, 60, "the duplicates", interval=0.2)
        assert sorted(outcomes(stack.log(worker))) == ["already done", "already done", "graded"]

        row = stack.submission(pk)
        assert (row["status"], row["attempts"], row["passed"], row["quality"]) == ("graded", 1, 1, 5)
        assert row["started_at"] <= row["finished_at"]
        assert review_logs(stack) == [("challenge", 5)]  # the verdict on the practice card


def test_worker_killed_mid_grading_leaves_it_for_the_next_worker_which_grades_it_once(tmp_path, template):
    env = {"CELERY_VISIBILITY_TIMEOUT": "4", "CHALLENGE_GRADING_LEASE_SECONDS": "3"}
    with Stack(tmp_path, template, **env) as stack:
        first = stack.start_worker("doomed")
        pk = submit(stack, "SLEEP 5\nPASS\n")
        # "running" is written by the task's claim just before it calls the grader, which then sleeps
        # 5 s (SLEEP 5): from this moment the worker is mid-grading, so it is killed at once.
        wait_for(lambda: stack.submission(pk)["status"] == "running", 60, "the first worker to start grading")
        stack.kill(first)  # SIGKILL, worker and pool child: no cleanup, no ack
        killed_at = time.monotonic()
        assert stack.submission(pk)["status"] == "running"
        assert "succeeded" not in stack.log(first)

        second = stack.start_worker("rescuer")
        wait_for(lambda: stack.submission(pk)["status"] == "graded", 90, "the second worker's verdict")
        took = time.monotonic() - killed_at

        row = stack.submission(pk)
        assert (row["attempts"], row["passed"], row["quality"]) == (2, 1, 5)
        assert review_logs(stack) == [("challenge", 5)]  # the verdict on the practice card
        # The worker logs the task's result just after the verdict is committed.
        wait_for(lambda: outcomes(stack.log(second)), 30, "the second worker's log line", interval=0.2)
        assert outcomes(stack.log(second)) == ["graded"]
        print(f"graded by the second worker {took:.1f} s after the first was killed")
