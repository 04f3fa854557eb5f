"""Load the seed decks (cards/seed/*.toml) into the database: `manage.py load_seed`.

Idempotent: creates missing cards, updates cards whose key exists but whose text,
tags or position changed in the file, and leaves everything else alone, all in
one transaction. `--dry-run` reports what would change and writes nothing;
`--no-update` only creates what is missing (keeps edits made in the admin).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from cards.seed_loader import LoadReport, SeedError, load_seed, read_seed, seed_files
from studyapp.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Load the seed decks (cards/seed/*.toml): create missing cards, update changed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="seed files (default: every cards/seed/*.toml)")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
        parser.add_argument(
            "--no-update",
            action="store_true",
            help="only create missing cards; leave existing ones as they are, even if the file differs",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["paths"] or seed_files()
        if not paths:
            raise CommandError("no seed files found")
        try:
            decks = [read_seed(path) for path in paths]
        except SeedError as error:
            raise CommandError(str(error)) from None
        reports = load_seed(decks, update=not options["no_update"], dry_run=options["dry_run"])
        prefix = "[dry run, nothing written] " if options["dry_run"] else ""
        for report in reports:
            self._print(report, prefix, options["verbosity"])

    def _print(self, report: LoadReport, prefix: str, verbosity: int) -> None:
        style = self.style.SUCCESS if report.changed else self.style.NOTICE
        if verbosity >= 1:
            self.stdout.write(style(prefix + report.summary()))
        if verbosity >= 2 or (verbosity >= 1 and len(report.created) + len(report.updated) <= 10):
            # Name what changed when it is a handful; the first load's 37 creations stay one line.
            for label, keys in (("created", report.created), ("updated", report.updated), ("left", report.skipped)):
                for key in keys:
                    self.stdout.write(f"  {label}: {report.deck}/{key}")
