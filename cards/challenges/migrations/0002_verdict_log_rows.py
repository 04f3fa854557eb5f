"""Mark the review-log rows written by challenge verdicts as source "challenge".

They were written as "review" or "redrill" answers to the practice card; each one's request_id
is uuid5(namespace, "submission:<id>") of its submission (cards/challenges/practice.py), which
is how they are found. Unapplying puts back what the row would have been (a re-drill when the
card was waiting for one that day).
"""

import uuid

from django.db import migrations

# cards.challenges.practice.SUBMISSION_NAMESPACE, frozen here as it was when this ran.
SUBMISSION_NAMESPACE = uuid.UUID("6c1f4a52-2d0e-4f8e-9a55-0c3b1f6a7e21")
BATCH = 500


def mark_verdicts(apps, schema_editor):
    Submission = apps.get_model("challenges", "Submission")
    ReviewLog = apps.get_model("review", "ReviewLog")
    db = schema_editor.connection.alias
    graded = Submission.objects.using(db).filter(quality__isnull=False).values_list("pk", "user_id").order_by("pk")
    batch = []
    for pk, user_id in graded.iterator(chunk_size=BATCH):
        batch.append((user_id, uuid.uuid5(SUBMISSION_NAMESPACE, f"submission:{pk}")))
        if len(batch) == BATCH:
            _mark(ReviewLog, db, batch)
            batch = []
    _mark(ReviewLog, db, batch)


def _mark(ReviewLog, db, batch):
    ids = [request_id for _, request_id in batch]
    rows = ReviewLog.objects.using(db).filter(request_id__in=ids, source__in=["review", "redrill"])
    users = {request_id: user_id for user_id, request_id in batch}
    mine = [pk for pk, user_id, request_id in rows.values_list("pk", "user_id", "request_id") if users[request_id] == user_id]
    ReviewLog.objects.using(db).filter(pk__in=mine).update(source="challenge")


def unmark_verdicts(apps, schema_editor):
    ReviewLog = apps.get_model("review", "ReviewLog")
    db = schema_editor.connection.alias
    for row in ReviewLog.objects.using(db).filter(source="challenge").only("pk", "before"):
        was_redrill = bool(row.before.get("redrill")) and row.before.get("last_reviewed_on") == str(row.reviewed_on)
        ReviewLog.objects.using(db).filter(pk=row.pk).update(source="redrill" if was_redrill else "review")


class Migration(migrations.Migration):
    dependencies = [("challenges", "0001_initial"), ("review", "0002_reviewlog_source")]

    operations = [migrations.RunPython(mark_verdicts, unmark_verdicts)]
