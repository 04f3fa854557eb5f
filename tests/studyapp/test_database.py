"""The embedded SQLite default: WAL and a busy timeout, so the web process and the worker do not trip
over each other (separate processes on one database file, as scripts/run.sh runs them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.production_helpers import REPO, production_env, run_django

# Holds the write lock until the other process has started writing, then 1.5 s more.
HOLD_THE_WRITE_LOCK = """
import pathlib, sys, time
from django.db import connection, transaction
signal_file = pathlib.Path(sys.argv[1])
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, who TEXT)")
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO probe (who) VALUES ('holder')")
    print("LOCKED", flush=True)
    deadline = time.monotonic() + 60
    while not signal_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1.5)
print("RELEASED", flush=True)
"""

WRITE_AND_READ = """
import pathlib, time
from django.db import connection, transaction
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    journal_mode = cursor.fetchone()[0]
    cursor.execute("PRAGMA busy_timeout")
    busy_timeout = cursor.fetchone()[0]
    started = time.monotonic()
    cursor.execute("SELECT COUNT(*) FROM probe")  # a reader is not blocked by the writer (WAL)
    read_seconds = time.monotonic() - started
pathlib.Path(SIGNAL_FILE).touch()
started = time.monotonic()
with transaction.atomic():
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO probe (who) VALUES ('waiter')")
        cursor.execute("SELECT who FROM probe ORDER BY id")
        rows = [row[0] for row in cursor.fetchall()]
write_seconds = time.monotonic() - started
result = {"journal_mode": journal_mode, "busy_timeout": busy_timeout, "read_seconds": read_seconds,
          "write_seconds": write_seconds, "rows": rows}
"""


def test_sqlite_uses_wal_and_a_writer_waits_for_the_lock_instead_of_failing(tmp_path: Path) -> None:
    env = production_env(tmp_path, STUDYAPP_ENV="development")
    signal_file = tmp_path / "other-is-writing"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import django; django.setup()\n" + HOLD_THE_WRITE_LOCK, str(signal_file)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "LOCKED", holder.stderr.read()
        result = run_django(env, f"SIGNAL_FILE = {str(signal_file)!r}\n" + WRITE_AND_READ)
    finally:
        out, err = holder.communicate(timeout=60)
    assert holder.returncode == 0, err
    assert "RELEASED" in out
    assert result["journal_mode"] == "wal"
    assert result["busy_timeout"] >= 10_000
    # The reader was not blocked by the writer; the second writer waited for the lock (the holder
    # kept it 1.5 s after it began) and then succeeded instead of raising "database is locked".
    assert result["read_seconds"] < 1.0
    assert result["write_seconds"] >= 1.0
    assert result["rows"] == ["holder", "waiter"]
