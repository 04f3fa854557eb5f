"""Faults survived, with real processes: Redis stopped while a learner reviews and submits; two beat
processes running at once.

(The worker killed mid-grading and duplicate deliveries are tests/challenges/test_worker.py; concurrent
reminder runs in threads are tests/reminders/test_concurrency.py; a crashing grader is
tests/challenges/test_task.py; the database lost mid-answer is tests/studyapp/test_db_outage.py.)
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.challenges_stack import CELERY, Stack, migrated_template, wait_for
from tests.production_helpers import PrivateRedis

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SETUP = """
import datetime as dt
from django.test import Client
from cards.models import Card, Deck
from cards.review.models import ReviewState
from tests.factories import make_challenge, make_user
user = make_user(username="faulty-learner")  # with its Profile
deck = Deck.objects.create(slug="fault-deck", title="Fault deck")
today = dt.datetime.now(dt.UTC).date()
week = dt.timedelta(days=7)
for i in range(3):
    card = Card.objects.create(deck=deck, key=f"f{i}", question=f"Q{i}?", answer="A.", position=i)
    ReviewState.objects.create(user=user, card=card, repetitions=2, interval=6, due_on=today,
                               last_reviewed_on=today - week, introduced_on=today - week)
challenge = make_challenge(slug="fault-challenge")
client = Client()
client.force_login(user)
print("SESSION", client.cookies["sessionid"].value)
"""
SWEEP_EVERY_SECOND = """
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
PeriodicTask.objects.filter(task="cards.tasks.sweep_stuck_submissions").update(interval=every_second)
PeriodicTask.objects.exclude(task="cards.tasks.sweep_stuck_submissions").update(enabled=False)
PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
"""
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
FIELD = re.compile(r'<input type="hidden" name="(state|version|request_id)" value="([^"]*)"')


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return migrated_template(tmp_path_factory.mktemp("faults-db"))


def _answer_next_card(client: httpx.Client) -> int:
    page = client.get("/review/")
    assert page.status_code == 200, page.text[:500]
    fields = dict(FIELD.findall(page.text))
    data = {**fields, "quality": "4", "csrfmiddlewaretoken": TOKEN.search(page.text).group(1)}
    return client.post("/review/answer/", data=data).status_code


def test_redis_stopped_reviews_go_on_submissions_wait_and_are_graded_once_it_is_back(
    tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis_server = PrivateRedis(tmp_path / "redis")
    redis_server.start()
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    try:
        with Stack(tmp_path, template, CHALLENGE_QUEUED_STALE_SECONDS="1") as stack:
            session = re.search(r"SESSION (\w+)", stack.shell(SETUP)).group(1)
            base = stack.start_web()
            with httpx.Client(base_url=base, cookies={"sessionid": session}, timeout=60) as client:
                assert client.get("/review/").status_code == 200

                redis_server.stop()
                started = time.monotonic()
                statuses = [_answer_next_card(client) for _ in range(3)]
                assert statuses == [302, 302, 302]
                detail = client.get("/challenges/fault-challenge/")
                assert detail.status_code == 200
                token = TOKEN.search(detail.text).group(1)
                submitted = client.post(
                    "/challenges/fault-challenge/submit/", data={"code": "PASS\n", "csrfmiddlewaretoken": token}
                )
                elapsed = time.monotonic() - started
                assert submitted.status_code == 302, submitted.text[:2000]
                location = submitted.headers["location"]
                assert location.startswith("/submissions/")
                pk = int(location.strip("/").split("/")[-1])
                assert client.get(location).status_code == 200

            rows = stack.query("SELECT source, quality FROM cards_reviewlog")
            assert rows == [("review", 4)] * 3
            assert stack.submission(pk)["status"] == "queued"
            # Redis being down costs time (connection attempts), not the answers: bounded, not hung.
            assert elapsed < 60

            redis_server.start()  # empty: the grading message was never queued
            stack.start_worker("after-outage")
            # Beat's sweep (every minute in production; every second here) queues it again.
            stack.shell(SWEEP_EVERY_SECOND)
            stack._spawn([CELERY, "-A", "studyapp", "beat", "--pidfile=", "-l", "INFO"], "beat.log")
            wait_for(lambda: stack.submission(pk)["status"] == "graded", 90, "the submission to be graded")
            graded = stack.submission(pk)
            assert graded["passed"] == 1 and graded["attempts"] == 1
    finally:
        redis_server.stop()


TWO_BEATS_SETUP = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks
from django.utils import timezone
from tests.factories import make_learners
# Learners whose reminder hour (midnight, UTC) has passed today, with cards due.
learners = make_learners(6, timezone="UTC", reminder_hour=0, due=2)
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
PeriodicTask.objects.filter(task="cards.reminder_tasks.send_due_reminders").update(
    interval=every_second, crontab=None, expire_seconds=None)
PeriodicTask.objects.exclude(task="cards.reminder_tasks.send_due_reminders").update(enabled=False)
PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
print("EMAILS", " ".join(user.email for user in learners))
"""


def test_two_beats_at_once_send_each_reminder_once(tmp_path: Path, template: Path) -> None:
    """Two beat processes by mistake, both queueing the reminder run every second, one worker running them."""
    mail_dir = tmp_path / "mail"
    env = {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(mail_dir)}
    with Stack(tmp_path, template, **env) as stack:
        emails = re.search(r"EMAILS (.+)", stack.shell(TWO_BEATS_SETUP)).group(1).split()
        worker = stack.start_worker("reminders", concurrency=2)
        beats = [stack._spawn([CELERY, "-A", "studyapp", "beat", "--pidfile=", "-l", "INFO"], f"beat{n}.log")
                 for n in (1, 2)]  # fmt: skip

        def runs() -> int:
            return stack.log(worker).count("send_due_reminders[") // 2  # "received" + "succeeded" per run

        wait_for(lambda: runs() >= 6, 90, "six reminder runs from the two beats")
        for beat in beats:
            stack.stop(beat)
        for n in (1, 2):
            assert "Sending due task" in (tmp_path / f"beat{n}.log").read_text()  # both beats really sent
        wait_for(lambda: stack.log(worker).count("send_due_reminders[") % 2 == 0, 30, "the last run to finish")

    sent = stack.query("SELECT status, COUNT(*) FROM cards_remindersend GROUP BY status")
    assert sent == [("sent", len(emails))]
    mails = "".join(path.read_text() for path in mail_dir.glob("*.log"))
    for email in emails:
        assert mails.count(f"To: {email}") == 1, email
