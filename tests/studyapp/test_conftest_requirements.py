"""The suite's own rules (tests/conftest.py), run on a sample test file in a fresh pytest.

A test whose need is missing is skipped with a reason naming the fix; with
STUDYAPP_TEST_REQUIRE_ALL=1 (scripts/test.sh) the same skip is a failure, so CI cannot pass
without running everything; and on SQLite the `postgres` tests wait for the PostgreSQL run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = """
import pytest


@pytest.mark.redis
def test_needs_redis():
    from django.core.cache import cache

    cache.set("k", 1)


@pytest.mark.postgres
def test_needs_postgres():
    from django.db import connection

    assert connection.vendor == "postgresql"


def test_needs_nothing():
    assert sum([1, 2]) == 3
"""


@pytest.fixture
def sample(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_sample=SAMPLE)
    pytester.makeini("[pytest]\nmarkers =\n    redis: needs Redis\n    postgres: needs PostgreSQL\n")
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "studyapp.settings")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.delenv("REDIS_URL", raising=False)  # no Redis: the need is missing
    monkeypatch.delenv("DATABASE_URL", raising=False)  # SQLite
    monkeypatch.delenv("STUDYAPP_TEST_REQUIRE_ALL", raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # whole reasons in the summary lines
    return pytester


def test_a_missing_need_is_a_skip_that_says_what_is_missing_and_how_to_get_it(sample: pytest.Pytester) -> None:
    result = sample.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*[[]redis[]] needs a Redis for the tests at REDIS_URL, which is not set*"])
    result.stdout.fnmatch_lines(["*[[]postgres[]] needs the test database on PostgreSQL*"])


def test_under_require_all_a_skip_fails_and_postgres_tests_wait_for_the_postgres_run(
    sample: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDYAPP_TEST_REQUIRE_ALL", "1")
    result = sample.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("deselected") == 1, outcomes
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 1 and "skipped" not in outcomes, outcomes
    result.stdout.fnmatch_lines(["*STUDYAPP_TEST_REQUIRE_ALL=1 makes every skip a failure*"])
