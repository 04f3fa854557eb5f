"""Commands that need the database say what is wrong with it and exit 3, instead of a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SEED_STARTER = PROJECT / "cards" / "challenges" / "catalog" / "async-blocking-call" / "starter.py"

COMMANDS = [
    ["load_seed", "--dry-run"],
    ["load_challenges", "--dry-run"],
    ["send_reminders", "--dry-run"],
    ["ensure_admin", "--password-file", "admin-password"],
    ["grade", "async-blocking-call", str(SEED_STARTER), "--json"],
]


def manage(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, str(PROJECT / "manage.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("args", COMMANDS, ids=[args[0] for args in COMMANDS])
def test_a_database_never_migrated_is_named_with_the_fix(tmp_path, args):
    database = tmp_path / "new.sqlite3"
    result = manage(args, f"sqlite:///{database}", tmp_path)

    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert f"the database (SQLite {database})" in result.stderr
    assert "run 'python manage.py migrate' first" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "admin-password").exists()


def test_the_same_command_runs_once_the_database_is_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert manage(["migrate", "--noinput", "-v0"], url, tmp_path).returncode == 0

    result = manage(["load_seed", "--dry-run"], url, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "migrate" not in result.stderr


def test_an_unreachable_database_is_named_without_its_password(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = manage(["load_seed"], f"postgres://learner:s3cret-pw@127.0.0.1:{port}/studyapp", tmp_path)

    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot use the database (PostgreSQL studyapp on 127.0.0.1:{port})" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout
