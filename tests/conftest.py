"""What every test gets, and what a test needs from the machine.

Markers (pyproject.toml) name what a test needs beyond Python and SQLite:

    sandbox   root, bubblewrap and the sandbox installed at SANDBOX_ROOT (/opt/studyapp-sandbox)
    redis     a Redis at REDIS_URL (the Django cache, the rate limits, Celery's broker)
    postgres  the test database on PostgreSQL (DATABASE_URL=postgres://...)
    chromium  /usr/bin/chromium and Playwright

A test whose need is missing is skipped, the reason naming what is missing and the command that
provides it. With STUDYAPP_TEST_REQUIRE_ALL=1 (scripts/test.sh sets it) every skip is a failure
instead, so CI cannot pass without running everything. scripts/test.sh runs the suite twice, on
SQLite then on PostgreSQL: in its SQLite run the `postgres` tests are left out (deselected, not
skipped), since its PostgreSQL run is where they run.

Autouse: fast password hashing for every test, and a flushed Redis database (REDIS_URL's, never
another) before each test that uses it. Fixtures to ask for: `page` (a Chromium page on the live
server; override `browser_context_options` for a phone, no JavaScript, a time zone...) and
`async_unsafe_orm` (the ORM callable from a test while Playwright's event loop runs).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_ALL = os.environ.get("STUDYAPP_TEST_REQUIRE_ALL") == "1"
CHROMIUM = "/usr/bin/chromium"  # tests/browser.py launches this one (not imported here: it needs Playwright)
# Fixtures of tests that go through the app's views, where the log-in, sign-up, reset and
# submission rate limits count in Redis: those tests start from a flushed database too.
VIEW_FIXTURES = frozenset({"client", "admin_client", "async_client", "live_server"})


def _masked(url: str) -> str:
    return re.sub(r"://[^/@]*@", "://***@", url)


# ---- what a marker needs, and how to get it ---------------------------------------------------


def sandbox_problem() -> str | None:
    from django.conf import settings

    root = Path(settings.SANDBOX_ROOT)
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    if not shutil.which("bwrap"):
        missing.append("bubblewrap (bwrap)")
    if not (root / "venv" / "bin" / "python").exists():
        missing.append(f"the sandbox installed at {root}")
    if not missing:
        return None
    return (
        f"needs {', '.join(missing)}: install them with `sudo bash scripts/install.sh` (bubblewrap, then "
        "scripts/install_sandbox.sh for the sandbox) and run the tests as root"
    )


@functools.cache
def redis_problem() -> str | None:
    how = (
        "start one with `source scripts/services.sh && start_redis 6390 var/test-redis` and set "
        "REDIS_URL=redis://127.0.0.1:6390/0 (scripts/test.sh does both)"
    )
    url = os.environ.get("REDIS_URL")
    if not url:
        return f"needs a Redis for the tests at REDIS_URL, which is not set: {how}"
    import redis
    from django.conf import settings

    if settings.CACHES["default"]["LOCATION"] != url:
        return f"needs the Django cache on REDIS_URL ({_masked(url)}), but CACHE_URL points elsewhere: unset CACHE_URL"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"needs Redis at {_masked(url)} ({type(exc).__name__}): {how}"
    return None


def on_postgres() -> bool:
    from django.conf import settings

    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def postgres_problem() -> str | None:
    if on_postgres():
        return None
    return (
        "needs the test database on PostgreSQL (DATABASE_URL is not a postgres:// URL): run "
        "`DATABASE_URL=$(bash -c 'source scripts/services.sh && start_postgres') .venv/bin/pytest ...`, "
        "as scripts/test.sh's second run does"
    )


def chromium_problem() -> str | None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(CHROMIUM)
    if importlib.util.find_spec("playwright") is None:
        missing.append("Playwright")
    if not missing:
        return None
    return f"needs {' and '.join(missing)}: install them with `sudo bash scripts/install.sh --dev`"


REQUIREMENTS: dict[str, Callable[[], str | None]] = {
    "sandbox": sandbox_problem,
    "redis": redis_problem,
    "postgres": postgres_problem,
    "chromium": chromium_problem,
}


# ---- skipping, and failing instead under STUDYAPP_TEST_REQUIRE_ALL=1 --------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under STUDYAPP_TEST_REQUIRE_ALL=1 on SQLite, the `postgres` tests wait for the PostgreSQL run."""
    if not REQUIRE_ALL or on_postgres():
        return
    later = [item for item in items if item.get_closest_marker("postgres")]
    if later:
        config.hook.pytest_deselected(items=later)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (before any fixture is set up) a test whose marked need is missing."""
    for marker, problem in REQUIREMENTS.items():
        if item.get_closest_marker(marker) and (reason := problem()):
            # A developer without the need gets a fast subset and the reason; under STUDYAPP_TEST_REQUIRE_ALL=1
            # (CI, scripts/test.sh) this skip is turned into a failure (tests/studyapp/test_conftest_requirements.py).
            pytest.skip(f"[{marker}] {reason}")


def _fail_instead_of_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if not (REQUIRE_ALL and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped, and STUDYAPP_TEST_REQUIRE_ALL=1 makes every skip a failure: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    _fail_instead_of_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    _fail_instead_of_skip(outcome.get_result())


# ---- what every test gets -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_password_hashers(settings) -> None:
    """MD5 instead of PBKDF2: a user with a password costs ~0.5 s less. Tests only."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _flushed_redis(request: pytest.FixtureRequest) -> None:
    """Flush REDIS_URL's database (and only that one) before a test marked `redis` or using the views.

    Rate-limit counters, worker heartbeats and leases left by an earlier test are gone, so no test
    resets keys by hand. Without a Redis, tests that are not marked `redis` run anyway: the app's
    rate limits fail open.
    """
    marked = request.node.get_closest_marker("redis") is not None
    if not (marked or VIEW_FIXTURES & set(request.fixturenames)) or redis_problem():
        return
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


# ---- fixtures to ask for --------------------------------------------------------------------------


@pytest.fixture
def async_unsafe_orm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the test call the ORM while Playwright's sync API runs an event loop in the test's thread.

    Only for the browser tests that need it; never set for the whole run.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser_context_options() -> dict[str, Any]:
    """Options of the `page` fixture's browser context; override in a module (e.g. a viewport)."""
    return {}


@pytest.fixture
def page(live_server, async_unsafe_orm, browser_context_options: dict[str, Any]) -> Iterator[Any]:
    """A Chromium page on the live server (relative URLs work); the test fails on any uncaught JS error."""
    from tests.browser import browser_page

    with browser_page(live_server.url, **browser_context_options) as (page, errors):
        yield page
        assert errors == [], f"JavaScript errors: {errors}"
