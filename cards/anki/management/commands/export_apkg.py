"""Export a deck as an Anki package: `manage.py export_apkg DECK_SLUG OUT.apkg [--user USERNAME]`.

The deck's cards as Anki notes (imported ones as the notes they came from, with their guids), written
by Anki's own library; with --user, that learner's schedule and review history too. The file appears
whole or not at all. See docs/cards.md, "Exporting to Anki".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from cards.anki.exporter import ExportFailure, export_deck
from cards.models import Deck
from studyapp.commands import DatabaseCommand, user_named


class Command(DatabaseCommand):
    help = "Export a deck as an Anki package (.apkg); with --user, that learner's schedule and review history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("deck", metavar="DECK_SLUG", help="the deck to export")
        parser.add_argument("out", metavar="OUT.apkg", type=Path, help="the package to write (replaced if it exists)")
        parser.add_argument("--user", metavar="USERNAME", help="include this learner's schedule and review history")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            deck = Deck.objects.get(slug=options["deck"])
        except Deck.DoesNotExist:
            raise CommandError(f"no deck with slug {options['deck']!r}") from None
        user = user_named(options["user"])
        try:
            report = export_deck(deck, options["out"], user=user)
        except ExportFailure as exc:
            raise CommandError(f"cannot export {deck.slug}: {exc}. Nothing was written.") from None
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(report.summary()))
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
