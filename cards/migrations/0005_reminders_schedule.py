"""Register the reminder run with django-celery-beat: every 15 minutes, so admins see and change it.

Every quarter hour on the UTC clock reaches each learner's chosen hour on time in
every zone, including the :30 and :45 offsets (India, Nepal, Chatham). Created with
get_or_create by name: an admin's later changes (interval, enabled) are kept.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Reminders: send due reminder emails"
TASK = "cards.reminder_tasks.send_due_reminders"


def add_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    quarter_hours, _ = CrontabSchedule.objects.get_or_create(
        minute="*/15", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "crontab": quarter_hours,
            "enabled": True,
            # A run not started within 10 minutes is dropped: the next one does its work.
            "expire_seconds": 600,
            "description": "Mails each learner with cards due one reminder a local day, at their chosen hour.",
        },
    )
    # Tell a running beat (DatabaseScheduler) that its schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0004_challenges_sweep_beat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
