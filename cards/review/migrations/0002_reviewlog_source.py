"""The review log's `kind` becomes `source`: where each row came from, with two more values.

"challenge" marks a challenge's verdict on its practice card (the challenges app's next
migration finds the existing ones), "import" the history an import brings in.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("review", "0001_initial")]

    operations = [
        migrations.RenameField("reviewlog", "kind", "source"),
        migrations.AlterField(
            model_name="reviewlog",
            name="source",
            field=models.CharField(
                choices=[
                    ("review", "Scheduled review"),
                    ("redrill", "Same-day re-drill"),
                    ("undo", "Undo"),
                    ("challenge", "Challenge verdict"),
                    ("import", "Import"),
                ],
                max_length=10,
            ),
        ),
    ]
