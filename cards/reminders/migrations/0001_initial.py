"""The models moved here from the cards app: state only, the tables and rows stay (studyapp/app_moves.py)."""

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
                    name="ReminderSend",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("local_date", models.DateField()),
                        (
                            "status",
                            models.CharField(
                                choices=[("claimed", "Claimed"), ("sent", "Sent")], default="claimed", max_length=10
                            ),
                        ),
                        ("due_count", models.PositiveIntegerField(default=0)),
                        ("claimed_at", models.DateTimeField()),
                        (
                            "claim_token",
                            models.UUIDField(
                                blank=True,
                                help_text="The run holding the claim: a run sends only the rows carrying its token.",
                                null=True,
                            ),
                        ),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="reminder_sends",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_remindersend",
                        "constraints": [
                            models.UniqueConstraint(fields=("user", "local_date"), name="one_reminder_per_local_day")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        move_content_types("reminders", ["remindersend"]),
    ]
