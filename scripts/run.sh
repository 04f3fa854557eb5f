#!/usr/bin/env bash
# Installs everything, then runs the app: Redis, the Celery worker and beat, and the web
# server, with the database migrated and the seed deck and challenges loaded.
# Ctrl-C stops them all. Logs: var/log/. Mail sent in development: var/mail/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

bash scripts/install.sh

host=${HOST:-127.0.0.1}
port=${PORT:-8000}
redis_port=${REDIS_PORT:-6379}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$redis_port/0}
# DEBUG off unless DEBUG=1, SITE_URL, ALLOWED_HOSTS, and one random SECRET_KEY for web, worker
# and beat (a token the worker signs, the web checks), kept in var/secret-key from the first run
# on, like the admin's password (scripts/services.sh).
app_environment "$host" "$port" var
# var/media: the imported cards' images (MEDIA_ROOT, served by gunicorn at /media/cards/); var/uploads: packages
# uploaded in the admin until the worker has imported them (ANKI_UPLOAD_DIR). Web and worker share both.
mkdir -p var/log var/mail var/media/cards var/uploads/anki

start_redis "$redis_port" var/redis

py=.venv/bin/python
$py manage.py migrate --noinput -v0
$py manage.py collectstatic --noinput -v0
$py manage.py load_seed --no-update   # authors' admin edits survive a restart
$py manage.py load_challenges --no-update
$py manage.py ensure_admin --password-file var/admin-password

pids=()
stopping=0
stop() {
  trap - INT TERM EXIT
  stopping=1
  echo
  echo "Stopping web, worker, beat and the Redis this run started..."
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  # Only the Redis this run started: one that was already answering belongs to someone else.
  if [ "$REDIS_STARTED" = 1 ]; then
    redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  fi
}
trap stop INT TERM EXIT

.venv/bin/celery -A studyapp worker -Q sandbox,default --concurrency 2 -n "worker@%h" \
  --loglevel INFO >var/log/worker.log 2>&1 &
pids+=($!)
.venv/bin/celery -A studyapp beat --loglevel INFO --pidfile= >var/log/beat.log 2>&1 &
pids+=($!)
.venv/bin/gunicorn studyapp.wsgi --config gunicorn.conf.py --bind "$host:$port" \
  >var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  curl -fsS -o /dev/null "http://$host:$port/accounts/login/" 2>/dev/null && break
  sleep 0.2
done

cat <<MSG

  The study app is running:  http://$host:$port/
  Sign up there, or log in to the admin at http://$host:$port/admin/
  as "admin" with the password in var/admin-password.
  Signing key: var/secret-key (random, made on the first run; keep it private).
  Logs: var/log/{web,worker,beat}.log   Mail: var/mail/   Card images: var/media/   Stop: Ctrl-C

MSG
wait -n "${pids[@]}" || true
if [ "$stopping" = 0 ]; then
  echo "A service stopped on its own; see var/log/." >&2
  exit 1
fi
