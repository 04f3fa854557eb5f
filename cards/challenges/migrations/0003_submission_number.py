"""Attempts are numbered per learner and challenge (they showed the site-wide id: "Attempt #24" for a first try).

Existing submissions are numbered in the order they were made.
"""

from django.db import migrations, models


def number_attempts(apps, schema_editor):
    Submission = apps.get_model("challenges", "Submission")
    db = schema_editor.connection.alias
    counts: dict[tuple[int, int], int] = {}
    batch = []
    rows = Submission.objects.using(db).order_by("created_at", "id").values_list("pk", "user_id", "challenge_id")
    for pk, user_id, challenge_id in rows.iterator(chunk_size=2000):
        key = (user_id, challenge_id)
        counts[key] = counts.get(key, 0) + 1
        batch.append(Submission(pk=pk, number=counts[key]))
        if len(batch) == 2000:
            Submission.objects.using(db).bulk_update(batch, ["number"])
            batch = []
    Submission.objects.using(db).bulk_update(batch, ["number"])


class Migration(migrations.Migration):
    dependencies = [("challenges", "0002_verdict_log_rows")]

    operations = [
        migrations.AddField("submission", "number", models.PositiveIntegerField(null=True)),
        migrations.RunPython(number_attempts, migrations.RunPython.noop),
        migrations.AlterField(
            "submission",
            "number",
            models.PositiveIntegerField(help_text="The learner's attempt number at this challenge: 1, 2, 3..."),
        ),
        migrations.AddConstraint(
            "submission",
            models.UniqueConstraint(fields=["user", "challenge", "number"], name="one_attempt_number_per_learner"),
        ),
    ]
