"""Load the challenges in cards/challenges/catalog/*/ into the database (idempotent; run after load_seed).

python manage.py load_challenges [--path DIR] [--dry-run]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from cards.challenges.loader import CHALLENGES_DIR, ChallengeFileError, LoadReport, load_challenges
from studyapp.commands import DatabaseCommand


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""

    def __init__(self, report: LoadReport) -> None:
        self.report = report


class Command(DatabaseCommand):
    help = "Create or update the challenges kept as files (challenge.toml, starter.py, reference.py)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", type=Path, default=CHALLENGES_DIR, help="Folder of challenge folders.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument(
            "--no-update", dest="update", action="store_false", help="Create missing challenges; keep existing ones."
        )

    def handle(self, *args: Any, path: Path, dry_run: bool, update: bool, **options: Any) -> None:
        if not path.is_dir():
            raise CommandError(f"{path} is not a folder")
        try:
            with transaction.atomic():
                report = load_challenges(path, update=update)
                if dry_run:
                    raise _DryRun(report)
        except ChallengeFileError as exc:
            raise CommandError(str(exc)) from None
        except _DryRun as dry:
            report = dry.report
        verb = "would be " if dry_run else ""
        for label, slugs in (("created", report.created), ("updated", report.updated)):
            for slug in slugs:
                self.stdout.write(f"{slug}: {verb}{label}")
        if options["verbosity"] > 1:
            for slug in report.unchanged:
                self.stdout.write(f"{slug}: unchanged")
            for slug in report.kept:
                self.stdout.write(f"{slug}: exists, kept as it is (--no-update)")
        for slug, keys in report.missing_concepts.items():
            self.stderr.write(
                self.style.WARNING(f"{slug}: no card for concept(s) {', '.join(keys)} (is the seed loaded?)")
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} {verb}created, {len(report.updated)} {verb}updated, "
                f"{len(report.unchanged)} unchanged" + (f", {len(report.kept)} kept" if report.kept else "")
            )
        )
