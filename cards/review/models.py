"""Each learner's SM-2 schedule (one ReviewState per card they have met) and their review log.

Both belong to one user and are only ever queried through that user. Tally holds two counts the
review page needs on every step (the cards, and each learner's states), kept by the database.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from cards.models import Card

QUALITY_VALIDATORS = [MinValueValidator(0), MaxValueValidator(5)]


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
    imported_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="`version` when an Anki import last wrote this state (another: the learner moved on).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReviewStateQuerySet.as_manager()

    class Meta:
        db_table = "cards_reviewstate"  # its table from before the app split
        constraints = [models.UniqueConstraint(fields=["user", "card"], name="one_state_per_user_card")]
        indexes = [
            # id last: the first due card (due_on, id) is the index's first entry, not a sort of all due.
            models.Index(fields=["user", "due_on", "id"], name="state_user_due_id"),
            models.Index(fields=["user", "last_reviewed_on"], name="state_user_reviewed_on"),
            # The day's re-drills, in the order they come back, without walking the day's other answers.
            models.Index(
                fields=["user", "last_reviewed_on", "last_answered_at", "id"],
                condition=Q(redrill=True),
                name="state_user_redrill",
            ),
            models.Index(fields=["user", "introduced_on"], name="state_user_introduced_on"),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.card}"


class ReviewLogQuerySet(models.QuerySet):
    """Queries on the review log."""

    def answers_on(self, user: object, day: date) -> ReviewLogQuerySet:
        """The user's own review answers (scheduled and re-drill) on their local `day` that were not undone.

        Not undo rows, not challenge verdicts, not imported history: this is "answered today".
        """
        return self.filter(user=user, reviewed_on=day, source__in=ReviewLog.LEARNER_ANSWERS, undone_by__isnull=True)

    def undoable(self, user: object, day: date) -> ReviewLogQuerySet:
        """The answers undo can take back, most recent first."""
        return self.answers_on(user, day).order_by("-answered_at", "-id")


class ReviewLog(models.Model):
    """Append-only: one row per answer, and one row per undo (pointing at what it undid).

    `source` says where a row came from, and every count, statistic and export goes by it. An
    undone answer stays as it was; the undo row that points at it (`undone_by`) is what marks
    it undone, and an undone answer counts nowhere.
    """

    class Source(models.TextChoices):
        REVIEW = "review", "Scheduled review"
        REDRILL = "redrill", "Same-day re-drill"
        UNDO = "undo", "Undo"
        CHALLENGE = "challenge", "Challenge verdict"
        IMPORT = "import", "Import"

    # The learner's own answers in the review: what "answered today" counts and undo may take back.
    LEARNER_ANSWERS = (Source.REVIEW, Source.REDRILL)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_logs")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="review_logs")
    source = models.CharField(max_length=10, choices=Source.choices)
    quality = models.PositiveSmallIntegerField(null=True, blank=True, validators=QUALITY_VALIDATORS)
    request_id = models.UUIDField(default=uuid.uuid4, help_text="Idempotency key sent with the answer.")
    undoes = models.OneToOneField("self", null=True, blank=True, on_delete=models.RESTRICT, related_name="undone_by")
    before = models.JSONField(help_text="Review state before this entry.")
    after = models.JSONField(help_text="Review state after this entry.")
    reviewed_on = models.DateField(help_text="Learner's local date.")
    answered_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time from question shown to answer.")
    anki_revlog_id = models.BigIntegerField(
        null=True, blank=True, help_text="An imported row: the id of Anki's revlog row (imported once per learner)."
    )

    objects = ReviewLogQuerySet.as_manager()

    class Meta:
        db_table = "cards_reviewlog"  # its table from before the app split
        ordering = ["-answered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "request_id"], name="review_log_idempotent"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__lte=5), name="review_log_quality_0_5"
            ),
            models.UniqueConstraint(
                fields=["user", "anki_revlog_id"],
                condition=Q(anki_revlog_id__isnull=False),
                name="review_log_anki_revlog_once",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-answered_at"], name="log_user_recent"),
            # Today's answers in time order: "answered today" and the one undo takes back (latest first)
            # are found within the day's rows, however long the learner's history.
            models.Index(fields=["user", "reviewed_on", "answered_at"], name="log_user_day_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.source} {self.card_id} q={self.quality}"


class Tally(models.Model):
    """Row counts kept exact by database triggers (migration 0003), read instead of COUNT(*).

    `cards`: the rows of cards_card; `states:<user id>`: that user's rows of cards_reviewstate.
    The review page needs "cards this learner has not met yet" (the difference) on every step;
    counting either table grows with the collection (100,000 rows: milliseconds), reading this
    is one primary-key lookup. Triggers, not application code, keep the counts: every insert
    and delete, bulk_create, a cascade from a deleted card or user and raw SQL alike, in the
    same transaction as the change. The application never writes these rows.
    """

    key = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    CARDS = "cards"

    class Meta:
        db_table = "review_tally"

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    @staticmethod
    def states_key(user_id: object) -> str:
        return f"states:{user_id}"
