# syntax=docker/dockerfile:1
# The study app's images, from one file:
#   docker build --target web    -t studyapp-web .     gunicorn (and beat), runs as uid 10001
#   docker build --target worker -t studyapp-worker .  Celery worker with bubblewrap for the sandbox
# docker-compose.yml builds both. With podman add --format docker: its default (OCI) format drops
# HEALTHCHECK. deploy/podman-compose-up.sh --build does that; see docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: the venv and the collected static files; nothing of this stage ships but its output.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
# Every pinned package ships a wheel (psycopg[binary] included), so no compiler is needed.
RUN /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} + \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib >/dev/null
WORKDIR /app
COPY . /app
# Hashed, compressed static files for whitenoise. The key only lets settings load for this
# one command: it is random, never written to a layer, and the real one comes at run time.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    STUDYAPP_ENV=production ALLOWED_HOSTS=build.invalid \
    /opt/venv/bin/python manage.py collectstatic --noinput -v0 \
    && /opt/venv/bin/python -m compileall -q cards studyapp >/dev/null

# ---- web: gunicorn serving Django and its static files, as an unprivileged user.
FROM ${PYTHON_IMAGE} AS web
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=studyapp.settings \
    STUDYAPP_ENV=production \
    MEDIA_ROOT=/data/media \
    ANKI_UPLOAD_DIR=/data/uploads
# /data: the one writable place, for the compose `media` volume (a new named volume starts as a copy of this,
# owners included): media/cards/ the imported cards' images (served by the app), uploads/ the packages
# uploaded in the admin until the worker has imported them (private: never served).
RUN groupadd --system --gid 10001 studyapp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin studyapp \
    && mkdir -p /data/media/cards /data/uploads \
    && chown -R studyapp:studyapp /data && chmod 0750 /data/uploads
COPY --from=build /opt/venv /opt/venv
# Code owned by root and read-only to the app user: a compromised web process cannot rewrite it.
COPY --from=build /app /app
WORKDIR /app
USER studyapp:studyapp
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; r = u.urlopen(u.Request('http://127.0.0.1:8000/healthz?require=database', headers={'Host': 'localhost'}), timeout=4); sys.exit(r.status != 200)"]
CMD ["gunicorn", "--config", "gunicorn.conf.py", "studyapp.wsgi"]

# ---- worker: the Celery worker that grades submissions in the sandbox.
# It starts as root because the sandbox needs it: it creates network namespaces for the
# graders' fixture servers and drops each run to a dedicated unprivileged uid under
# bubblewrap (see docs/sandbox.md). Learners' code never runs as root. The container still
# needs the namespace rights listed in docker-compose.yml (and docs/deployment.md).
FROM web AS worker
USER root
# The install script builds sandbox-exec from /app/cards/sandbox; the compiler goes once it has.
# tini reaps: each sandboxed run leaves bubblewrap's pid-1 process to be reaped by whoever is pid 1
# (its parent, the outer bubblewrap, is gone by then). Celery does not reap strangers: with it as
# pid 1 the gradings left zombies, which the container's pids limit (podman: 2048) would end with.
RUN bash /app/scripts/install_sandbox.sh \
    && apt-get update -qq && apt-get install -y -qq --no-install-recommends tini >/dev/null \
    && apt-get purge -y -qq gcc libc6-dev && apt-get autoremove -y -qq \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY deploy/worker-entrypoint.sh /usr/local/bin/worker-entrypoint
# -s: it reaps as a subreaper too where it is not pid 1 (an engine's own init, `init: true`).
ENTRYPOINT ["/usr/bin/tini", "-s", "--", "/usr/local/bin/worker-entrypoint"]
HEALTHCHECK --interval=60s --timeout=20s --start-period=30s --retries=3 \
    CMD celery -A studyapp inspect ping --timeout 10 --destination "worker@$(hostname)" || exit 1
CMD ["celery", "-A", "studyapp", "worker", "--queues", "sandbox,default", "--hostname", "worker@%h", \
     "--concurrency", "2", "--prefetch-multiplier", "1", "--optimization", "fair", \
     "--max-tasks-per-child", "200", "--loglevel", "INFO"]
