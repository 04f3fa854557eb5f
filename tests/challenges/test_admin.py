"""The challenge admin: Markdown preview, the "grade reference and starter" check, read-only submissions.

The check is queued for a worker and never graded in the web process: these tests
queue it through the admin on the real Redis broker (REDIS_URL) and find the
message there, with grading and the sandbox made to explode in this process. A
worker then grades it (here by running the task in this process, as a worker
would; tests/challenges/test_admin_worker.py runs real workers end to end).
"""

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

import cards.grading.graders
import cards.sandbox
from cards.challenges import tasks
from cards.challenges.models import Challenge, ChallengeCheck, Submission
from cards.review.models import ReviewLog, ReviewState
from tests import challenges_graders
from tests.factories import make_challenge, make_submission, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def author(client):
    user = make_user(username="author", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def reported_kinds():
    """The grader kinds as a worker publishes them when it starts (cards.challenges.tasks._publish_grader_kinds)."""
    cache.set(tasks.GRADER_KINDS_KEY, [challenges_graders.KIND, "async-blocking-call"], timeout=None)


@pytest.fixture
def no_grading_here(monkeypatch):
    """Grading or the sandbox called in this (the web's) process fails the test."""

    def explode(*args, **kwargs):
        raise AssertionError("the web process graded or ran the sandbox")

    for module, name in (
        (cards.grading.graders, "grade"),
        (cards.sandbox, "run_python"),
        (cards.sandbox.jail, "run_python"),
    ):
        monkeypatch.setattr(module, name, explode)


def queued_task(check: ChallengeCheck, queue: str = "sandbox") -> dict:
    """The check's message in the real Redis broker (kombu keeps each queue as a Redis list), taken off it."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    found = [raw for raw in client.lrange(queue, 0, -1) if json.loads(raw)["headers"]["id"] == check.task_id]
    assert len(found) == 1, f"no message for check {check.pk} in the {queue} queue"
    client.lrem(queue, 1, found[0])  # no worker of this test run will consume it
    return json.loads(found[0])["headers"]


def queue_from_button(client, challenge, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("admin:challenges_challenge_grade_check", args=[challenge.pk]))
    assert len(callbacks) == 1  # published only once the check is committed
    return response


def test_change_page_shows_prompt_preview_and_grade_button(client, author, reported_kinds):
    challenge = make_challenge(prompt="Use **await**.\n\n```python\nawait asyncio.sleep(1)\n```")
    page = client.get(reverse("admin:challenges_challenge_change", args=[challenge.pk])).content.decode()
    assert "<strong>await</strong>" in page
    assert 'class="highlight"' in page  # the code block is highlighted as learners see it
    assert reverse("admin:challenges_challenge_grade_check", args=[challenge.pk]) in page
    assert "Grade reference and starter" in page


def test_the_button_queues_a_check_on_the_sandbox_queue_and_grades_nothing_here(
    client, author, no_grading_here, django_capture_on_commit_callbacks
):
    challenge = make_challenge()
    response = queue_from_button(client, challenge, django_capture_on_commit_callbacks)

    check = ChallengeCheck.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:challenges_challenge_checks") + f"?id={check.pk}"
    assert check.status == "queued" and check.challenge == challenge and check.requested_by == author
    assert (check.reference_code, check.starter_code) == ("PASS\n", "FAIL\n")
    assert check.grader_kind == challenges_graders.KIND
    assert check.reference_verdict is None and check.starter_verdict is None
    headers = queued_task(check)  # the message is in Redis, on the queue only workers consume
    assert headers["task"] == "cards.tasks.run_challenge_check"
    assert headers["argsrepr"] == f"({check.pk},)"
    # Not a learner's submission: nothing reaches submissions, practice cards or the review log.
    assert not Submission.objects.exists() and not ReviewLog.objects.exists() and not ReviewState.objects.exists()

    page = client.get(response["Location"]).content.decode()
    assert "check(s) queued" in page
    assert 'data-state="queued"' in page
    assert '<meta http-equiv="refresh"' in page  # reloads itself until the worker is done


def test_the_action_queues_one_check_per_challenge(client, author, no_grading_here, django_capture_on_commit_callbacks):
    good = make_challenge(slug="good")
    bad = make_challenge(slug="bad", starter_code="PASS\n")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:challenges_challenge_changelist"),
            {"action": "grade_reference_and_starter", "_selected_action": [good.pk, bad.pk]},
        )
    assert response.status_code == 302
    checks = {check.challenge.slug: check for check in ChallengeCheck.objects.all()}
    assert set(checks) == {"good", "bad"} and {c.status for c in checks.values()} == {"queued"}
    for check in checks.values():
        assert f"id={check.pk}" in response["Location"]
        queued_task(check)


def test_a_worker_grades_the_check_and_the_pages_show_each_verdict(
    client, author, reported_kinds, django_capture_on_commit_callbacks
):
    good = make_challenge(slug="good")
    bad = make_challenge(slug="bad", starter_code="PASS\n")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:challenges_challenge_changelist"),
            {"action": "grade_reference_and_starter", "_selected_action": [good.pk, bad.pk]},
        )
    checks = list(ChallengeCheck.objects.order_by("pk"))
    # What a worker does with each message (the task, run here eagerly with the test grader).
    for check in checks:
        assert tasks.run_challenge_check.apply((check.pk,)).get() == "done"
        assert tasks.run_challenge_check.apply((check.pk,)).get() == "already taken"  # a duplicate does nothing

    by_slug = {check.challenge.slug: check for check in ChallengeCheck.objects.all()}
    assert by_slug["good"].status == "done"
    assert by_slug["good"].reference_verdict["passed"] and not by_slug["good"].starter_verdict["passed"]
    assert by_slug["bad"].starter_verdict["passed"]
    assert not Submission.objects.exists() and not ReviewLog.objects.exists()

    url = reverse("admin:challenges_challenge_checks") + f"?id={checks[0].pk}&id={checks[1].pk}"
    page = client.get(url).content.decode()
    assert '<meta http-equiv="refresh"' not in page
    assert page.count('data-state="done"') == 2
    assert "as expected" in page and "NOT as expected" in page
    assert "passed (quality 5)" in page and "failed (quality 1)" in page
    assert "All good." in page and "Line 1 blocks the loop." in page  # each verdict's feedback

    change = client.get(reverse("admin:challenges_challenge_change", args=[good.pk])).content.decode()
    assert "Latest grading check (done" in change and "passed (quality 5)" in change


def test_a_piece_that_cannot_be_graded_says_why(author):
    challenge = make_challenge(starter_code="   \n", reference_solution="INFRA\n")
    check = ChallengeCheck.objects.create(
        challenge=challenge, grader_kind=challenge.grader_kind, reference_code="INFRA\n", starter_code=" \n"
    )
    assert tasks.run_challenge_check.apply((check.pk,)).get() == "done"
    check.refresh_from_db()
    assert check.reference_verdict is None and "The grader could not run" in check.reference_error
    assert check.starter_error == "No code to grade."


def test_a_queued_check_without_a_live_worker_says_so(client, author, monkeypatch):
    from studyapp import worker_heartbeat

    monkeypatch.setattr(worker_heartbeat, "recent_workers", lambda max_age: [])
    check = ChallengeCheck.objects.create(challenge=make_challenge(), grader_kind="k")
    page = client.get(reverse("admin:challenges_challenge_checks") + f"?id={check.pk}").content.decode()
    assert "No worker has reported in the last" in page
    assert "sandbox" in page


def test_a_check_left_running_by_a_dead_worker_is_shown_stale_then_ended(client, author, monkeypatch):
    challenge = make_challenge()
    long_ago = timezone.now() - timedelta(seconds=tasks.CHECK_STALE_SECONDS + 5)
    dead = ChallengeCheck.objects.create(
        challenge=challenge, grader_kind="k", status="running", started_at=long_ago, worker="gone@host"
    )
    live = ChallengeCheck.objects.create(
        challenge=challenge, grader_kind="k", status="running", started_at=timezone.now(), worker="w@host"
    )
    never = ChallengeCheck.objects.create(challenge=challenge, grader_kind="k")
    ChallengeCheck.objects.filter(pk=never.pk).update(
        created_at=timezone.now() - timedelta(seconds=tasks.CHECK_QUEUED_STALE_SECONDS + 5)
    )
    url = reverse("admin:challenges_challenge_checks") + f"?id={dead.pk}"
    assert 'data-state="stale"' in client.get(url).content.decode()

    assert tasks.expire_stale_challenge_checks() == {"running": 1, "queued": 1}
    for check in (dead, live, never):
        check.refresh_from_db()
    assert dead.status == "error" and "worker stopped before finishing" in dead.error_message
    assert never.status == "error" and "No worker picked this check up" in never.error_message
    assert live.status == "running"
    page = client.get(url).content.decode()
    assert 'data-state="error"' in page and "worker stopped before finishing" in page
    # A late message for an ended check grades nothing.
    assert tasks.run_challenge_check.apply((dead.pk,)).get() == "already taken"


def test_grade_check_is_post_only(client, author):
    challenge = make_challenge()
    assert client.get(reverse("admin:challenges_challenge_grade_check", args=[challenge.pk])).status_code == 405
    assert not ChallengeCheck.objects.exists()


def test_grader_kind_must_be_one_a_worker_reported(client, author, reported_kinds):
    challenge = make_challenge()
    data = {
        "title": challenge.title,
        "slug": challenge.slug,
        "is_active": "on",
        "position": 0,
        "prompt": "P",
        "starter_code": "FAIL",
        "reference_solution": "PASS",
        "grader_kind": "no-such-kind",
        "grader_params": "{}",
    }
    response = client.post(reverse("admin:challenges_challenge_change", args=[challenge.pk]), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Challenge.objects.get(pk=challenge.pk).grader_kind != "no-such-kind"
    page = client.get(reverse("admin:challenges_challenge_add")).content.decode()
    assert 'value="async-blocking-call"' in page and f'value="{challenges_graders.KIND}"' in page


def test_without_reported_kinds_the_form_says_to_start_a_worker(client, author):
    assert cache.get(tasks.GRADER_KINDS_KEY) is None  # Redis is flushed before each test (conftest.py)
    page = client.get(reverse("admin:challenges_challenge_add")).content.decode()
    assert "No worker has reported its grader kinds yet" in page


def test_submissions_are_read_only_history(client, author):
    submission = make_submission(user=make_user(), challenge=make_challenge(), code="PASS\n# <b>mine</b>\n")
    change_url = reverse("admin:challenges_submission_change", args=[submission.pk])
    page = client.get(change_url).content.decode()
    assert "&lt;b&gt;mine&lt;/b&gt;" in page
    assert 'name="_save"' not in page
    assert client.get(reverse("admin:challenges_submission_add")).status_code == 403
    delete_url = reverse("admin:challenges_submission_delete", args=[submission.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Submission.objects.filter(pk=submission.pk).exists()


def test_challenge_written_in_the_admin_gets_a_practice_card(client, author, reported_kinds):
    data = {
        "title": "Await as the pause point",
        "slug": "await-pause",
        "is_active": "on",
        "position": 7,
        "prompt": "P",
        "starter_code": "FAIL",
        "reference_solution": "PASS",
        "grader_kind": challenges_graders.KIND,
        "grader_params": "{}",
    }
    response = client.post(reverse("admin:challenges_challenge_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    card = Challenge.objects.get(slug="await-pause").practice_card
    assert (card.deck.slug, card.key) == ("challenges", "await-pause")
    assert "/challenges/await-pause/" in card.question
