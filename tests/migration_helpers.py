"""Moving the test database between migrations, to test data migrations on real rows."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import StateApps


def migrate_to(targets: list[tuple[str, str | None]]) -> StateApps:
    """Migrate the test database to `targets` ((app, None) unapplies an app); return the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    named = {app for app, _ in targets}
    nodes = [node for node in targets if node[1] is not None]
    nodes += [leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] not in named]
    return executor.loader.project_state(nodes).apps


def migrate_to_latest() -> None:
    """Back to every app's latest migration (where the test database started)."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()
