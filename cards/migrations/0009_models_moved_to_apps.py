"""The app split: profiles, review, challenges and reminders moved to their own apps.

State only: the other apps' first migrations took over the tables (keeping their names),
so here the models only leave the cards app's state. No row is touched.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0008_challenge_check"),
        ("accounts", "0001_initial"),
        ("review", "0001_initial"),
        ("challenges", "0001_initial"),
        ("reminders", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel("ChallengeCheck"),
                migrations.DeleteModel("Submission"),
                migrations.DeleteModel("Challenge"),
                migrations.DeleteModel("ReminderSend"),
                migrations.DeleteModel("ReviewLog"),
                migrations.DeleteModel("ReviewState"),
                migrations.DeleteModel("Profile"),
            ],
            database_operations=[],
        ),
    ]
