"""The Celery task behind the reminder schedule (a django-celery-beat PeriodicTask, every 15 minutes).

It may run twice at once (two beat processes by mistake; a message redelivered
by the broker while the first run is still going) or again after a crash: the
claims in cards/reminders/sending.py make each reminder go out once whatever happens,
so the task itself needs no lock. The hard time limit ends a run before its
claims could be taken over by another (the claim timeout is longer).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from cards.reminders import sending

TASK_NAME = "cards.reminder_tasks.send_due_reminders"
_CLAIM_TIMEOUT = settings.REMINDERS_CLAIM_TIMEOUT_SECONDS


@shared_task(name=TASK_NAME, ignore_result=True, time_limit=max(_CLAIM_TIMEOUT - 30, 30))
def send_due_reminders() -> dict:
    """Send the reminders due now; returns the run's summary (it is also logged by the worker)."""
    return sending.send_due_reminders().as_dict()
