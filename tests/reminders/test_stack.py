"""Two beat processes by mistake, two workers, a real SMTP server: each learner still gets one email.

The processes are the real ones (`celery beat` with django-celery-beat's DatabaseScheduler,
`celery worker`), sharing a SQLite file and a private Redis database through
tests/challenges_stack.py. The reminder PeriodicTask is switched to every 2 seconds
through the ORM, as an admin would in the admin, so both beats send the task many
times while the test watches; the workers mail through aiosmtpd on loopback.
"""

from __future__ import annotations

import email
import email.policy
import re
import subprocess

import pytest
from aiosmtpd.controller import Controller

from tests.challenges_stack import CELERY, Stack, free_port, migrated_template, wait_for
from tests.mail_helpers import Inbox

pytestmark = [pytest.mark.slow, pytest.mark.redis]

LEARNERS = 6
SETUP = f"""
import datetime as dt
from django.contrib.auth import get_user_model
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from cards.accounts.models import Profile
from cards.models import Card, Deck
from cards.review.models import ReviewState
deck = Deck.objects.create(slug="stack", title="Stack")
card = Card.objects.create(deck=deck, key="k", question="Why does requests block the loop?", answer="A.")
for i in range({LEARNERS}):
    user = get_user_model().objects.create_user(username=f"stack{{i}}", email=f"stack{{i}}@example.com")
    # Hour 0 in UTC: the chosen hour is reached whatever the time of day the test runs.
    Profile.objects.create(user=user, timezone="UTC", reminder_hour=0, reminders_enabled=True)
    ReviewState.objects.create(user=user, card=card, due_on=dt.date(2020, 1, 1))
every, _ = IntervalSchedule.objects.get_or_create(every=2, period="seconds")
task = PeriodicTask.objects.get(task="cards.reminder_tasks.send_due_reminders")
task.crontab, task.interval = None, every
task.save()
"""


class ReminderStack(Stack):
    def start_beat(self, name: str) -> subprocess.Popen:
        """`celery beat` on the database scheduler, without a pid file (two may run, by mistake)."""
        return self._start(
            [
                CELERY,
                "-A",
                "studyapp",
                "beat",
                "-S",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--pidfile=",
                "-l",
                "INFO",
            ],
            f"beat-{name}.log",
            "beat: Starting",
            f"beat {name}",
        )


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return migrated_template(tmp_path_factory.mktemp("reminders-db"))


def test_two_beats_and_two_workers_send_each_learner_one_email(tmp_path, template):
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    mail_env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "0",
        "EMAIL_USE_SSL": "0",
    }
    try:
        with ReminderStack(tmp_path, template, **mail_env) as stack:
            stack.shell(SETUP)
            workers = [stack.start_worker("w1", concurrency=2), stack.start_worker("w2", concurrency=2)]
            beats = [stack.start_beat("b1"), stack.start_beat("b2")]

            def runs_finished() -> int:
                logs = "".join(stack.log(worker) for worker in workers)
                return logs.count("send_due_reminders[") // 2  # "received" and "succeeded" lines

            wait_for(lambda: len(inbox.envelopes) >= LEARNERS, 120, "the reminders to arrive")
            started = runs_finished()
            wait_for(lambda: runs_finished() >= started + 6, 60, "more runs from both beats after the sending")

            def no_run_in_flight() -> bool:
                logs = "".join(stack.log(worker) for worker in workers)
                received = len(re.findall(r"send_due_reminders\[[^\]]+\] received", logs))
                return logs.count("send_due_reminders[") == 2 * received  # each received one logged its end

            wait_for(no_run_in_flight, 30, "the reminder runs under way to finish", interval=0.2)
            wait_for(
                lambda: all("Sending due task" in stack.log(beat) for beat in beats), 30, "both beats to log a run"
            )
            beat_logs = [stack.log(beat) for beat in beats]
            sent_rows = stack.query("SELECT status, COUNT(*) FROM cards_remindersend GROUP BY status")
    finally:
        smtp.stop()

    assert all("Sending due task Reminders: send due reminder emails" in log for log in beat_logs), "both beats"
    recipients = sorted(rcpt for envelope in inbox.envelopes for rcpt in envelope.rcpt_tos)
    assert recipients == sorted(f"stack{i}@example.com" for i in range(LEARNERS))  # each once
    assert sent_rows == [("sent", LEARNERS)]
    message = email.message_from_bytes(inbox.envelopes[0].original_content, policy=email.policy.default)
    assert message["Subject"] == "1 card due today"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
