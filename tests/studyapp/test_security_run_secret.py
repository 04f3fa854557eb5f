"""The app as scripts/run.sh starts it signs with a key of its own, never one from the repository.

run.sh sets its processes' environment with `app_environment` (scripts/services.sh): DEBUG off,
and one random SECRET_KEY made on the first run and kept in var/secret-key. These tests build
that environment the same way (in a throwaway var/), start gunicorn with run.sh's configuration
and sign an unsubscribe token in a separate `manage.py shell`, as the worker does in its own
process when it sends a reminder.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core import signing

from cards.reminders.message import UNSUBSCRIBE_SALT
from tests.challenges_stack import free_port
from tests.production_helpers import REPO, run_django, run_manage

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
# The key settings.py used to fall back to, which anyone could read (assembled so no file holds it).
OLD_DEVELOPMENT_KEY = "dev-only-insecure-key-" + "do-not-use-in-production"


def run_sh_environment(var: Path, port: int, **extra: str) -> dict[str, str]:
    """What run.sh exports to web, worker and beat, from the same shell function, with var/ in `var`."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "STUDYAPP_"))}
    for name in ("SECRET_KEY", "SECRET_KEY_FILE", "DEBUG", "ALLOWED_HOSTS", "SITE_URL"):
        base.pop(name, None)
    base.update(extra)
    proc = subprocess.run(
        ["bash", "-c", 'set -euo pipefail; source scripts/services.sh; app_environment 127.0.0.1 "$1" "$2"; env -0',
         "run-env", str(port), str(var)],
        cwd=REPO, env=base, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    env = dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)
    env.update(DJANGO_SETTINGS_MODULE="studyapp.settings", PYTHONPATH=str(REPO))
    return env


def tracked_files_containing(text: str) -> list[str]:
    found = subprocess.run(["git", "grep", "-l", "-F", text], cwd=REPO, capture_output=True, text=True)
    return found.stdout.split()


def test_run_sh_sets_the_environment_before_it_starts_anything() -> None:
    run_sh = (REPO / "scripts/run.sh").read_text()
    setup = run_sh.index('app_environment "$host" "$port" var')
    for command in ("manage.py migrate", "celery -A studyapp worker", "celery -A studyapp beat", "gunicorn studyapp"):
        assert setup < run_sh.index(command), command
    code = "\n".join(line for line in run_sh.splitlines() if not line.lstrip().startswith("#"))
    assert "SECRET_KEY=" not in code and "DEBUG=1" not in code and "DEBUG=true" not in code.lower()


