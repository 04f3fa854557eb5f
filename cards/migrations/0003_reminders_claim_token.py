# Reminders: the token of the run holding a claim (see cards/reminders.py).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("cards", "0002_review_session"),
    ]

    operations = [
        migrations.AddField(
            model_name="remindersend",
            name="claim_token",
            field=models.UUIDField(
                blank=True,
                help_text="The run holding the claim: a run sends only the rows carrying its token.",
                null=True,
            ),
        ),
    ]
