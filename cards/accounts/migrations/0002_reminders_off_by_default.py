"""Reminders are off until a learner asks for them, and never on without an address to send to.

Learners who signed up without an address had reminders on that could never reach them, and
Settings refused to save anything (even a time zone) until they gave one or turned them off.
"""

from django.db import migrations, models


def off_without_an_address(apps, schema_editor):
    Profile = apps.get_model("accounts", "Profile")
    db = schema_editor.connection.alias
    Profile.objects.using(db).filter(reminders_enabled=True, reminder_email="", user__email="").update(
        reminders_enabled=False
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AlterField("profile", "reminders_enabled", models.BooleanField(default=False)),
        # Not reversed: a learner without an address had no reminder to get back.
        migrations.RunPython(off_without_an_address, migrations.RunPython.noop),
    ]
