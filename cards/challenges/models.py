"""Live code challenges, the learners' submissions, and the authors' checks of a challenge."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from cards.models import Card
from cards.review.models import QUALITY_VALIDATORS


class Challenge(models.Model):
    """A live code challenge, graded in the sandbox by the grader named in `grader_kind`."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    prompt = models.TextField(help_text="Markdown.")
    starter_code = models.TextField(blank=True)
    reference_solution = models.TextField(help_text="Must pass: authors check it with 'Grade reference'.")
    grader_kind = models.CharField(max_length=50)
    grader_params = models.JSONField(default=dict, blank=True)
    concepts = models.ManyToManyField(Card, blank=True, related_name="challenges")
    practice_card = models.OneToOneField(
        Card,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="practice_for",
        help_text="The card that schedules this challenge in the daily review.",
    )
    position = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "cards_challenge"  # its table from before the app split
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class Submission(models.Model):
    """A learner's attempt, kept forever as their history."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        GRADED = "graded", "Graded"
        ERROR = "error", "Error"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    challenge = models.ForeignKey(Challenge, on_delete=models.PROTECT, related_name="submissions")
    number = models.PositiveIntegerField(help_text="The learner's attempt number at this challenge: 1, 2, 3...")
    code = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    verdict = models.JSONField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    quality = models.PositiveSmallIntegerField(null=True, blank=True, validators=QUALITY_VALIDATORS)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started grading it.")
    after_reveal = models.BooleanField(
        default=False, help_text="Sent after the learner asked to see the answer: it scores at most 3."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cards_submission"  # its table from before the app split
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "challenge", "number"], name="one_attempt_number_per_learner")
        ]
        indexes = [
            models.Index(fields=["user", "challenge", "-created_at"], name="submission_history"),
            models.Index(fields=["status", "queued_at"], name="submission_sweep"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} at {self.challenge_id} by {self.user} ({self.status})"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.number is None:
            # Counted per learner and challenge. `submit` holds the learner's row locked while it saves,
            # so two attempts cannot take the same number (the unique constraint would refuse it anyway).
            last = Submission.objects.filter(user_id=self.user_id, challenge_id=self.challenge_id).aggregate(
                last=models.Max("number")
            )["last"]
            self.number = (last or 0) + 1
        super().save(*args, **kwargs)


class AnswerReveal(models.Model):
    """A learner gave up on a challenge and asked to see its answer ("Show me").

    From then on the answer key is shown to them, and their later attempts score at most
    REVEALED_MAX_QUALITY: a pass after seeing the answer is not a pass from memory.
    """

    REVEALED_MAX_QUALITY = 3

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_reveals")
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="reveals")
    revealed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-revealed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "challenge"], name="one_reveal_per_learner")]

    def __str__(self) -> str:
        return f"{self.user} saw the answer to {self.challenge_id}"


class ChallengeCheck(models.Model):
    """An author's check of a challenge: its reference must pass and its starter must fail.

    Graded on a worker (queue "sandbox"), never in the web process, from a snapshot of
    the code and grader taken when the author asked. Not a learner's Submission: it
    feeds no practice card, attempt count or statistic.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        ERROR = "error", "Error"

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="checks")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="challenge_checks"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    grader_kind = models.CharField(max_length=64)
    grader_params = models.JSONField(default=dict, blank=True)
    reference_code = models.TextField(blank=True)
    starter_code = models.TextField(blank=True)
    reference_verdict = models.JSONField(null=True, blank=True)
    starter_verdict = models.JSONField(null=True, blank=True)
    reference_error = models.TextField(blank=True, help_text="Why the reference was not graded, if it was not.")
    starter_error = models.TextField(blank=True, help_text="Why the starter was not graded, if it was not.")
    error_message = models.TextField(blank=True, help_text="Why the check as a whole did not finish.")
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True, help_text="The Celery worker that graded it.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cards_challengecheck"  # its table from before the app split
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="challenge_check_sweep")]

    def __str__(self) -> str:
        return f"check {self.pk} of {self.challenge_id} ({self.status})"
