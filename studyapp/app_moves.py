"""Moving models out of the cards app into their own apps, keeping every row.

The tables stay where they are (each moved model names its old `db_table`), so the
moves are state-only migrations. What does change is the app label: the content
types move with the models, so permissions granted to users and groups, and the
admin's history, stay attached to them.
"""

from __future__ import annotations

from django.db import migrations

OLD_LABEL = "cards"


def move_content_types(new_label: str, models: list[str]) -> migrations.RunPython:
    """A migration step that relabels the moved models' content types (and back, when unapplied)."""

    def relabel(apps, schema_editor, old: str, new: str) -> None:  # noqa: ANN001 (historical apps)
        content_type = apps.get_model("contenttypes", "ContentType")
        rows = content_type.objects.using(schema_editor.connection.alias)
        for model in models:
            # A type already under the new label (created by an earlier, failed run) wins; keep it.
            if not rows.filter(app_label=new, model=model).exists():
                rows.filter(app_label=old, model=model).update(app_label=new)

    return migrations.RunPython(
        lambda apps, editor: relabel(apps, editor, OLD_LABEL, new_label),
        lambda apps, editor: relabel(apps, editor, new_label, OLD_LABEL),
        elidable=False,
    )
