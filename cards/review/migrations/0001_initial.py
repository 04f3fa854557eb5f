"""The models moved here from the cards app: state only, the tables and rows stay (studyapp/app_moves.py)."""

import uuid
from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from studyapp.app_moves import move_content_types


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        # The tables were created by the cards app's migrations; this app takes them over.
        ("cards", "0008_challenge_check"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ReviewLog",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("review", "Scheduled review"),
                                    ("redrill", "Same-day re-drill"),
                                    ("undo", "Undo"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "quality",
                            models.PositiveSmallIntegerField(
                                blank=True,
                                null=True,
                                validators=[
                                    django.core.validators.MinValueValidator(0),
                                    django.core.validators.MaxValueValidator(5),
                                ],
                            ),
                        ),
                        (
                            "request_id",
                            models.UUIDField(default=uuid.uuid4, help_text="Idempotency key sent with the answer."),
                        ),
                        ("before", models.JSONField(help_text="Review state before this entry.")),
                        ("after", models.JSONField(help_text="Review state after this entry.")),
                        ("reviewed_on", models.DateField(help_text="Learner's local date.")),
                        ("answered_at", models.DateTimeField()),
                        (
                            "duration_ms",
                            models.PositiveIntegerField(
                                blank=True, help_text="Time from question shown to answer.", null=True
                            ),
                        ),
                        (
                            "card",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="review_logs", to="cards.card"
                            ),
                        ),
                        (
                            "undoes",
                            models.OneToOneField(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="undone_by",
                                to="review.reviewlog",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_logs",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_reviewlog",
                        "ordering": ["-answered_at", "-id"],
                        "indexes": [
                            models.Index(fields=["user", "-answered_at"], name="log_user_recent"),
                            models.Index(fields=["user", "reviewed_on"], name="log_user_day"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("user", "request_id"), name="review_log_idempotent"),
                            models.CheckConstraint(
                                condition=models.Q(("quality__isnull", True), ("quality__lte", 5), _connector="OR"),
                                name="review_log_quality_0_5",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ReviewState",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("repetitions", models.PositiveIntegerField(default=0)),
                        ("easiness", models.DecimalField(decimal_places=2, default=Decimal("2.50"), max_digits=4)),
                        ("interval", models.PositiveIntegerField(default=0, help_text="Days.")),
                        ("due_on", models.DateField(help_text="Local date (user's time zone) the card is next due.")),
                        ("last_reviewed_on", models.DateField(blank=True, null=True)),
                        (
                            "redrill",
                            models.BooleanField(default=False, help_text="Scored below 4 today: comes back today."),
                        ),
                        ("version", models.PositiveIntegerField(default=0)),
                        (
                            "last_answered_at",
                            models.DateTimeField(blank=True, help_text="Orders the re-drill queue.", null=True),
                        ),
                        (
                            "introduced_on",
                            models.DateField(
                                blank=True, help_text="Local date the card was first shown as new.", null=True
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "card",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_states",
                                to="cards.card",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="review_states",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_reviewstate",
                        "indexes": [
                            models.Index(fields=["user", "due_on"], name="state_user_due"),
                            models.Index(fields=["user", "last_reviewed_on"], name="state_user_reviewed_on"),
                            models.Index(fields=["user", "introduced_on"], name="state_user_introduced_on"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(fields=("user", "card"), name="one_state_per_user_card")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        move_content_types("review", ["reviewstate", "reviewlog"]),
    ]
