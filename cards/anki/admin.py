"""Importing an Anki package from the admin: upload it, and a worker imports it while the page shows progress.

"Add Anki import" takes the package (.apkg), the deck (an existing one, a new slug, or by default the
Anki deck's name) and optionally a learner whose schedule and review history it brings. The web
never imports: it saves the upload in ANKI_UPLOAD_DIR (private, not under MEDIA_ROOT, shared with the
worker), saves an AnkiImport row and, once that is committed, queues `import_anki_package` on the
default queue. The job's page shows its state and progress, polling with htmx while it is queued or
running (a page reload every few seconds without JavaScript), then the report or the error.

Who may: staff with the "add Anki import" permission and the permissions to add and change cards
(an import writes cards). Jobs are never edited; one may be deleted (its upload with it) unless a worker is
importing it.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from cards.models import Deck
from studyapp import worker_heartbeat

from . import tasks
from .models import AnkiImport

logger = logging.getLogger(__name__)

Status = AnkiImport.Status
# Publishing: one quick retry, then say the broker is unreachable (never hang the request).
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
POLL_SECONDS = 2
CARD_PERMISSIONS = ("cards.add_card", "cards.change_card")


class AnkiImportForm(forms.ModelForm):
    package = forms.FileField(
        label="Anki package",
        help_text="An Anki deck package (.apkg): in Anki, File > Export, 'Anki Deck Package'.",
        widget=forms.ClearableFileInput(attrs={"accept": ".apkg"}),
    )
    existing_deck = forms.ModelChoiceField(
        Deck.objects.order_by("title"), required=False, label="Into the deck", help_text="An existing deck..."
    )
    new_deck = forms.SlugField(
        max_length=80, required=False, label="or a new deck", help_text="...or the slug of a new one (created)."
    )
    learner = forms.CharField(
        max_length=150,
        required=False,
        label="Learner (username)",
        help_text="Optional: the package's scheduling and review history become this learner's.",
    )

    class Meta:
        model = AnkiImport
        fields: tuple[str, ...] = ()

    def clean_package(self) -> Any:
        package = self.cleaned_data["package"]
        name = package.name.lower()
        if name.endswith(".colpkg"):
            raise forms.ValidationError(
                "This is a collection package (.colpkg: a whole Anki profile's backup), not a deck package; in Anki, "
                "export the deck as 'Anki Deck Package (*.apkg)' and upload that."
            )
        if not name.endswith(".apkg"):
            raise forms.ValidationError("Upload an Anki deck package, a file ending in .apkg.")
        limit = settings.ANKI_UPLOAD_MAX_MB * 1024 * 1024
        if package.size > limit:
            raise forms.ValidationError(f"The package is {package.size:,} bytes, over the limit of {limit:,}.")
        return package

    def clean_learner(self) -> Any:
        username = self.cleaned_data["learner"].strip()
        if not username:
            return None
        model = get_user_model()
        try:
            return model.objects.get(**{model.USERNAME_FIELD: username})
        except model.DoesNotExist:
            raise forms.ValidationError(f"No user named {username!r}.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("existing_deck") and data.get("new_deck"):
            raise forms.ValidationError("Choose an existing deck or name a new one, not both.")
        return data


def save_upload(package: Any) -> str:
    """Write the uploaded file into ANKI_UPLOAD_DIR under a new random name (readable by its owner only)."""
    folder = Path(settings.ANKI_UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.apkg"
    handle = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "wb") as file:
        for chunk in package.chunks():
            file.write(chunk)
    return name


def queue_import(job: AnkiImport) -> None:
    """Publish the job's task once the transaction that saved it commits; if Redis cannot be reached, fail it."""

    def publish() -> None:
        try:
            result = tasks.import_anki_package.apply_async(
                (job.pk,), queue=settings.CELERY_TASK_DEFAULT_QUEUE, retry=True, retry_policy=PUBLISH_RETRY_POLICY
            )
        except OperationalError as exc:
            logger.warning("broker unreachable: Anki import %s not queued: %s", job.pk, exc)
            AnkiImport.objects.filter(pk=job.pk, status=Status.QUEUED).update(
                status=Status.FAILED,
                error_message="The task queue (Redis) could not be reached, so no worker was asked to import this "
                "package. Nothing was imported; upload it again once Redis is up.",
                finished_at=timezone.now(),
            )
            tasks.delete_upload(job)
        else:
            AnkiImport.objects.filter(pk=job.pk).update(task_id=result.id or "")

    transaction.on_commit(publish)


