"""The app as separate processes for the worker and browser tests: a file SQLite DB, Celery workers, a web server.

pytest-django's test database on SQLite lives in memory, where no worker process
can see it, so these tests run the real pieces the way scripts/run.sh does:
`manage.py migrate` into a fresh SQLite file (once per session, then copied),
`celery -A studyapp worker` and `manage.py runserver` as subprocesses sharing it,
and a private Redis database (REDIS_URL's server, database 13, flushed first).
The test reads the database with the standard library's sqlite3 and changes it
only through `manage.py shell -c`, i.e. through the app's own code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))
STACK_REDIS_DB = 13


def stack_redis_url() -> str:
    """REDIS_URL's server with this module's own database number."""
    parts = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return urlunsplit((parts.scheme, parts.netloc, f"/{STACK_REDIS_DB}", "", ""))


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


_TEMPLATES: list[Path] = []


def migrated_template(folder: Path) -> Path:
    """A migrated SQLite database file, made in `folder` by the first call of the session and reused after."""
    if _TEMPLATES and _TEMPLATES[0].exists():
        return _TEMPLATES[0]
    db = folder / "template.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "REDIS_URL": stack_redis_url()}
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _TEMPLATES[:] = [db]
    return db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Stack:
    """One test's processes and database. Use as a context manager: everything started is stopped."""

    def __init__(self, folder: Path, template: Path, **env: str) -> None:
        self.folder = folder
        self.db = folder / "app.sqlite3"
        shutil.copyfile(template, self.db)
        self.redis_url = stack_redis_url()
        flush_redis(self.redis_url)
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.db}",
            "REDIS_URL": self.redis_url,
            "CACHE_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "DJANGO_SETTINGS_MODULE": "studyapp.settings",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.processes):
            self.stop(proc)

    # --- processes ---------------------------------------------------------------------------

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.folder / log_name, "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        proc.log_path = self.folder / log_name  # type: ignore[attr-defined]
        log.close()
        self.processes.append(proc)
        return proc

    def log(self, proc: subprocess.Popen) -> str:
        return Path(proc.log_path).read_text(errors="replace")  # type: ignore[attr-defined]

    def _start(self, args: list[str], log_name: str, ready: str, what: str) -> subprocess.Popen:
        """Spawn a process and return once its log says `ready` (failing with the log if it exits)."""
        proc = self._spawn(args, log_name)
        wait_for(lambda: ready in self.log(proc) or proc.poll() is not None, 60, what)
        assert proc.poll() is None, self.log(proc)
        return proc

    def start_worker(self, name: str, concurrency: int = 1) -> subprocess.Popen:
        """A Celery worker on the sandbox and default queues, with the tests' marker grader loaded."""
        return self._start(
            [
                CELERY,
                "-A",
                "studyapp",
                "worker",
                "-Q",
                "sandbox,default",
                "-c",
                str(concurrency),
                "-n",
                f"{name}@%h",
                "-I",
                "tests.challenges_graders",
                "--without-mingle",
                "--without-gossip",
                "-l",
                "INFO",
            ],
            f"worker-{name}.log",
            "ready.",
            f"worker {name} to start",
        )

    def start_web(self) -> str:
        """`manage.py runserver` on a free port; returns its base URL once it answers."""
        port = free_port()
        proc = self._spawn(
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--nothreading"], "web.log"
        )
        url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True
            except OSError:
                return proc.poll() is not None

        wait_for(answers, 60, "the web server to start")
        assert proc.poll() is None, self.log(proc)
        return url

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the process and everything in its session (a worker and its pool children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill(proc)
            except ProcessLookupError:
                pass

    # --- the database ------------------------------------------------------------------------

    def shell(self, code: str) -> str:
        """Run Python in `manage.py shell` (the app's code, this stack's database); return its stdout."""
        done = subprocess.run(
            [PYTHON, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def query(self, sql: str, *params: Any) -> list[tuple]:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=20)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def submission(self, pk: int) -> dict[str, Any]:
        columns = ("status", "attempts", "passed", "quality", "error_message", "started_at", "finished_at")
        row = self.query(f"SELECT {', '.join(columns)} FROM cards_submission WHERE id = ?", pk)[0]  # noqa: S608
        return dict(zip(columns, row, strict=True))
