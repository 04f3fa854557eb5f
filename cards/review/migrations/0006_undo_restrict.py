"""An undo row's answer can go with it: `undoes` is RESTRICT, not PROTECT (no SQL: Django enforces it).

With PROTECT, deleting a learner (or a card) whose history had an undo failed: the answer was
"protected" by the undo row pointing at it, although that row was being deleted by the same cascade.
RESTRICT still refuses to delete an undone answer on its own, but lets a cascade take both.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("review", "0005_anki_import")]

    operations = [
        migrations.AlterField(
            model_name="reviewlog",
            name="undoes",
            field=models.OneToOneField(
                blank=True, null=True, on_delete=models.RESTRICT, related_name="undone_by", to="review.reviewlog"
            ),
        ),
    ]
