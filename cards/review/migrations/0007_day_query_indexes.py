"""The review queue's day query: the first due card and the day's re-drills read from an index (cards/review/queue.py).

The new (user, due_on, id) index is built before the old (user, due_on) one goes.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0010_card_text_format_and_anki"),
        ("review", "0006_undo_restrict"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="reviewstate",
            index=models.Index(fields=["user", "due_on", "id"], name="state_user_due_id"),
        ),
        migrations.AddIndex(
            model_name="reviewstate",
            index=models.Index(
                condition=models.Q(("redrill", True)),
                fields=["user", "last_reviewed_on", "last_answered_at", "id"],
                name="state_user_redrill",
            ),
        ),
        migrations.RemoveIndex(
            model_name="reviewstate",
            name="state_user_due",
        ),
    ]
