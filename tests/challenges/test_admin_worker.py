"""The admin's "Grade reference and starter" through real processes: the web queues, a Celery worker grades.

Everything is real (tests/challenges_stack.py): `manage.py runserver` as the web
process, a Celery worker on the sandbox queue with the tests' marker grader, Redis as
broker and cache, a shared SQLite file. The author logs in and presses the button
over HTTP. The web process cannot grade this challenge at all: the marker grader is
loaded only into the worker (`-I tests.challenges_graders`), so a verdict on the page
is the worker's, and the row names the worker that wrote it.
"""

import re
import time

import pytest
import requests

from tests.challenges_stack import Stack, free_port, migrated_template, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SETUP = """
from django.contrib.auth import get_user_model
from tests.factories import make_challenge
get_user_model().objects.create_superuser("author", "", "a-long-test-password")
good = make_challenge(slug="good", reference_solution={reference!r})
bad = make_challenge(slug="bad", starter_code="PASS\\n")
print("CHALLENGES", good.pk, bad.pk)
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return migrated_template(tmp_path_factory.mktemp("admin-check-db"))


def setup(stack: Stack, reference: str = "PASS\n") -> tuple[int, int]:
    out = stack.shell(SETUP.format(reference=reference))
    good, bad = re.search(r"CHALLENGES (\d+) (\d+)", out).groups()
    return int(good), int(bad)


def log_in(base: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/admin/login/", timeout=30)
    response = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={
            "username": "author",
            "password": "a-long-test-password",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=30,
    )
    assert response.url.endswith("/admin/"), response.text[:500]
    return session


def press_button(session: requests.Session, base: str, pk: int) -> requests.Response:
    started = time.monotonic()
    response = session.post(
        f"{base}/admin/challenges/challenge/{pk}/grade-check/",
        data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": f"{base}/admin/challenges/challenge/{pk}/change/"},
        timeout=30,
    )
    assert time.monotonic() - started < 10  # the request queues; it never waits for a grading
    assert response.status_code == 200 and "/admin/challenges/challenge/checks/?id=" in response.url
    return response


def check_row(stack: Stack, pk: int) -> dict:
    columns = ("status", "worker", "reference_verdict", "starter_verdict", "error_message", "challenge_id")
    row = stack.query(f"SELECT {', '.join(columns)} FROM cards_challengecheck WHERE id = ?", pk)[0]  # noqa: S608
    return dict(zip(columns, row, strict=True))


def test_the_button_queues_and_a_worker_grades_both_pieces(tmp_path, template):
    with Stack(tmp_path, template) as stack:
        stack.start_worker("w1")
        base = stack.start_web()
        good, _bad = setup(stack)
        session = log_in(base)
        # The form offers the kinds the worker reported when it started.
        change = session.get(f"{base}/admin/challenges/challenge/{good}/change/", timeout=30).text
        assert 'value="test-markers"' in change

        response = press_button(session, base, good)
        assert "check(s) queued" in response.text
        check = int(re.search(r"\?id=(\d+)", response.url).group(1))
        page_url = response.url

        def done() -> str:
            page = session.get(page_url, timeout=30).text
            return page if 'data-state="done"' in page else ""

        page = wait_for(done, 60, "the worker to grade the check", interval=0.5)
        assert "as expected" in page and "NOT as expected" not in page
        assert "passed (quality 5)" in page and "failed (quality 1)" in page
        assert "All good." in page and "Line 1 blocks the loop." in page

        row = check_row(stack, check)
        assert row["status"] == "done" and row["worker"].startswith("w1@")
        assert '"passed": true' in row["reference_verdict"] and '"passed": false' in row["starter_verdict"]
        # Not a learner's submission: no row, review state or log anywhere.
        assert stack.query("SELECT count(*) FROM cards_submission") == [(0,)]
        assert stack.query("SELECT count(*) FROM cards_reviewlog") == [(0,)]
        assert stack.query("SELECT count(*) FROM cards_reviewstate") == [(0,)]

        change = session.get(f"{base}/admin/challenges/challenge/{good}/change/", timeout=30).text
        assert "Latest grading check (done" in change and "passed (quality 5)" in change


def test_a_worker_killed_mid_check_leaves_no_check_running_forever(tmp_path, template):
    with Stack(tmp_path, template, AUTHOR_CHECK_STALE_SECONDS="2") as stack:
        worker = stack.start_worker("doomed")
        base = stack.start_web()
        good, _ = setup(stack, reference="SLEEP 30\nPASS\n")
        session = log_in(base)
        response = press_button(session, base, good)
        check = int(re.search(r"\?id=(\d+)", response.url).group(1))
        wait_for(lambda: check_row(stack, check)["status"] == "running", 60, "the worker to start the check")
        stack.kill(worker)  # SIGKILL: no cleanup
        # The page calls the check stale once it has run AUTHOR_CHECK_STALE_SECONDS (2 s); no beat runs
        # here, so the row is still "running" and only the page's judgement can make it say so.
        wait_for(
            lambda: 'data-state="stale"' in session.get(response.url, timeout=30).text,
            30,
            "the check's page to call it stale",
            interval=0.2,
        )
        assert check_row(stack, check)["status"] == "running"  # nothing swept it: the page alone said stale
        stack.shell(
            "from cards.challenges.tasks import expire_stale_challenge_checks; print(expire_stale_challenge_checks())"
        )
        row = check_row(stack, check)
        assert row["status"] == "error" and "worker stopped before finishing" in row["error_message"]
        page = session.get(response.url, timeout=30).text
        assert 'data-state="error"' in page and '<meta http-equiv="refresh"' not in page


def test_an_unreachable_broker_is_said_at_once(tmp_path, template):
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with Stack(tmp_path, template) as stack:
        stack.env["CELERY_BROKER_URL"] = closed
        base = stack.start_web()
        good, _ = setup(stack)
        session = log_in(base)
        response = press_button(session, base, good)
        assert "could not be queued: the task queue (Redis) is unreachable" in response.text
        check = int(re.search(r"\?id=(\d+)", response.url).group(1))
        row = check_row(stack, check)
        assert row["status"] == "error" and "could not be reached" in row["error_message"]
