"""Author checks of a challenge (issue 9), graded on a worker; and the beat entry that ends stale ones."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SWEEP_NAME = "Challenges: end stale author checks"
SWEEP_TASK = "cards.tasks.expire_stale_challenge_checks"


def add_sweep(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={
            "task": SWEEP_TASK,
            "interval": every_minute,
            "enabled": True,
            "description": "Ends as error the author checks a worker left running (it died) or never picked up.",
        },
    )


def remove_sweep(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('cards', '0007_review_reviewed_on_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name='ChallengeCheck',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('error', 'Error')], default='queued', max_length=10)),
                ('grader_kind', models.CharField(max_length=64)),
                ('grader_params', models.JSONField(blank=True, default=dict)),
                ('reference_code', models.TextField(blank=True)),
                ('starter_code', models.TextField(blank=True)),
                ('reference_verdict', models.JSONField(blank=True, null=True)),
                ('starter_verdict', models.JSONField(blank=True, null=True)),
                ('reference_error', models.TextField(blank=True, help_text='Why the reference was not graded, if it was not.')),
                ('starter_error', models.TextField(blank=True, help_text='Why the starter was not graded, if it was not.')),
                ('error_message', models.TextField(blank=True, help_text='Why the check as a whole did not finish.')),
                ('task_id', models.CharField(blank=True, max_length=64)),
                ('worker', models.CharField(blank=True, help_text='The Celery worker that graded it.', max_length=255)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('challenge', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='checks', to='cards.challenge')),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='challenge_checks', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['status', 'created_at'], name='challenge_check_sweep')],
            },
        ),
        migrations.RunPython(add_sweep, remove_sweep),
    ]
