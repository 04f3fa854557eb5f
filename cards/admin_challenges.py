"""Admin for challenges (authoring, with a grading check) and submissions (read-only history).

The "Grade reference and starter" button and action grade both pieces of code
through `cards.submissions.grade_challenge`, the call the worker makes, in the
sandbox, synchronously: the author sees at once that the reference passes and
the starter fails. Nothing is saved by it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .challenge_loader import practice_card_for
from .grading import GRADERS, GradingError, InvalidSubmission, Verdict
from .markdown import render_markdown
from .models import Challenge, Submission
from .submissions import enqueue_on_commit, grade_challenge


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """One piece of a challenge's code graded for the author: what was expected and what happened."""

    label: str
    should_pass: bool
    verdict: Verdict | None
    error: str = ""

    @property
    def as_expected(self) -> bool:
        return self.verdict is not None and self.verdict.passed == self.should_pass


@dataclass(frozen=True, slots=True)
class ChallengeCheck:
    """The grading check of one challenge: its reference and its starter."""

    challenge: Challenge
    results: tuple[CodeCheck, ...]

    @property
    def ok(self) -> bool:
        return all(result.as_expected for result in self.results)


def _grade_for_author(challenge: Challenge, label: str, code: str, should_pass: bool) -> CodeCheck:
    if not code.strip():
        return CodeCheck(label, should_pass, None, "No code to grade.")
    try:
        return CodeCheck(label, should_pass, grade_challenge(challenge, code))
    except (GradingError, InvalidSubmission) as exc:
        return CodeCheck(label, should_pass, None, str(exc))


def check_challenge(challenge: Challenge) -> ChallengeCheck:
    """Grade the reference (must pass) and the starter (must fail) of one challenge."""
    return ChallengeCheck(
        challenge,
        (
            _grade_for_author(challenge, "Reference solution", challenge.reference_solution, should_pass=True),
            _grade_for_author(challenge, "Starter code", challenge.starter_code, should_pass=False),
        ),
    )


class ChallengeForm(forms.ModelForm):
    """Offers the grader kinds that exist, so an author cannot name one that does not."""

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
        from .grading import graders  # noqa: F401  (importing registers every grader kind)

        kinds = sorted(GRADERS)
        current = self.instance.grader_kind if self.instance.pk else ""
        if current and current not in kinds:
            kinds.append(current)  # keep showing a kind whose grader was removed, rather than hide it
        self.fields["grader_kind"] = forms.ChoiceField(
            choices=[(kind, kind) for kind in kinds], help_text="The grader that measures submissions."
        )


@admin.register(Challenge)
class ChallengeAdmin(admin.ModelAdmin):
    form = ChallengeForm
    change_form_template = "admin/cards/challenge/change_form.html"
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

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<int:pk>/grade-check/",
                self.admin_site.admin_view(self.grade_check_view),
                name="cards_challenge_grade_check",
            )
        ]
        return own + super().get_urls()

    def grade_check_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The change page's button: POST grades reference and starter and shows the results."""
        challenge = get_object_or_404(Challenge, pk=pk)
        if not self.has_change_permission(request, challenge):
            return HttpResponse(status=403)
        if request.method != "POST":
            return HttpResponse("Use the button on the challenge's page.", status=405)
        return self._render_checks(request, [check_challenge(challenge)])

    @admin.action(description="Grade reference and starter (in the sandbox)", permissions=["change"])
    def grade_reference_and_starter(self, request: HttpRequest, queryset: QuerySet[Challenge]) -> HttpResponse:
        return self._render_checks(request, [check_challenge(challenge) for challenge in queryset])

    def _render_checks(self, request: HttpRequest, checks: list[ChallengeCheck]) -> HttpResponse:
        for check in checks:
            if check.ok:
                self.message_user(request, f"{check.challenge.slug}: the reference passes and the starter fails.")
            else:
                self.message_user(
                    request,
                    f"{check.challenge.slug}: the reference must pass and the starter must fail; see below.",
                    level=messages.WARNING,
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Grading check",
            "opts": self.model._meta,
            "checks": checks,
        }
        return TemplateResponse(request, "admin/cards/challenge/grade_check.html", context)


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


def grade_check_url(challenge: Challenge) -> str:
    """Where the change page's "Grade reference and starter" button posts."""
    return reverse("admin:cards_challenge_grade_check", args=[challenge.pk])
