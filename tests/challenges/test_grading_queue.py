"""One client cannot flood the grading queue (issue 10, item 2), against the real Redis and database.

- sign-up is limited per client address (SIGNUPS_PER_CLIENT, 5 an hour);
- a learner has at most CHALLENGE_IN_FLIGHT_PER_USER (3) gradings queued or running at once;
- with CHALLENGE_QUEUE_MAX (200) gradings queued in all, new submissions get 429 and Retry-After;
- a fast learner, and a classroom behind one address, are not held back in normal use.

The in-flight and queue counts are Submission rows, not Redis counters: the tests make
rows directly and expect the limits to see them. A refused submission saves no row and
queues nothing (no on-commit callback, so nothing would reach the broker).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cards.challenges import tasks
from cards.challenges.models import Submission
from cards.challenges.submissions import QueueFull, TooManyInFlight, submit
from tests.factories import PASSWORD, make_challenge, make_submission, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
HTMX = {"HTTP_HX_REQUEST": "true"}
ROOT = Path(__file__).resolve().parents[2]
_addresses = itertools.count(1)


def fresh_address() -> str:
    """A client address no other call returned (the counters themselves start empty: conftest.py flushes Redis)."""
    n = next(_addresses)
    return f"10.0.{n // 250 % 250}.{n % 250 + 1}"


@pytest.fixture
def learner():
    return make_user()


@pytest.fixture
def challenges():
    return [make_challenge(slug=f"challenge-{n}") for n in range(10)]


def sign_up(address: str, username: str | None = None):
    username = username or f"new-{uuid.uuid4().hex[:10]}"
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD, "timezone": "UTC"}
    return Client().post(reverse("signup"), data, REMOTE_ADDR=address)


def fill_queue(count: int, status: str = Submission.Status.QUEUED) -> None:
    """`count` gradings from other learners, straight into the table."""
    challenge = make_challenge(slug=f"busy-{uuid.uuid4().hex[:8]}")
    others = [make_user(password=None) for _ in range(4)]
    now = timezone.now()
    Submission.objects.bulk_create(
        Submission(
            user=others[n % 4],
            challenge=challenge,
            number=n // 4 + 1,
            code=f"PASS\n# {n}\n",
            status=status,
            queued_at=now,
        )  # fmt: skip
        for n in range(count)
    )


# Sign-up


def test_sign_up_is_limited_per_client_address_with_a_clear_message():
    address = fresh_address()
    for _ in range(django_settings.SIGNUPS_PER_CLIENT):  # 5 an hour by default
        assert sign_up(address).status_code == 302
    users_before = get_user_model().objects.count()

    response = sign_up(address, username="one-too-many")

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "Too many accounts have been created from your network" in body and "Try again in about" in body
    assert 'value="one-too-many"' in body  # the form comes back as typed
    assert get_user_model().objects.count() == users_before
    assert not get_user_model().objects.filter(username="one-too-many").exists()
    # Another address is not held back.
    assert sign_up(fresh_address()).status_code == 302


def test_a_form_with_mistakes_does_not_use_up_a_sign_up(settings):
    settings.SIGNUPS_PER_CLIENT = 1
    address = fresh_address()
    mismatch = {"username": "typo", "password1": PASSWORD, "password2": PASSWORD + "x", "timezone": "UTC"}
    for _ in range(3):
        assert Client().post(reverse("signup"), mismatch, REMOTE_ADDR=address).status_code == 200
    assert sign_up(address).status_code == 302
    assert sign_up(address).status_code == 429


def test_the_sign_up_limit_is_per_address_behind_our_own_proxy(settings):
    settings.NUM_PROXIES = 1
    settings.SIGNUPS_PER_CLIENT = 1
    real = fresh_address()
    data = {"username": "first", "password1": PASSWORD, "password2": PASSWORD, "timezone": "UTC"}
    assert Client().post(reverse("signup"), data, HTTP_X_FORWARDED_FOR=f"203.0.113.1, {real}").status_code == 302
    data["username"] = "second"
    # A forged first entry changes nothing: the address is the one our proxy appended.
    assert Client().post(reverse("signup"), data, HTTP_X_FORWARDED_FOR=f"203.0.113.2, {real}").status_code == 429


# Gradings in flight per learner


def test_a_fourth_grading_in_flight_is_refused_and_nothing_is_saved_or_queued(
    learner, challenges, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        for challenge in challenges[:3]:
            assert submit(learner, challenge, "PASS\n").created
        with pytest.raises(TooManyInFlight, match="already have 3 submissions waiting for or being graded") as excinfo:
            submit(learner, challenges[3], "PASS\n")
    assert excinfo.value.http_status == 429
    assert Submission.objects.filter(user=learner).count() == 3
    assert len(callbacks) == 3


def test_the_in_flight_count_is_the_database_rows_queued_or_running(learner, challenges, settings):
    settings.CHALLENGE_IN_FLIGHT_PER_USER = 2
    make_submission(user=learner, challenge=challenges[0], code="PASS\n# a\n", status=Submission.Status.QUEUED)
    make_submission(user=learner, challenge=challenges[1], code="PASS\n# b\n", status=Submission.Status.RUNNING)
    for status in (Submission.Status.GRADED, Submission.Status.ERROR):
        make_submission(user=learner, challenge=challenges[2], code=f"PASS\n# {status}\n", status=status)
    with pytest.raises(TooManyInFlight, match="already have 2 submissions"):
        submit(learner, challenges[3], "PASS\n")

    # A verdict frees a place at once: no clock to wait on.
    Submission.objects.filter(user=learner, status=Submission.Status.RUNNING).update(status=Submission.Status.GRADED)
    assert submit(learner, challenges[3], "PASS\n").created


def test_a_double_click_on_a_pending_submission_is_not_refused(learner, challenges):
    for challenge in challenges[:3]:
        submit(learner, challenge, "PASS\n")
    again = submit(learner, challenges[0], "PASS\n")
    assert not again.created and again.submission.status == Submission.Status.QUEUED


def test_in_flight_refusal_keeps_the_code_on_the_page_with_and_without_javascript(client, learner, challenges):
    client.force_login(learner)
    for challenge in challenges[:3]:
        client.post(reverse("challenge_submit", args=[challenge.slug]), {"code": "PASS\n"}, **HTMX)
    url = reverse("challenge_submit", args=[challenges[3].slug])
    typed = "async def get_data(url):\n    return 'my fourth try'\n"

    # Without JavaScript: the challenge page again, the reason, and the code as typed.
    response = client.post(url, {"code": typed})
    assert response.status_code == 429
    html = response.content.decode()
    assert 'data-status="rejected"' in html and "already have 3 submissions" in html
    editor = html.split('<textarea id="code"')[1].split("</textarea>")[0]
    assert "return &#x27;my fourth try&#x27;" in editor

    # With htmx: only the status panel comes back (the form targets it), so the editor keeps the code.
    page = client.get(reverse("challenge_detail", args=[challenges[3].slug])).content.decode()
    assert 'hx-target="#submission-status"' in page
    response = client.post(url, {"code": typed}, **HTMX)
    assert response.status_code == 200 and response["X-Submission-Rejected"] == "429"
    html = response.content.decode()
    assert 'id="submission-status"' in html and "already have 3 submissions" in html
    assert "<textarea" not in html
    assert Submission.objects.filter(user=learner).count() == 3


def test_a_fast_learner_is_not_held_back(learner, challenges, django_capture_on_commit_callbacks):
    """Ten challenges in well under a minute, each graded before the next: none refused (today the 7th was)."""
    with django_capture_on_commit_callbacks() as callbacks:
        for challenge in challenges:
            submission = submit(learner, challenge, "PASS\n").submission
            tasks.grade_submission.apply(args=[submission.pk]).get()
            submission.refresh_from_db()
            assert submission.status == Submission.Status.GRADED and submission.passed
    assert len(callbacks) == 10
    # Three at once, as a learner who submits before the verdicts are in, are fine too.
    for challenge in challenges[:3]:
        assert submit(learner, challenge, "PASS\n# again\n").created


def test_a_classroom_behind_one_address_can_submit(client, challenges):
    """No limit per client address on submissions: every account behind the NAT gets its own three."""
    learners = [make_user(password=None) for _ in range(12)]
    for user in learners:
        client.force_login(user)
        for challenge in challenges[:3]:
            response = client.post(
                reverse("challenge_submit", args=[challenge.slug]), {"code": "PASS\n"}, REMOTE_ADDR="192.0.2.10"
            )
            assert response.status_code == 302, response.content.decode()[:300]
    assert Submission.objects.count() == 36


# Back-pressure on the queue


def test_a_full_queue_answers_429_with_retry_after_and_saves_nothing(
    learner, challenges, django_capture_on_commit_callbacks
):
    fill_queue(django_settings.CHALLENGE_QUEUE_MAX)  # 200 by default
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(QueueFull, match="graders are busy") as exc:
        submit(learner, challenges[0], "PASS\n")
    assert exc.value.http_status == 429 and exc.value.retry_after == django_settings.CHALLENGE_QUEUE_RETRY_AFTER
    assert callbacks == []
    assert not Submission.objects.filter(user=learner).exists()

    # One grading leaves the queue: there is room again.
    Submission.objects.filter(pk=Submission.objects.filter(status="queued").first().pk).update(status="running")
    assert submit(learner, challenges[0], "PASS\n").created


def test_only_queued_gradings_count_towards_the_queue(learner, challenges, settings):
    settings.CHALLENGE_QUEUE_MAX = 5
    fill_queue(4)
    fill_queue(20, status=Submission.Status.RUNNING)
    fill_queue(20, status=Submission.Status.GRADED)
    assert submit(learner, challenges[0], "PASS\n").created  # the fifth queued
    with pytest.raises(QueueFull):
        submit(learner, challenges[1], "PASS\n")


def test_a_full_queue_keeps_the_code_on_the_page_with_and_without_javascript(client, learner, challenges, settings):
    settings.CHALLENGE_QUEUE_MAX = 3
    settings.CHALLENGE_QUEUE_RETRY_AFTER = 45
    fill_queue(3)
    client.force_login(learner)
    url = reverse("challenge_submit", args=[challenges[0].slug])
    typed = "async def get_data(url):\n    return 'kept'\n"

    response = client.post(url, {"code": typed})
    assert response.status_code == 429 and response["Retry-After"] == "45"
    html = response.content.decode()
    assert "graders are busy" in html and "submit it again in 45 seconds" in html
    assert "return &#x27;kept&#x27;" in html.split('<textarea id="code"')[1].split("</textarea>")[0]

    response = client.post(url, {"code": typed}, **HTMX)
    assert response["X-Submission-Rejected"] == "429" and response["Retry-After"] == "45"
    assert "graders are busy" in response.content.decode() and "<textarea" not in response.content.decode()
    assert not Submission.objects.filter(user=learner).exists()


# Settings


def test_every_limit_is_a_setting_read_from_the_environment():
    names = {
        "SIGNUPS_PER_CLIENT": "7",
        "SIGNUP_WINDOW": "600",
        "CHALLENGE_IN_FLIGHT_PER_USER": "4",
        "CHALLENGE_QUEUE_MAX": "150",
        "CHALLENGE_QUEUE_RETRY_AFTER": "20",
        "CHALLENGE_SUBMISSIONS_PER_MINUTE": "40",
    }
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "studyapp.settings", **names}
    code = f"from django.conf import settings; print(*(getattr(settings, n) for n in {list(names)!r}))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == list(names.values())


@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_from_one_learner_do_not_overshoot_the_cap():
    """Eight requests at once from one learner: the check and the insert are one step, so three get in.

    On PostgreSQL the writers wait for each other and exactly three get in. The SQLite test
    database is shared-cache memory, whose table locks fail at once ("table is locked")
    instead of waiting as the app's file database does: a request that meets the lock is
    refused with an error, which is allowed there, and the cap must still never be passed.
    """
    user = make_user(password=None)
    targets = [make_challenge(slug=f"race-{n}") for n in range(8)]
    barrier = threading.Barrier(len(targets))
    outcomes: list[str] = []

    def attempt(challenge) -> None:
        try:
            barrier.wait()
            submit(user, challenge, "PASS\n")
            outcomes.append("created")
        except TooManyInFlight:
            outcomes.append("refused")
        except OperationalError as exc:
            outcomes.append("locked" if "locked" in str(exc) else f"error: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(challenge,)) for challenge in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = Submission.objects.filter(user=user).count()
    assert outcomes.count("created") == created
    if connection.vendor == "sqlite":
        assert set(outcomes) <= {"created", "refused", "locked"}, outcomes
        assert 1 <= created <= 3
    else:
        assert sorted(outcomes) == ["created"] * 3 + ["refused"] * 5
