"""Commands that need the database say plainly when it is not ready, instead of a traceback."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

# The exit status when the database cannot be used (2 stays "bad input", as in every command).
NOT_READY = 3


def describe(alias: str = DEFAULT_DB_ALIAS) -> str:
    """'SQLite /app/db.sqlite3' or 'PostgreSQL studyapp on 127.0.0.1:5432': never the password."""
    settings = connections[alias].settings_dict
    vendor = connections[alias].display_name
    where = f" on {settings['HOST']}:{settings['PORT'] or 'default port'}" if settings.get("HOST") else ""
    return f"{vendor} {settings['NAME']}{where}"


def database_problem(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """What keeps a command from using the database (unreachable, not migrated), or None."""
    connection = connections[alias]
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return f"cannot use the database ({describe(alias)}): {str(exc).strip()}"
    if plan:
        apps = ", ".join(sorted({migration.app_label for migration, _ in plan}))
        return (
            f"the database ({describe(alias)}) is missing {len(plan)} migration(s) of {apps}:"
            " run 'python manage.py migrate' first"
        )
    return None


class DatabaseCommand(BaseCommand):
    """A command that checks the database is reachable and migrated before it does anything."""

    def execute(self, *args: Any, **options: Any) -> Any:
        problem = database_problem(options.get("database") or DEFAULT_DB_ALIAS)
        if problem:
            raise CommandError(problem, returncode=NOT_READY)
        return super().execute(*args, **options)


def user_named(username: str | None) -> AbstractBaseUser | None:
    """The user a `--user USERNAME` option names (None when it was not given); unknown: a CommandError."""
    if username is None:
        return None
    model = get_user_model()
    try:
        return model.objects.get(**{model.USERNAME_FIELD: username})
    except model.DoesNotExist:
        raise CommandError(f"no user named {username!r}") from None
