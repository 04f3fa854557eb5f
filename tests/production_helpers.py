"""Helpers for the production and security tests: run code under production settings in a subprocess.

Production settings are decided at import time (STUDYAPP_ENV), so the only honest way to
test them is a fresh interpreter with the environment a deployment would give it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

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
