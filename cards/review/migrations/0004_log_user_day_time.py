"""The review log's (user, reviewed_on) index gains answered_at: (user, reviewed_on, answered_at).

The answer undo would take back is today's latest; with answered_at in the index it is the
last entry of today's range. Ordered by the (user, -answered_at) index instead, a day without
answers yet walked the learner's whole history looking for one. The new index serves every
query the old one did, so it replaces it (created first).
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("review", "0003_tally"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="reviewlog",
            index=models.Index(fields=["user", "reviewed_on", "answered_at"], name="log_user_day_time"),
        ),
        migrations.RemoveIndex(model_name="reviewlog", name="log_user_day"),
    ]