def worker_notice() -> str:
    """Why a queued import may wait: no worker heartbeat lately, or Redis unreachable; "" if workers are alive."""
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE
    try:
        alive = worker_heartbeat.recent_workers(max_age)
    except Exception:  # redis.RedisError and friends: say so rather than fail the page
        return "Redis cannot be reached: no worker can be asked to import, and none can report back."
    if alive:
        return ""
    return (
        f"No worker has reported in the last {max_age} s: a queued import waits until a worker serving the "
        '"default" queue starts (celery -A studyapp worker -Q sandbox,default).'
    )


def job_state(job: AnkiImport) -> str:
    """queued, running, done, failed, or stale (still "running" long after the time limit: the worker died)."""
    if (
        job.status == Status.RUNNING
        and job.started_at
        and timezone.now() - job.started_at > timedelta(seconds=tasks.STALE_SECONDS)
    ):
        return "stale"
    return job.status


@admin.register(AnkiImport)
class AnkiImportAdmin(admin.ModelAdmin):
    list_display = ("file_name", "status", "deck_slug", "learner", "requested_by", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("file_name", "deck_slug")
    list_select_related = ("learner", "requested_by")
    date_hierarchy = "created_at"
    add_fieldsets = ((None, {"fields": ("package", "existing_deck", "new_deck", "learner")}),)

    def get_form(self, request: HttpRequest, obj: AnkiImport | None = None, change: bool = False, **kwargs: Any):
        if obj is None:
            return AnkiImportForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: AnkiImport | None = None):
        if obj is None:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    # Who may: importing writes cards, so the card permissions too.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and request.user.has_perms(CARD_PERMISSIONS)

    def has_view_permission(self, request: HttpRequest, obj: AnkiImport | None = None) -> bool:
        return super().has_view_permission(request, obj) or self.has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: AnkiImport | None = None) -> bool:
        return False  # a job is never edited; its page shows how it went

    def has_delete_permission(self, request: HttpRequest, obj: AnkiImport | None = None) -> bool:
        # Not while a worker imports it; a queued job (its task then finds nothing) or a stale one may go.
        return super().has_delete_permission(request, obj) and (obj is None or job_state(obj) != Status.RUNNING)

    def save_model(self, request: HttpRequest, obj: AnkiImport, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        package = data["package"]
        obj.file_name = os.path.basename(package.name)[:255]
        obj.file_size = package.size
        obj.deck_slug = data["existing_deck"].slug if data.get("existing_deck") else data.get("new_deck") or ""
        obj.learner = data.get("learner")
        obj.requested_by = request.user
        obj.upload = save_upload(package)
        super().save_model(request, obj, form, change)
        queue_import(obj)

    def response_add(self, request: HttpRequest, obj: AnkiImport, post_url_continue: str | None = None) -> HttpResponse:
        self.message_user(
            request,
            f"{obj.file_name} is uploaded and queued: a worker imports it, and this page follows its progress.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:anki_ankiimport_change", args=[obj.pk]))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The job's page: state and progress (the "status" partial, polled by htmx while pending), then the report."""
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        state = job_state(job)
        progress = tasks.read_progress(job)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Anki import: {job.file_name}",
            "subtitle": None,
            "opts": self.opts,
            "original": job,
            "job": job,
            "state": state,
            "pending": state in (Status.QUEUED, Status.RUNNING),
            "progress": progress,
            "percent": int(100 * progress["done"] / progress["total"]) if progress.get("total") else 0,
            "worker_notice": worker_notice() if state == Status.QUEUED else "",
            "stale_seconds": tasks.STALE_SECONDS,
            "poll_seconds": POLL_SECONDS,
            "has_delete_permission": self.has_delete_permission(request, job),
            "has_add_permission": self.has_add_permission(request),
            **(extra_context or {}),
        }
        template = "admin/anki/ankiimport/job.html"
        if request.htmx:
            template += "#status"
        return TemplateResponse(request, template, context)

    def delete_model(self, request: HttpRequest, obj: AnkiImport) -> None:
        tasks.delete_upload(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for job in queryset:
            tasks.delete_upload(job)
        super().delete_queryset(request, queryset)
