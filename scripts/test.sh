#!/usr/bin/env bash
# Installs what the tests need, starts their services, then runs the linters and every test:
# first on SQLite, then (what uses the database) on PostgreSQL. Extra arguments go to pytest (e.g. -k sm2).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

bash scripts/install.sh --dev

# A private Redis for the tests, apart from any the app uses.
start_redis 6390 var/test-redis
export REDIS_URL=redis://127.0.0.1:6390/0
# Every test must run in both passes: a skipped test (a missing service or tool) fails the run.
export STUDYAPP_TEST_REQUIRE_ALL=1

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "==> import contracts"
.venv/bin/lint-imports

# The app serves collected static files (whitenoise), as run.sh and the Dockerfile set up.
.venv/bin/python manage.py collectstatic --noinput -v0

echo "==> pytest on SQLite"
unset DATABASE_URL
.venv/bin/pytest "$@"

# The sandbox, the graders and the pure SM-2 module never touch the database: their
# tests ran above and are not run twice.
echo "==> pytest on PostgreSQL (every test that uses the database)"
pg_url=$(start_postgres)
DATABASE_URL=$pg_url .venv/bin/pytest \
  --ignore=tests/sandbox --ignore=tests/grading \
  --ignore=tests/review/test_sm2.py "$@"