def test_the_first_run_makes_a_private_random_key_and_later_runs_keep_it(tmp_path: Path) -> None:
    first = run_sh_environment(tmp_path / "one" / "var", 8000)
    again = run_sh_environment(tmp_path / "one" / "var", 8000)
    other = run_sh_environment(tmp_path / "two" / "var", 8000)
    key_file = tmp_path / "one" / "var" / "secret-key"
    assert first["SECRET_KEY"] == again["SECRET_KEY"] == key_file.read_text().strip()
    assert other["SECRET_KEY"] != first["SECRET_KEY"]  # random per installation
    assert len(first["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first["DEBUG"] == "0"
    assert {"127.0.0.1", "localhost"} <= set(first["ALLOWED_HOSTS"].split(","))
    # A key given in the environment wins, and no file is made for it.
    given = run_sh_environment(tmp_path / "three" / "var", 8000, SECRET_KEY="k" * 60)
    assert given["SECRET_KEY"] == "k" * 60 and not (tmp_path / "three" / "var" / "secret-key").exists()


def test_development_without_secret_key_uses_the_local_key_file_never_one_from_the_repository(tmp_path: Path) -> None:
    env = run_sh_environment(tmp_path / "var", 8000)
    del env["SECRET_KEY"]
    env["SECRET_KEY_FILE"] = str(tmp_path / "var" / "secret-key")  # the file run.sh made
    show = "from django.conf import settings; print(settings.SECRET_KEY, settings.DEBUG)"
    key, debug = run_manage(env, "shell", "-v", "0", "-c", show).stdout.split()
    assert key == (tmp_path / "var" / "secret-key").read_text().strip() and debug == "False"
    # With neither, development makes the file itself, private, and every later process reads it.
    env["SECRET_KEY_FILE"] = str(tmp_path / "fresh" / "secret-key")
    first = run_manage(env, "shell", "-v", "0", "-c", show).stdout.split()[0]
    second = run_manage(env, "shell", "-v", "0", "-c", show).stdout.split()[0]
    assert first == second == (tmp_path / "fresh" / "secret-key").read_text().strip()
    assert stat.S_IMODE((tmp_path / "fresh" / "secret-key").stat().st_mode) == 0o600
    for used in (key, first):
        assert len(used) >= 50 and tracked_files_containing(used) == []
    # The old development key is gone from the repository, and no secret the settings end up with (the
    # key, its fallbacks, passwords), given none in the environment, is a literal from the repository.
    assert tracked_files_containing(OLD_DEVELOPMENT_KEY) == []
    loaded = run_django(
        env,
        "from django.conf import settings\n"
        "names = [n for n in dir(settings) if n.isupper() and ('SECRET' in n or n.endswith('_PASSWORD'))]\n"
        "result = {n: getattr(settings, n) for n in names}",
    )
    assert {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "EMAIL_HOST_PASSWORD"} <= set(loaded)
    values = [v for value in loaded.values() for v in (value if isinstance(value, list) else [value])]
    assert values and all(isinstance(value, str) for value in values), loaded
    for value in values:
        assert len(value) < 8 or tracked_files_containing(value) == [], f"{value[:4]}... is in the repository"


def test_a_key_file_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    env = run_sh_environment(tmp_path / "var", 8000)
    del env["SECRET_KEY"]
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env["SECRET_KEY_FILE"] = str(blocker / "secret-key")
    proc = run_manage(env, "check")
    assert proc.returncode != 0
    assert "SECRET_KEY is not set" in proc.stderr and "SECRET_KEY_FILE" in proc.stderr


@pytest.fixture
def app_as_run_sh_starts_it(tmp_path: Path):
    """Migrated database, gunicorn with run.sh's configuration and environment; yields (base URL, env)."""
    port = free_port()
    env = run_sh_environment(tmp_path / "var", port, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                             WEB_CONCURRENCY="2", GUNICORN_ACCESS_LOG="")  # fmt: skip
    migrated = run_manage(env, "migrate", "--noinput", "-v0")
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "web.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "studyapp.wsgi", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/accounts/login/", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base, env
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert env["SECRET_KEY"] not in log.read_text()


def test_an_unknown_url_gets_the_apps_own_404_and_no_url_list(app_as_run_sh_starts_it) -> None:
    base, _ = app_as_run_sh_starts_it
    for path in ("/no-such-page/", "/admin-but-not/really", "/static/nothing-here.css"):
        page = httpx.get(f"{base}{path}", timeout=5)
        assert page.status_code == 404, path
        assert '<h1 id="error-heading">Page not found</h1>' in page.text, path
        assert 'class="site-header"' in page.text and "/static/css/app.css" in page.text
        for leak in ("URLconf", "urlpatterns", "reminders/unsubscribe", "DEBUG = True", "Traceback"):
            assert leak not in page.text, (path, leak)
    # With DEBUG off, run.sh's way of serving static files (whitenoise, collected files) still works.
    css = httpx.get(f"{base}/static/css/app.css", timeout=5)
    assert css.status_code == 200 and "site-header" in css.text
    # localhost is served as well as 127.0.0.1; an unknown host is refused with the app's 400 page.
    assert httpx.get(f"{base}/accounts/login/", headers={"Host": "localhost"}, timeout=5).status_code == 200
    refused = httpx.get(f"{base}/accounts/login/", headers={"Host": "evil.example"}, timeout=5)
    assert refused.status_code == 400 and "could not be understood" in refused.text


def test_a_token_signed_in_a_worker_like_process_is_accepted_by_the_web(app_as_run_sh_starts_it) -> None:
    base, env = app_as_run_sh_starts_it
    # The worker's side: a separate interpreter with run.sh's environment signs, as a reminder email does.
    sign = (
        "from django.contrib.auth import get_user_model\n"
        "from django.conf import settings\n"
        "from cards.accounts.models import Profile\n"
        "from cards.reminders.message import unsubscribe_token\n"
        "user = get_user_model().objects.create_user('reminded', 'reminded@example.test', 'x')\n"
        "Profile.objects.update_or_create(user=user, defaults={'reminders_enabled': True})\n"
        "print(user.pk, unsubscribe_token(user.pk), settings.SECRET_KEY == __import__('os').environ['SECRET_KEY'])\n"
    )
    signed = run_manage(env, "shell", "-v", "0", "-c", sign)
    assert signed.returncode == 0, signed.stderr
    user_id, token, same_key = signed.stdout.split()
    assert same_key == "True"
    # A token signed with any other key (the repository's old one, a guess) is refused and changes nothing.
    for other_key in (OLD_DEVELOPMENT_KEY, secrets.token_urlsafe(64)):
        forged = signing.TimestampSigner(key=other_key, salt=UNSUBSCRIBE_SALT).sign(user_id)
        refused = httpx.post(f"{base}/reminders/unsubscribe/{forged}/", timeout=5)
        assert refused.status_code == 400, other_key
    assert _reminders_enabled(env, user_id) is True
    # The web's side: a different process (two gunicorn workers, neither the signer) accepts the real one.
    confirm = httpx.get(f"{base}/reminders/unsubscribe/{token}/", timeout=5)
    assert confirm.status_code == 200
    done = httpx.post(f"{base}/reminders/unsubscribe/{token}/", data={"List-Unsubscribe": "One-Click"}, timeout=5)
    assert done.status_code == 200
    assert _reminders_enabled(env, user_id) is False


def _reminders_enabled(env: dict[str, str], user_id: str) -> bool:
    code = f"from cards.accounts.models import Profile; print(Profile.objects.get(user_id={user_id}).reminders_enabled)"
    shown = run_manage(env, "shell", "-v", "0", "-c", code)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.strip() == "True"
