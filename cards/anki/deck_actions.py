"""The Deck admin's "Export as Anki package (.apkg)" action: the selected decks as one download.

One deck gives `<slug>.apkg`; several give one package with each deck an Anki deck of its own. No
learner's schedule goes: schedules are private to learners (`manage.py export_apkg --user` exports
one, run by whoever runs the server). The action reads decks and cards, so it needs only the view
permission on decks.

The Deck admin is the content app's (cards/admin.py), which imports no app built on it; so this app
adds its action to the registered admin when Django is ready (AnkiConfig.ready).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib import admin
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest

from cards.models import Deck


@admin.action(description="Export as Anki package (.apkg)", permissions=["view"])
def export_apkg(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Deck]) -> FileResponse:
    # Imported here: Anki's library (~230 ms, ~35 MB) loads in the process that exports, when it does.
    from .exporter import export_decks

    decks = list(queryset.order_by("title", "slug"))
    name = f"{decks[0].slug}.apkg" if len(decks) == 1 else f"{len(decks)}-decks.apkg"
    with tempfile.TemporaryDirectory(prefix="apkg-download-") as workdir:
        path = Path(workdir) / name
        export_decks(decks, path)
        package = path.open("rb")  # still readable once the folder is gone: the response streams and closes it
    return FileResponse(package, as_attachment=True, filename=name, content_type="application/octet-stream")


def add_to_deck_admin(site: admin.AdminSite = admin.site) -> None:
    """Add the export to the Deck admin's actions (once, whatever calls this again)."""
    model_admin = site.get_model_admin(Deck)
    actions = list(model_admin.actions or [])
    if export_apkg not in actions:
        model_admin.actions = [*actions, export_apkg]
