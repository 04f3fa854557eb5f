"""The models moved here from the cards app: state only, the tables and rows stay (studyapp/app_moves.py)."""

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
                    name="Challenge",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("slug", models.SlugField(max_length=80, unique=True)),
                        ("title", models.CharField(max_length=200)),
                        ("prompt", models.TextField(help_text="Markdown.")),
                        ("starter_code", models.TextField(blank=True)),
                        (
                            "reference_solution",
                            models.TextField(help_text="Must pass: authors check it with 'Grade reference'."),
                        ),
                        ("grader_kind", models.CharField(max_length=50)),
                        ("grader_params", models.JSONField(blank=True, default=dict)),
                        ("position", models.PositiveIntegerField(default=0)),
                        ("is_active", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        ("concepts", models.ManyToManyField(blank=True, related_name="challenges", to="cards.card")),
                        (
                            "practice_card",
                            models.OneToOneField(
                                blank=True,
                                help_text="The card that schedules this challenge in the daily review.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="practice_for",
                                to="cards.card",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_challenge",
                        "ordering": ["position", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="ChallengeCheck",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("done", "Done"),
                                    ("error", "Error"),
                                ],
                                default="queued",
                                max_length=10,
                            ),
                        ),
                        ("grader_kind", models.CharField(max_length=64)),
                        ("grader_params", models.JSONField(blank=True, default=dict)),
                        ("reference_code", models.TextField(blank=True)),
                        ("starter_code", models.TextField(blank=True)),
                        ("reference_verdict", models.JSONField(blank=True, null=True)),
                        ("starter_verdict", models.JSONField(blank=True, null=True)),
                        (
                            "reference_error",
                            models.TextField(blank=True, help_text="Why the reference was not graded, if it was not."),
                        ),
                        (
                            "starter_error",
                            models.TextField(blank=True, help_text="Why the starter was not graded, if it was not."),
                        ),
                        (
                            "error_message",
                            models.TextField(blank=True, help_text="Why the check as a whole did not finish."),
                        ),
                        ("task_id", models.CharField(blank=True, max_length=64)),
                        (
                            "worker",
                            models.CharField(blank=True, help_text="The Celery worker that graded it.", max_length=255),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "challenge",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="checks",
                                to="challenges.challenge",
                            ),
                        ),
                        (
                            "requested_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="challenge_checks",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_challengecheck",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [models.Index(fields=["status", "created_at"], name="challenge_check_sweep")],
                    },
                ),
                migrations.CreateModel(
                    name="Submission",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.TextField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("graded", "Graded"),
                                    ("error", "Error"),
                                ],
                                default="queued",
                                max_length=10,
                            ),
                        ),
                        ("verdict", models.JSONField(blank=True, null=True)),
                        ("passed", models.BooleanField(blank=True, null=True)),
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
                        ("error_message", models.TextField(blank=True)),
                        (
                            "attempts",
                            models.PositiveSmallIntegerField(default=0, help_text="Times a worker started grading it."),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("queued_at", models.DateTimeField(blank=True, null=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "challenge",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="submissions",
                                to="challenges.challenge",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="submissions",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_submission",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(fields=["user", "challenge", "-created_at"], name="submission_history"),
                            models.Index(fields=["status", "queued_at"], name="submission_sweep"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        move_content_types("challenges", ["challenge", "submission", "challengecheck"]),
    ]
