"""Admin for challenges (authoring, with a grading check) and submissions (read-only history).

The "Grade reference and starter" button and action never grade in the web process:
they save a `ChallengeCheck` (a snapshot of the code and grader) and queue
`cards.tasks.run_challenge_check` on the "sandbox" queue once the transaction commits.
A worker grades both pieces in the sandbox; the check's page shows each verdict when
it is ready (it reloads itself while the check is pending). A check is not a learner's
Submission: it feeds no practice card, attempt count or statistic.

This module must not import `cards.grading` or `cards.sandbox` (an import contract in
pyproject.toml checks it): the grader kinds offered come from what the workers report.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from kombu.exceptions import OperationalError

from studyapp import worker_heartbeat

from . import tasks
from .loader import practice_card_for
from studyapp.markdown import render_markdown
from .models import AnswerReveal, Challenge, ChallengeCheck, Submission
from .submissions import enqueue_on_commit

logger = logging.getLogger(__name__)

CheckStatus = ChallengeCheck.Status
PENDING = (CheckStatus.QUEUED, CheckStatus.RUNNING)
# Publishing a check: one quick retry, then say the broker is unreachable (never hang the request).
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


@dataclass(frozen=True, slots=True)
class PieceResult:
    """One piece of a check (the reference or the starter) as the author sees it."""

    label: str
    should_pass: bool
    verdict: dict[str, Any] | None
    error: str

    @property
    def graded(self) -> bool:
        return self.verdict is not None

    @property
    def passed(self) -> bool:
        return bool(self.verdict and self.verdict.get("passed"))

    @property
    def as_expected(self) -> bool:
        return self.graded and self.passed == self.should_pass


@dataclass(frozen=True, slots=True)
class CheckView:
    """A ChallengeCheck for the admin's pages: its state, and both pieces once the worker is done."""

    check: ChallengeCheck
    state: str  # queued, running, done, error, or stale (running past the stale limit, not yet swept)
    results: tuple[PieceResult, ...]

    @property
    def challenge(self) -> Challenge:
        return self.check.challenge

    @property
    def pending(self) -> bool:
        return self.state in PENDING

    @property
    def ok(self) -> bool:
        return self.state == CheckStatus.DONE and all(result.as_expected for result in self.results)


def check_view(check: ChallengeCheck, now: Any = None) -> CheckView:
    now = now or timezone.now()
    state = check.status
    if (
        state == CheckStatus.RUNNING
        and check.started_at
        and now - check.started_at > timedelta(seconds=tasks.CHECK_STALE_SECONDS)
    ):
        state = "stale"
    results: tuple[PieceResult, ...] = ()
    if check.status == CheckStatus.DONE:
        results = (
            PieceResult("Reference solution", True, check.reference_verdict, check.reference_error),
            PieceResult("Starter code", False, check.starter_verdict, check.starter_error),
        )
    return CheckView(check, state, results)


def queue_check(challenge: Challenge, requested_by: Any) -> ChallengeCheck:
    """Save a queued check of `challenge` and publish its task when the transaction commits.

    If the broker cannot be reached, the check ends at once as "error" saying so: the
    request never waits for a worker and never grades anything itself.
    """
    check = ChallengeCheck.objects.create(
        challenge=challenge,
        requested_by=requested_by,
        grader_kind=challenge.grader_kind,
        grader_params=challenge.grader_params or {},
        reference_code=challenge.reference_solution,
        starter_code=challenge.starter_code,
    )

    def publish() -> None:
        try:
            result = tasks.run_challenge_check.apply_async(
                (check.pk,), queue="sandbox", retry=True, retry_policy=PUBLISH_RETRY_POLICY
            )
        except OperationalError as exc:
            logger.warning("broker unreachable: author check %s not queued: %s", check.pk, exc)
            ChallengeCheck.objects.filter(pk=check.pk, status=CheckStatus.QUEUED).update(
                status=CheckStatus.ERROR,
                error_message=(
                    "The task queue (Redis) could not be reached, so no worker was asked to grade this check. "
                    "Nothing was graded; try again once Redis is up."
                ),
                finished_at=timezone.now(),
            )
        else:
            ChallengeCheck.objects.filter(pk=check.pk).update(task_id=result.id or "")

    transaction.on_commit(publish)
    return check


def worker_notice() -> str:
    """Why a queued check may wait: no worker heartbeat lately, or Redis unreachable; "" if workers are alive."""
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE
    try:
        alive = worker_heartbeat.recent_workers(max_age)
    except Exception:  # redis.RedisError and friends: say so rather than fail the page
        return "Redis cannot be reached: no worker can be asked to grade, and none can report back."
    if alive:
        return ""
    return (
        f"No worker has reported in the last {max_age} s: a queued check waits until a worker serving the "
        '"sandbox" queue starts (celery -A studyapp worker -Q sandbox,default).'
    )


