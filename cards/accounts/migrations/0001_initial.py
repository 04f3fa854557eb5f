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
                    name="Profile",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("timezone", models.CharField(default="UTC", max_length=64)),
                        (
                            "new_cards_per_day",
                            models.PositiveSmallIntegerField(
                                default=20, validators=[django.core.validators.MaxValueValidator(500)]
                            ),
                        ),
                        ("reminders_enabled", models.BooleanField(default=True)),
                        (
                            "reminder_hour",
                            models.PositiveSmallIntegerField(
                                default=8, validators=[django.core.validators.MaxValueValidator(23)]
                            ),
                        ),
                        (
                            "reminder_email",
                            models.EmailField(
                                blank=True, help_text="Defaults to the account's address.", max_length=254
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="profile",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "cards_profile",
                    },
                ),
            ],
            database_operations=[],
        ),
        move_content_types("accounts", ["profile"]),
    ]
