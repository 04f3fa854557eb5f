"""Import an Anki package: `manage.py import_apkg FILE [--deck SLUG] [--user USERNAME]`.

Cards go into the deck SLUG (created if missing; by default the slug of the Anki deck most of the
package's cards are in); with --user, the package's scheduling and review history become that
learner's. Idempotent (keyed on Anki's note guid), one transaction; a bad package is an error
that says what is wrong, and nothing is written. See docs/cards.md, "Importing from Anki".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from cards.anki.importer import ImportFailure, import_package
from studyapp.commands import DatabaseCommand, user_named


class Command(DatabaseCommand):
    help = "Import an Anki deck package (.apkg): its notes as cards, and with --user its scheduling."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the .apkg file")
        parser.add_argument("--deck", metavar="SLUG", help="the deck to import into (created if missing)")
        parser.add_argument(
            "--user", metavar="USERNAME", help="make the package's scheduling and review history this learner's"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = user_named(options["user"])
        path: Path = options["file"]
        try:
            report = import_package(path, deck_slug=options["deck"], user=user)
        except ImportFailure as exc:
            raise CommandError(f"cannot import {path.name}: {exc}. Nothing was imported.") from None
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(report.summary()))
            if user is not None:
                self.stdout.write(report.schedule_summary())
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
