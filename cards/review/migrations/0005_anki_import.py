"""Anki import (issue 14): the revlog row an imported log row came from, and the version an import wrote.

ReviewLog.anki_revlog_id is unique per learner, so re-importing a package adds no row twice;
ReviewState.imported_version lets a re-import see whether the learner has moved the schedule on.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0010_card_text_format_and_anki"),
        ("review", "0004_log_user_day_time"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewlog",
            name="anki_revlog_id",
            field=models.BigIntegerField(
                blank=True,
                help_text="An imported row: the id of Anki's revlog row (imported once per learner).",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="reviewstate",
            name="imported_version",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="`version` when an Anki import last wrote this state (another: the learner moved on).",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="reviewlog",
            constraint=models.UniqueConstraint(
                condition=models.Q(("anki_revlog_id__isnull", False)),
                fields=("user", "anki_revlog_id"),
                name="review_log_anki_revlog_once",
            ),
        ),
    ]
