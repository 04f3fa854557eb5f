#!/usr/bin/env bash
# Helpers to start the local services the app and its tests use; sourced by run.sh and test.sh.

# start_redis PORT DIR: a private redis-server on 127.0.0.1:PORT, data in DIR; no-op if one answers.
# Sets REDIS_STARTED=1 when it started one (so the caller knows it may stop it), 0 otherwise.
start_redis() {
  local port=$1 dir=$2
  REDIS_STARTED=0
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)  # redis-server changes into --dir before opening the other files
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    return 0
  fi
  REDIS_STARTED=1
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" --appendonly no >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis-server did not start on port $port; see $dir/redis.log" >&2
  return 1
}

# load_secret_key FILE: exports SECRET_KEY, the environment's if set, else the one kept in FILE,
# which the first run creates (random, mode 600; never in the repository). Every process started
# after this (web, worker, beat, manage.py) signs and checks with that one key.
load_secret_key() {
  local file=$1 tmp
  if [ -z "${SECRET_KEY:-}" ]; then
    if [ ! -e "$file" ]; then
      mkdir -p "$(dirname "$file")"
      tmp=$(mktemp "$file.XXXXXX")  # mode 600
      printf '%s\n' "$(head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_')" >"$tmp"
      ln "$tmp" "$file" 2>/dev/null || true  # atomic: if another run made one first, keep theirs
      rm -f "$tmp"
    fi
    SECRET_KEY=$(<"$file")
    if [ "${#SECRET_KEY}" -lt 50 ]; then
      echo "$file holds no usable key (under 50 characters): delete it to get a new one." >&2
      return 1
    fi
  fi
  export SECRET_KEY
}

# app_environment HOST PORT VARDIR: the environment run.sh gives web, worker, beat and manage.py
# (the tests start the app with it too): DEBUG off unless asked for (DEBUG=1; its pages list every
# URL and setting), the hosts it answers to, SITE_URL for links in mail, and one signing key.
app_environment() {
  local host=$1 port=$2 var=$3
  export SITE_URL=${SITE_URL:-http://$host:$port}
  export DEBUG=${DEBUG:-0}
  export ALLOWED_HOSTS=${ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],$host}
  load_secret_key "$var/secret-key"
}

# start_postgres: Debian's cluster, with a role and database for the tests; prints the URL
# (and nothing else on stdout: callers capture it).
start_postgres() {
  _start_postgres_cluster >&2
  echo "postgres://studyapp:studyapp@127.0.0.1:5432/studyapp"
}

_start_postgres_cluster() {
  local version
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | grep -q "^$version main"; then
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster "$version" main start 2>/dev/null || true
  for _ in $(seq 50); do
    pg_isready -q -h 127.0.0.1 && break
    sleep 0.2
  done
  su postgres -c "psql -q -tc \"SELECT 1 FROM pg_roles WHERE rolname='studyapp'\"" | grep -q 1 ||
    su postgres -c "psql -q -c \"CREATE ROLE studyapp LOGIN CREATEDB PASSWORD 'studyapp'\""
  su postgres -c "psql -q -tc \"SELECT 1 FROM pg_database WHERE datname='studyapp'\"" | grep -q 1 ||
    su postgres -c "psql -q -c \"CREATE DATABASE studyapp OWNER studyapp\""
}
