"""An Anki import started from the admin: the uploaded package, where it goes, and how it went.

The admin saves the upload in ANKI_UPLOAD_DIR (private: never served) and queues
`cards.anki.tasks.import_anki_package` on the worker's default queue; the task runs the same
`import_package` as `manage.py import_apkg`, keeps this row's status, and deletes the upload when
it is done, whatever happened. While it runs, its progress is in the cache (the import writes in one
transaction, which no other process sees until it commits): see cards/anki/tasks.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cards.models import Deck


class AnkiImport(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    file_name = models.CharField(max_length=255, help_text="The package's name as uploaded.")
    file_size = models.PositiveBigIntegerField(default=0)
    upload = models.CharField(
        max_length=100, blank=True, help_text="The upload's name in ANKI_UPLOAD_DIR until the import is over."
    )
    deck_slug = models.SlugField(
        max_length=80, blank=True, help_text="The deck to import into (created if missing); empty: the Anki deck's."
    )
    deck = models.ForeignKey(Deck, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Whose schedule and review history the package's scheduling becomes.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    step = models.CharField(max_length=40, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    summary = models.TextField(blank=True)
    schedule_summary = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "Anki import"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display().lower()})"

    @property
    def pending(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
