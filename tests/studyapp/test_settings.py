"""Production mode: `check --deploy` clean, refuses to start without real secrets, no secret in the
repository, in `check` output or in logs."""

from __future__ import annotations

import logging
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.challenges_stack import wait_for
from tests.factories import make_user
from tests.production_helpers import REPO, PrivateRedis, production_env, run_django, run_manage


def test_check_deploy_is_clean_in_production_mode(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    proc = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "System check identified no issues" in proc.stdout
    assert env["SECRET_KEY"] not in proc.stdout + proc.stderr


def test_development_mode_is_what_check_deploy_complains_about(tmp_path: Path) -> None:
    """The same check fails on development settings, so the clean result above means something."""
    env = production_env(tmp_path, STUDYAPP_ENV="development")
    proc = run_manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert proc.returncode != 0
    assert "security.W004" in proc.stderr + proc.stdout  # no HSTS


@pytest.mark.parametrize(
    ("missing", "override"),
    [
        ("SECRET_KEY", {"SECRET_KEY": ""}),
        ("ALLOWED_HOSTS", {"ALLOWED_HOSTS": ""}),
        ("50 characters", {"SECRET_KEY": "short-and-guessable"}),
    ],
)
def test_production_refuses_to_start_without_real_secrets(tmp_path: Path, missing: str, override: dict) -> None:
    proc = run_manage(production_env(tmp_path, **override), "check")
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and missing in proc.stderr


# Things that look like credentials. Local throwaway development values are allowed below.
SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "GitHub token": re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    "Slack token": re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),
    "hard-coded SECRET_KEY": re.compile(r"SECRET_KEY\s*[:=]\s*[\"'][^\"'$]{20,}[\"']"),
    # Placeholders ("password", "***") and loopback development URLs are not secrets.
    "password in a URL": re.compile(
        r"://[^/\s:@\"']+:(?!password@|\*\*\*@)[^/\s@\"'$]+@(?!127\.0\.0\.1|localhost)[\w.-]+"
    ),
}
# None: the repository holds no key that any mode uses (development makes var/secret-key).
ALLOWED_SNIPPETS: tuple[str, ...] = ()


def test_no_secret_is_committed() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert "studyapp/settings.py" in files
    assert not [name for name in files if Path(name).name in {".env", "id_rsa", "id_ed25519"}]
    found = []
    for name in files:
        path = REPO / name
        if not path.is_file() or path.suffix in {".png", ".jpg", ".gz", ".woff2", ".ico"}:
            continue
        text = path.read_text(errors="ignore")
        for label, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(text):
                line = text[text.rfind("\n", 0, match.start()) + 1 : text.find("\n", match.end())]
                if not any(snippet in line for snippet in ALLOWED_SNIPPETS):
                    found.append(f"{name}: {label}: {line.strip()[:120]}")
    assert found == []


def test_the_secret_pattern_scan_can_fail() -> None:
    # Assembled at run time, so this file does not trip the scan itself.
    sample = 'SECRET_KEY = "' + "9f8a7b6c5d4e3f2a" * 2 + '"\nurl = "postgres://app:' + 'hunter2@db.internal/app"'
    assert SECRET_PATTERNS["hard-coded SECRET_KEY"].search(sample)
    assert SECRET_PATTERNS["password in a URL"].search(sample)


@pytest.mark.django_db
def test_a_failed_log_in_logs_no_password(client: Client, caplog: pytest.LogCaptureFixture, settings) -> None:
    settings.LOGIN_FAILURE_WINDOW = 1_000_000  # all attempts in one fixed window
    user = make_user(username="careful-learner")
    secret = "my-very-own-secret-password-42"
    caplog.set_level(logging.DEBUG)
    for _ in range(8):  # past the throttle, so its warning is logged too
        client.post("/accounts/login/", {"username": user.username, "password": secret}, REMOTE_ADDR="10.9.8.7")
    handler = logging.StreamHandler()
    from studyapp.logs import JsonFormatter

    handler.setFormatter(JsonFormatter())
    text = "\n".join(handler.format(record) for record in caplog.records)
    assert "log-in throttled" in text
    assert secret not in text


HEALTH_PROBE = """
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/healthz")
result = {"status": response.status_code, "body": response.content.decode()}
"""


def test_a_redis_password_never_reaches_the_worker_log_or_the_health_probe(tmp_path: Path) -> None:
    password = secrets.token_hex(16)
    server = PrivateRedis(tmp_path / "redis", password=password)
    server.start()
    env = production_env(tmp_path, REDIS_URL=server.url, LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    log_path = tmp_path / "worker.log"
    try:
        with log_path.open("w") as log_file:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "studyapp", "worker", "--pool", "solo", "--queues",
                 f"test-{password[:6]}", "--hostname", f"secret-test-{password[:6]}@%h", "--loglevel", "INFO"],
                cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for(lambda: " ready." in log_path.read_text() or worker.poll() is not None, 60, "the worker")
            health = run_django(env, HEALTH_PROBE)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    finally:
        server.stop()
    text = log_path.read_text()
    assert "Connected to redis://:***@127.0.0.1" in text  # the broker URL is logged, masked
    assert password not in text
    assert health["status"] == 200  # this worker's heartbeat counts
    assert password not in health["body"]
