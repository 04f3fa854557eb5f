"""Celery wiring, as Celery documents it for Django."""

import os

from celery import Celery

from studyapp import logs, worker_heartbeat  # noqa: F401 (connect log-context and worker-heartbeat signals)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyapp.settings")

app = Celery("studyapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
