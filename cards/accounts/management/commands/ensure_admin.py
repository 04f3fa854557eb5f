"""Create the first admin account for a new installation, once.

If no superuser exists, creates one named "admin" with a random password and
writes the password to the given file (mode 0600), never to the log. If a
superuser exists already, changes nothing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandParser
from django.db import transaction

from studyapp.commands import DatabaseCommand


class Command(DatabaseCommand):
    help = "Create the first superuser ('admin', random password written to a file) if there is none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password-file", required=True, type=Path, help="Where to write the new password.")

    def handle(self, *args: object, username: str, password_file: Path, **options: object) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin account exists already; nothing changed.")
            return
        password = secrets.token_urlsafe(18)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        with transaction.atomic():
            users.objects.create_superuser(username=username, email="", password=password)
            # Written before the transaction commits, so a failed write leaves no account without a password.
            fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password + "\n")
        self.stdout.write(f"Created admin account {username!r}; its password is in {password_file}.")