def reported_grader_kinds() -> list[str]:
    """The grader kinds the workers registered (published by each worker when it starts)."""
    try:
        return list(cache.get(tasks.GRADER_KINDS_KEY) or ())
    except Exception:  # Redis down: offer only the current kind, and say why
        logger.warning("could not read the grader kinds from the cache", exc_info=True)
        return []


class ChallengeForm(forms.ModelForm):
    """Offers the grader kinds the workers can run, so an author cannot name one that does not exist."""

    class Meta:
        model = Challenge
        fields = (
            "title",
            "slug",
            "is_active",
            "position",
            "prompt",
            "starter_code",
            "reference_solution",
            "grader_kind",
            "grader_params",
            "concepts",
            "practice_card",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        kinds = sorted(reported_grader_kinds())
        help_text = "The grader that measures submissions (the kinds the workers reported)."
        if not kinds:
            help_text = "No worker has reported its grader kinds yet: start a worker to offer them."
        current = self.instance.grader_kind if self.instance.pk else ""
        if current and current not in kinds:
            kinds.append(current)  # keep showing a kind whose grader was removed, rather than hide it
        self.fields["grader_kind"] = forms.ChoiceField(choices=[(kind, kind) for kind in kinds], help_text=help_text)


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    form = ChallengeForm
    change_form_template = "admin/challenges/challenge/change_form.html"
    list_display = ("title", "slug", "grader_kind", "is_active", "position", "submission_count")
    list_filter = ("is_active", "grader_kind")
    search_fields = ("slug", "title")
    prepopulated_fields = {"slug": ("title",)}
    filter_horizontal = ("concepts",)
    raw_id_fields = ("practice_card",)
    readonly_fields = ("prompt_preview", "created_at", "updated_at")
    actions = ("grade_reference_and_starter",)

    class Media:
        css = {"all": ["css/pygments.css", "css/admin_preview.css", "css/admin_challenges.css"]}

    fieldsets = (
        (None, {"fields": ("title", "slug", "is_active", "position")}),
        ("Prompt", {"fields": ("prompt", "prompt_preview")}),
        ("Code", {"fields": ("starter_code", "reference_solution")}),
        ("Grading", {"fields": ("grader_kind", "grader_params")}),
        ("Review", {"fields": ("concepts", "practice_card")}),
        ("Dates", {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    @admin.display(description="Prompt as learners see it (saved version)")
    def prompt_preview(self, obj: Challenge) -> SafeString | str:
        if not obj.pk:
            return "Save to see the preview."
        return format_html('<div class="markdown-preview">{}</div>', render_markdown(obj.prompt))

    @admin.display(description="Submissions")
    def submission_count(self, obj: Challenge) -> int:
        return obj.submissions.count()

    def save_model(self, request: HttpRequest, obj: Challenge, form: forms.ModelForm, change: bool) -> None:
        # Every challenge takes its place in the daily review: give one written here a practice card too.
        if obj.practice_card_id is None:
            obj.practice_card = practice_card_for(obj.slug, obj.title, obj.position)
        super().save_model(request, obj, form, change)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        latest = ChallengeCheck.objects.filter(challenge_id=object_id).select_related("challenge").first()
        extra_context = {**(extra_context or {}), "latest_check": check_view(latest) if latest else None}
        if latest is not None:
            extra_context["latest_check_url"] = checks_url([latest])
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:pk>/grade-check/",
                self.admin_site.admin_view(self.grade_check_view),
                name="challenges_challenge_grade_check",
            ),
            path("checks/", self.admin_site.admin_view(self.checks_view), name="challenges_challenge_checks"),
        ]
        return own + super().get_urls()

    def grade_check_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The change page's button: POST queues a check of reference and starter, then shows it."""
        challenge = get_object_or_404(Challenge, pk=pk)
        if not self.has_change_permission(request, challenge):
            return HttpResponse(status=403)
        if request.method != "POST":
            return HttpResponse("Use the button on the challenge's page.", status=405)
        return self._queue_checks(request, [challenge])

    @admin.action(description="Grade reference and starter (queued on a worker)", permissions=["change"])
    def grade_reference_and_starter(self, request: HttpRequest, queryset: QuerySet[Challenge]) -> HttpResponse:
        return self._queue_checks(request, list(queryset))

    def _queue_checks(self, request: HttpRequest, challenges: list[Challenge]) -> HttpResponse:
        with transaction.atomic():
            checks = [queue_check(challenge, request.user) for challenge in challenges]
        # The commit has run the publishing: a check that could not be queued is already "error".
        failed = ChallengeCheck.objects.filter(pk__in=[c.pk for c in checks], status=CheckStatus.ERROR).count()
        if failed:
            self.message_user(
                request,
                f"{failed} check(s) could not be queued: the task queue (Redis) is unreachable. Nothing was graded.",
                level=messages.ERROR,
            )
        if len(checks) > failed:
            self.message_user(
                request,
                f"{len(checks) - failed} check(s) queued: a worker grades the reference and the starter in the "
                "sandbox; this page shows the results when they are ready.",
            )
        return HttpResponseRedirect(checks_url(checks))

    def checks_view(self, request: HttpRequest) -> HttpResponse:
        """The results of the checks named by `?id=`: state, and each verdict once done; reloads while pending."""
        if not self.has_view_or_change_permission(request):
            return HttpResponse(status=403)
        ids = [int(value) for value in request.GET.getlist("id") if value.isdigit()]
        rows = ChallengeCheck.objects.filter(pk__in=ids).select_related("challenge", "requested_by")
        now = timezone.now()
        views = [check_view(check, now) for check in sorted(rows, key=lambda c: ids.index(c.pk))]
        pending = any(view.pending for view in views)
        context = {
            **self.admin_site.each_context(request),
            "title": "Grading check",
            "opts": self.model._meta,
            "checks": views,
            "pending": pending,
            "worker_notice": worker_notice() if any(v.state == CheckStatus.QUEUED for v in views) else "",
            "refresh_seconds": 2,
        }
        return TemplateResponse(request, "admin/challenges/challenge/grade_check.html", context)


def checks_url(checks: list[ChallengeCheck]) -> str:
    """The page that shows these checks."""
    return reverse("admin:challenges_challenge_checks") + "?" + urlencode([("id", check.pk) for check in checks])


class SubmissionStatusFilter(admin.SimpleListFilter):
    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("passed", "Passed"), ("failed", "Failed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Submission]) -> QuerySet[Submission]:
        if self.value() == "passed":
            return queryset.filter(passed=True)
        if self.value() == "failed":
            return queryset.filter(passed=False)
        return queryset


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    """Learners' history, kept forever: viewable, never added, edited or deleted here."""

    list_display = ("id", "user", "challenge", "status", "passed", "quality", "attempts", "created_at", "grading_time")
    list_filter = ("status", SubmissionStatusFilter, "challenge")
    search_fields = ("user__username", "challenge__slug")
    list_select_related = ("user", "challenge")
    date_hierarchy = "created_at"
    fields = (
        "user",
        "challenge",
        "status",
        "passed",
        "quality",
        "after_reveal",
        "attempts",
        "error_message",
        "created_at",
        "queued_at",
        "started_at",
        "finished_at",
        "code_block",
        "verdict_block",
    )
    readonly_fields = fields
    actions = ("queue_again",)

    class Media:
        css = {"all": ["css/admin_challenges.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Submission | None = None) -> bool:
        return False

    @admin.display(description="Grading time")
    def grading_time(self, obj: Submission) -> str:
        if obj.started_at and obj.finished_at:
            return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"
        return "-"

    @admin.display(description="Code")
    def code_block(self, obj: Submission) -> SafeString:
        return format_html('<pre class="admin-code">{}</pre>', obj.code)

    @admin.display(description="Verdict")
    def verdict_block(self, obj: Submission) -> SafeString | str:
        if obj.verdict is None:
            return "-"
        return format_html('<pre class="admin-code">{}</pre>', json.dumps(obj.verdict, indent=2))

    @admin.action(description="Queue again (only submissions that ended in error)", permissions=["view"])
    def queue_again(self, request: HttpRequest, queryset: QuerySet[Submission]) -> None:
        requeued = 0
        for submission in queryset.filter(status=Submission.Status.ERROR):
            # The same row graded again (history keeps one row per attempt the learner made).
            if Submission.objects.filter(pk=submission.pk, status=Submission.Status.ERROR).update(
                status=Submission.Status.QUEUED,
                error_message="",
                finished_at=None,
                queued_at=timezone.now(),
            ):
                enqueue_on_commit(submission.pk)
                requeued += 1
        self.message_user(request, f"{requeued} submission(s) queued again.")


@admin.register(AnswerReveal)
class AnswerRevealAdmin(admin.ModelAdmin):
    """Who gave up on which challenge and saw its answer ("Show me"): a record, not edited here."""

    list_display = ("user", "challenge", "revealed_at")
    list_filter = ("challenge",)
    search_fields = ("user__username", "challenge__slug")
    list_select_related = ("user", "challenge")
    readonly_fields = ("user", "challenge", "revealed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AnswerReveal | None = None) -> bool:
        return False


def grade_check_url(challenge: Challenge) -> str:
    """Where the change page's "Grade reference and starter" button posts."""
    return reverse("admin:challenges_challenge_grade_check", args=[challenge.pk])
