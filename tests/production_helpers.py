"""Helpers for the production and security tests: run code under production settings in a subprocess.

Production settings are decided at import time (STUDYAPP_ENV), so the only honest way to
test them is a fresh interpreter with the environment a deployment would give it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from tests.challenges_stack import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a production deployment: a real-looking secret, hosts, a throwaway database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "STUDYAPP_"))}
    env.update(
        STUDYAPP_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="study.example.test,localhost",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        DJANGO_SETTINGS_MODULE="studyapp.settings",
        PYTHONPATH=str(REPO),
    )
    env.pop("DEBUG", None)
    env.update(extra)
    return env


def run_manage(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` in a fresh interpreter with `env`."""
    return subprocess.run(
        [PYTHON, str(REPO / "manage.py"), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_django(env: dict[str, str], code: str, timeout: float = 120) -> dict:
    """Run `code` after django.setup() in a fresh interpreter; it must assign a JSON-able `result`."""
    script = "import django, json\ndjango.setup()\n" + code + "\nprint('RESULT:' + json.dumps(result))\n"
    proc = subprocess.run([PYTHON, "-c", script], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT:"))
    return json.loads(line.removeprefix("RESULT:"))


class PrivateRedis:
    """A redis-server of this test's own, on its own port, that the test can stop and start again."""

    def __init__(self, folder: Path, password: str = "") -> None:
        self.folder = folder
        self.port = free_port()
        self.password = password
        self.url = f"redis://{':' + password + '@' if password else ''}127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                   "--save", "", "--appendonly", "no"]  # fmt: skip
        if self.password:
            command += ["--requirepass", self.password]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.answers, 20, "redis-server to start")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        assert not self.answers()


# Run in a fresh interpreter: records every environment variable read while the settings load
# (django.setup()) and gunicorn.conf.py runs, with the file that read it.
_RECORD_ENV_READS = """
import json, os, runpy, sys
reads = set()
def _reader():
    frame = sys._getframe(2)
    while frame and os.path.basename(frame.f_code.co_filename) in ("os.py", "<frozen os>", "<frozen _collections_abc>"):
        frame = frame.f_back
    return os.path.relpath(frame.f_code.co_filename) if frame else "?"
class Recording(type(os.environ)):
    def __getitem__(self, key):
        reads.add((key, _reader()))
        return super().__getitem__(key)
    def __contains__(self, key):
        reads.add((key, _reader()))
        return super().__contains__(key)
os.environ.__class__ = Recording
import django
django.setup()
runpy.run_path("gunicorn.conf.py")
print("RESULT:" + json.dumps(sorted(reads)))
"""


def env_reads(env: dict[str, str], timeout: float = 120) -> dict[str, set[str]]:
    """Which environment variables the app reads at start under `env` (settings and gunicorn.conf.py),
    each with the files (relative to the repository) that read it. Observed, not parsed from the source."""
    proc = subprocess.run(
        [PYTHON, "-c", _RECORD_ENV_READS], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT:"))
    found: dict[str, set[str]] = {}
    for name, where in json.loads(line.removeprefix("RESULT:")):
        found.setdefault(name, set()).add(where)
    return found
