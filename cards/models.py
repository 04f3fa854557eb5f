"""The study app's data: decks and cards, each learner's schedule and review log,
challenges and submissions, reminder preferences and sendings.

Decks, cards and challenges are shared content written by authors in the admin;
everything else belongs to one user and is only ever queried through that user.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

QUALITY_VALIDATORS = [MinValueValidator(0), MaxValueValidator(5)]


class Tag(models.Model):
    """A concept a card teaches (event-loop, gil, ...)."""

    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Deck(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class Card(models.Model):
    """A question and its answer, in Markdown. `key` is stable across seed reloads."""

    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="cards")
    key = models.SlugField(max_length=80, help_text="Stable identifier within the deck (used by imports).")
    question = models.TextField(help_text="Markdown; code blocks are highlighted.")
    answer = models.TextField(help_text="Markdown; code blocks are highlighted.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="cards")
    position = models.PositiveIntegerField(default=0, help_text="Order in which new cards are introduced.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["deck", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["deck", "key"], name="card_key_unique_in_deck")]
        indexes = [models.Index(fields=["position", "id"], name="card_intro_order")]

    def __str__(self) -> str:
        return f"{self.deck.slug}/{self.key}"


class Profile(models.Model):
    """Per-user preferences: time zone (the day boundary for reviews) and reminders."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    timezone = models.CharField(max_length=64, default="UTC")
    new_cards_per_day = models.PositiveSmallIntegerField(default=20, validators=[MaxValueValidator(500)])
    reminders_enabled = models.BooleanField(default=True)
    reminder_hour = models.PositiveSmallIntegerField(default=8, validators=[MaxValueValidator(23)])
    reminder_email = models.EmailField(blank=True, help_text="Defaults to the account's address.")

    def __str__(self) -> str:
        return f"profile of {self.user}"


class ReviewStateQuerySet(models.QuerySet):
    """Queries on learners' review states; every one starts from `for_user`."""

    def for_user(self, user: object) -> ReviewStateQuerySet:
        return self.filter(user=user)

    def due_for(self, today: date) -> ReviewStateQuerySet:
        """Scheduled reviews due on or before the learner's local `today`."""
        return self.filter(due_on__lte=today)

    def redrill_for(self, today: date) -> ReviewStateQuerySet:
        """Cards answered below 4 today that come back today (SM-2 step 7)."""
        # Equality on last_reviewed_on lets the (user, last_reviewed_on) index bound this to today's
        # answers. (A boolean filter is rendered as a bare column on SQLite, which no index can seek.)
        return self.filter(last_reviewed_on=today, redrill=True)

    def never_answered(self) -> ReviewStateQuerySet:
        """New cards shown but not answered yet (few: the (user, last_reviewed_on) index finds them)."""
        return self.filter(last_reviewed_on__isnull=True)

    def introduced_on(self, today: date) -> ReviewStateQuerySet:
        """States of new cards first shown on the learner's local `today` (they count against the daily limit)."""
        return self.filter(introduced_on=today)

    def next_due_after(self, today: date) -> date | None:
        """The first date after `today` on which something is due, or None."""
        return self.filter(due_on__gt=today).aggregate(first=models.Min("due_on"))["first"]


class ReviewState(models.Model):
    """One learner's SM-2 state for one card.

    `version` grows with every change, so an answer submitted against an old
    version (a double click, a retried request) is recognised and ignored.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_states")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_states")
    repetitions = models.PositiveIntegerField(default=0)
    easiness = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("2.50"))
    interval = models.PositiveIntegerField(default=0, help_text="Days.")
    due_on = models.DateField(help_text="Local date (user's time zone) the card is next due.")
    last_reviewed_on = models.DateField(null=True, blank=True)
    redrill = models.BooleanField(default=False, help_text="Scored below 4 today: comes back today.")
    version = models.PositiveIntegerField(default=0)
    last_answered_at = models.DateTimeField(null=True, blank=True, help_text="Orders the re-drill queue.")
    introduced_on = models.DateField(null=True, blank=True, help_text="Local date the card was first shown as new.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReviewStateQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "card"], name="one_state_per_user_card")]
        indexes = [
            models.Index(fields=["user", "due_on"], name="state_user_due"),
            models.Index(fields=["user", "last_reviewed_on"], name="state_user_reviewed_on"),
            models.Index(fields=["user", "introduced_on"], name="state_user_introduced_on"),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.card}"


class ReviewLogQuerySet(models.QuerySet):
    """Queries on the review log."""

    def answers_on(self, user: object, day: date) -> ReviewLogQuerySet:
        """The user's answers (not undos) on their local `day` that have not been undone."""
        return self.filter(user=user, reviewed_on=day, kind__in=["review", "redrill"], undone_by__isnull=True)

    def undoable(self, user: object, day: date) -> ReviewLogQuerySet:
        """The answers undo can take back, most recent first."""
        return self.answers_on(user, day).order_by("-answered_at", "-id")


class ReviewLog(models.Model):
    """Append-only: one row per answer, and one row per undo (pointing at what it undid)."""

    class Kind(models.TextChoices):
        REVIEW = "review", "Scheduled review"
        REDRILL = "redrill", "Same-day re-drill"
        UNDO = "undo", "Undo"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_logs")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_logs")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    quality = models.PositiveSmallIntegerField(null=True, blank=True, validators=QUALITY_VALIDATORS)
    request_id = models.UUIDField(default=uuid.uuid4, help_text="Idempotency key sent with the answer.")
    undoes = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="undone_by")
    before = models.JSONField(help_text="Review state before this entry.")
    after = models.JSONField(help_text="Review state after this entry.")
    reviewed_on = models.DateField(help_text="Learner's local date.")
    answered_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time from question shown to answer.")

    objects = ReviewLogQuerySet.as_manager()

    class Meta:
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "request_id"], name="review_log_idempotent"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__lte=5), name="review_log_quality_0_5"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-answered_at"], name="log_user_recent"),
            models.Index(fields=["user", "reviewed_on"], name="log_user_day"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.card_id} q={self.quality}"


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
    code = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    verdict = models.JSONField(null=True, blank=True)
    passed = models.BooleanField(null=True, blank=True)
    quality = models.PositiveSmallIntegerField(null=True, blank=True, validators=QUALITY_VALIDATORS)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started grading it.")
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "challenge", "-created_at"], name="submission_history"),
            models.Index(fields=["status", "queued_at"], name="submission_sweep"),
        ]

    def __str__(self) -> str:
        return f"submission {self.pk} by {self.user} ({self.status})"


class ReminderSend(models.Model):
    """One row per user per local day: the unique constraint is what makes a reminder go out once."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SENT = "sent", "Sent"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_sends")
    local_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CLAIMED)
    due_count = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField()
    claim_token = models.UUIDField(
        null=True, blank=True, help_text="The run holding the claim: a run sends only the rows carrying its token."
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "local_date"], name="one_reminder_per_local_day")]

    def __str__(self) -> str:
        return f"reminder {self.user} {self.local_date} {self.status}"


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
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="challenge_check_sweep")]

    def __str__(self) -> str:
        return f"check {self.pk} of {self.challenge_id} ({self.status})"
