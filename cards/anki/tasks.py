"""Celery: an Anki import started from the admin, on the worker's default queue.

`import_anki_package(job_id)` claims its AnkiImport row (queued -> running, once: a duplicate message
does nothing), runs `import_package` on the uploaded file exactly as `manage.py import_apkg` does, and
records the outcome on the row: the report's summary and warnings, or the error, "Nothing was
imported" (the import is one transaction). The upload is deleted at the end either way.

Progress: the import writes its cards in one transaction, and a row updated inside it would stay
invisible to the web until the commit, progress included. So progress goes to the cache (Redis,
shared by the web and the workers; `progress_key(job_id)`), written outside any transaction, and the
admin's page reads it while the job runs. Without Redis the import goes on; the page then shows the
step the row last recorded. The row gets the final figures when the import is over.

The message is acknowledged when a worker takes it (not late): an import that outlives Redis's
visibility timeout must not be delivered to a second worker. A worker killed mid-import rolls the
transaction back; its job stays "running" and the page calls it stale after STALE_SECONDS.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from cards.models import Deck

from .importer import ImportFailure, import_package
from .models import AnkiImport

logger = logging.getLogger(__name__)

SOFT_TIME_LIMIT = settings.ANKI_IMPORT_SOFT_SECONDS
HARD_TIME_LIMIT = SOFT_TIME_LIMIT + 60
STALE_SECONDS = HARD_TIME_LIMIT + 30  # a job still "running" after this: its worker died
PROGRESS_SECONDS = 0.25  # at most this often to the cache, but every change of step
UPLOAD_NAME = re.compile(r"[0-9a-f]{32}\.apkg")

Status = AnkiImport.Status


def progress_key(job_id: int) -> str:
    return f"anki:import:{job_id}:progress"


def read_progress(job: AnkiImport) -> dict:
    """The running job's progress, {"step", "done", "total"}: the cache's, else what the row last recorded."""
    recorded = {"step": job.step, "done": job.done, "total": job.total}
    if job.status != Status.RUNNING:
        return recorded
    try:
        return cache.get(progress_key(job.pk)) or recorded
    except Exception:  # Redis unreachable: the page still shows the row
        logger.warning("could not read the progress of Anki import %s", job.pk, exc_info=True)
        return recorded


def upload_path(name: str) -> Path:
    """The upload's file in ANKI_UPLOAD_DIR; a name the admin did not make (a path) is refused."""
    if not UPLOAD_NAME.fullmatch(name):
        raise ValueError(f"not an upload name: {name!r}")
    return Path(settings.ANKI_UPLOAD_DIR) / name


class _Progress:
    """The import's progress callback: to the cache, never more often than PROGRESS_SECONDS per step."""

    def __init__(self, job_id: int) -> None:
        self.key = progress_key(job_id)
        self.step = ""
        self.last = 0.0

    def __call__(self, step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if step == self.step and now - self.last < PROGRESS_SECONDS and done < total:
            return
        self.step, self.last = step, now
        try:
            cache.set(self.key, {"step": step, "done": done, "total": total}, timeout=HARD_TIME_LIMIT + 60)
        except Exception:  # Redis down: the import goes on without showing progress
            logger.warning("could not record the progress of %s", self.key, exc_info=True)


def delete_upload(job: AnkiImport) -> None:
    if not job.upload:
        return
    try:
        upload_path(job.upload).unlink(missing_ok=True)
    except (OSError, ValueError):
        logger.warning("Anki import %s: could not delete its upload %r", job.pk, job.upload, exc_info=True)
    AnkiImport.objects.filter(pk=job.pk).update(upload="")


@shared_task(
    name="cards.anki.tasks.import_anki_package",
    bind=True,
    acks_late=False,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
)
def import_anki_package(self, job_id: int) -> str:
    """Import the job's upload; returns "done", "failed" or "already taken" (a duplicate, or no such job)."""
    started = timezone.now()
    if not AnkiImport.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=started, worker=self.request.hostname or "", step="starting"
    ):
        return "already taken"
    job = AnkiImport.objects.select_related("learner").get(pk=job_id)
    owned = AnkiImport.objects.filter(pk=job_id, status=Status.RUNNING, started_at=started)
    outcome = Status.FAILED
    try:
        report = import_package(
            upload_path(job.upload),
            deck_slug=job.deck_slug or None,
            user=job.learner,
            progress=_Progress(job_id),
            # Unpacked next to the upload (the compose volume), not in /tmp (the worker's is a small tmpfs).
            scratch=Path(settings.ANKI_UPLOAD_DIR),
        )
    except ImportFailure as exc:
        message = str(exc).replace(job.upload, job.file_name) if job.upload else str(exc)  # the name the author knows
        owned.update(
            status=Status.FAILED, error_message=f"{message}. Nothing was imported.", finished_at=timezone.now()
        )
    except SoftTimeLimitExceeded:
        owned.update(
            status=Status.FAILED,
            error_message=f"The import took longer than {SOFT_TIME_LIMIT} s and was stopped. Nothing was imported.",
            finished_at=timezone.now(),
        )
    except Exception:
        logger.exception("Anki import %s crashed", job_id)
        owned.update(
            status=Status.FAILED,
            error_message="The import failed on an unexpected error (the traceback is in the worker's log). "
            "Nothing was imported.",
            finished_at=timezone.now(),
        )
    else:
        outcome = Status.DONE
        owned.update(
            status=Status.DONE,
            deck_id=Deck.objects.filter(slug=report.deck).values_list("pk", flat=True).first(),
            step="done",
            done=report.notes,
            total=report.notes,
            summary=report.summary(),
            schedule_summary=report.schedule_summary() if job.learner_id else "",
            warnings=report.warnings,
            finished_at=timezone.now(),
        )
    finally:
        delete_upload(job)
        try:
            cache.delete(progress_key(job_id))
        except Exception:
            logger.warning("could not clear the progress of Anki import %s", job_id, exc_info=True)
    logger.info("Anki import %s: %s", job_id, outcome)
    return str(outcome)
