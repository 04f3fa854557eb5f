"""Settings, read from the environment with development defaults.

`STUDYAPP_ENV=production` switches on the production mode: it refuses to start
without a real SECRET_KEY and ALLOWED_HOSTS, and turns on every protection that
`manage.py check --deploy` asks for.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


PRODUCTION = env("STUDYAPP_ENV", "development") == "production"
# Off unless asked for (DEBUG=1), in every mode: a debug page lists every URL and setting.
DEBUG = env_bool("DEBUG", False)


def _local_secret_key(path: Path) -> str:
    """Development's key: the one in var/secret-key (run.sh's), made on first use, random, never in the repository.

    Every process of one checkout (web, worker, beat, `manage.py send_reminders`) reads the same
    file, so a token one signs another accepts. Created by a hard link from a private temporary
    file, so two processes starting at once agree on one key.
    """
    import secrets

    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(64) + "\n")
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process made it first: use theirs
            finally:
                temporary.unlink()
        key = path.read_text().strip()
    except OSError as error:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {path} could not be read or created ({error.strerror}). "
            "Set SECRET_KEY (50+ random characters) or SECRET_KEY_FILE."
        ) from None
    if len(key) < 50:
        raise ImproperlyConfigured(f"{path} holds no usable key (under 50 characters): delete it to get a new one.")
    return key


# No key is ever in the repository. Production needs SECRET_KEY; development without it uses
# var/secret-key (or SECRET_KEY_FILE), the one run.sh creates and gives web, worker and beat.
SECRET_KEY = env("SECRET_KEY") or (
    "" if PRODUCTION else _local_secret_key(Path(env("SECRET_KEY_FILE", str(BASE_DIR / "var" / "secret-key"))))
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

if PRODUCTION:
    _missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("ALLOWED_HOSTS", ALLOWED_HOSTS)) if not value]
    if _missing:
        raise ImproperlyConfigured(f"STUDYAPP_ENV=production needs {', '.join(_missing)} set in the environment.")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("SECRET_KEY must be a random string of at least 50 characters in production.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "import_export",
    "django_celery_beat",
    # One app per domain (docs/contributing.md): content, then the apps built on it.
    "cards",
    "cards.accounts",
    "cards.review",
    "cards.challenges",
    "cards.reminders",
    "cards.stats",
    "cards.anki",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "studyapp.middleware.SecurityHeadersMiddleware",
    # Above whitenoise, which answers static files itself: they get X-Frame-Options too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "studyapp.middleware.RequestLogContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Blank error responses (a 405 from require_POST, a bare 429) get the app's page; inside CSRF and auth.
    "studyapp.middleware.ErrorPageMiddleware",
    "cards.accounts.login_throttle.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "studyapp.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "studyapp.urls"
WSGI_APPLICATION = "studyapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Shared by every app's templates; the project package is not an app, so it is named here.
            "libraries": {"markdown_tags": "studyapp.templatetags.markdown_tags"},
        },
    },
]

# SQLite in the project by default; PostgreSQL (or anything dj-database-url reads) via DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
DB_SERVER_SIDE_BINDING = env_bool("DB_SERVER_SIDE_BINDING", True)  # PostgreSQL only; 0 behind PgBouncer
DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", 5)  # PostgreSQL with server-side binding only
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the busy timeout makes
    # a writer wait for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_SERVER_SIDE_BINDING:
    # Parameters bound by the server, and psycopg prepares a statement it has run 5 times on a
    # connection (kept DB_CONN_MAX_AGE seconds): the review step's queries skip planning. Django
    # turns psycopg's preparing off unless prepare_threshold is given; planning was most of the
    # database's time in a review step (the day query: 1.3 ms planned, 0.9 ms run; bench/load.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=DB_PREPARE_THRESHOLD
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded and imported files. MEDIA_ROOT/cards/ holds the images of imported Anki packages, by content
# (cards/anki/media.py), served at MEDIA_URL by the app itself (DEBUG on or off). ANKI_UPLOAD_DIR holds the
# packages uploaded in the admin until the worker has imported them: private, never served, shared by the web
# and the worker (compose: the `media` volume). Both are written by the processes that import.
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
ANKI_UPLOAD_DIR = Path(env("ANKI_UPLOAD_DIR", str(BASE_DIR / "var" / "uploads" / "anki")))
# The largest package the admin accepts, in MiB; an import's soft time limit on the worker, in seconds.
ANKI_UPLOAD_MAX_MB = env_int("ANKI_UPLOAD_MAX_MB", 512)
ANKI_IMPORT_SOFT_SECONDS = env_int("ANKI_IMPORT_SOFT_SECONDS", 1800)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Redis: Celery's broker and the cache (rate limits, worker heartbeats).
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", REDIS_URL),
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"cards.tasks.grade_submission": {"queue": "sandbox"}}
# A grading task is acknowledged only when it finishes, and one prefetched at a time,
# so a worker that dies mid-run leaves its task for the next worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300),
    # kombu scans for unacknowledged tasks of dead workers every 10 s but, by default, acts on only
    # every 10th scan, and its start-up scan counts as the first: a worker started right after
    # another died would leave the orphan for 100 s. Act on every scan (one ZRANGE per 10 s).
    "unacked_restore_throttle": 1,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Grading on the worker (cards/challenges/tasks.py), in seconds. A grading task gets a soft time limit (then the
# verdict is "error: took too long") and a hard one 30 s later; a worker holds a lease on the submission
# in Redis, renewed every third of it, and beat re-queues gradings whose lease lapsed or that sat queued.
CHALLENGE_GRADING_SOFT_SECONDS = env_int("CHALLENGE_GRADING_SOFT_SECONDS", 120)
CHALLENGE_GRADING_LEASE_SECONDS = env_int("CHALLENGE_GRADING_LEASE_SECONDS", 30)
CHALLENGE_QUEUED_STALE_SECONDS = env_int("CHALLENGE_QUEUED_STALE_SECONDS", 600)
# Author checks: the admin's "Grade reference and starter" runs on a worker, on the sandbox queue, never
# in the web process (cards.tasks.run_challenge_check). One still running after AUTHOR_CHECK_STALE_SECONDS
# (default: the grading hard time limit + 30 s) or still queued after AUTHOR_CHECK_QUEUED_STALE_SECONDS
# is ended as "error" by beat.
CELERY_TASK_ROUTES["cards.tasks.run_challenge_check"] = {"queue": "sandbox"}
AUTHOR_CHECK_STALE_SECONDS = env_int("AUTHOR_CHECK_STALE_SECONDS", CHALLENGE_GRADING_SOFT_SECONDS + 60)
AUTHOR_CHECK_QUEUED_STALE_SECONDS = env_int("AUTHOR_CHECK_QUEUED_STALE_SECONDS", CHALLENGE_QUEUED_STALE_SECONDS)

# Reminder emails (cards/reminders/sending.py, docs/reminders.md): a run's claims time out after
# REMINDERS_CLAIM_TIMEOUT_SECONDS, it records what it sent in at most REMINDERS_MARKS_PER_RUN UPDATEs,
# an email teases REMINDERS_TEASER_COUNT questions, a learner gets at most one per REMINDERS_MIN_GAP_HOURS,
# their pace (time per answer, for the email's estimate) comes from REMINDERS_PACE_HISTORY_DAYS of answers,
# and an unsubscribe link is valid for REMINDERS_UNSUBSCRIBE_MAX_AGE_DAYS.
REMINDERS_CLAIM_TIMEOUT_SECONDS = env_int("REMINDERS_CLAIM_TIMEOUT_SECONDS", 900)
REMINDERS_MARKS_PER_RUN = max(1, env_int("REMINDERS_MARKS_PER_RUN", 20))
REMINDERS_TEASER_COUNT = env_int("REMINDERS_TEASER_COUNT", 3)
REMINDERS_MIN_GAP_HOURS = env_int("REMINDERS_MIN_GAP_HOURS", 6)
REMINDERS_PACE_HISTORY_DAYS = env_int("REMINDERS_PACE_HISTORY_DAYS", 30)
REMINDERS_UNSUBSCRIBE_MAX_AGE_DAYS = env_int("REMINDERS_UNSUBSCRIBE_MAX_AGE_DAYS", 60)

# Mail: console in development, SMTP (or anything) via EMAIL_* in production.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Study app <noreply@localhost>")
# Absolute links in emails (reminders, unsubscribe) start with this.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# The sandbox that runs learners' code (cards/sandbox/, docs/sandbox.md), passed to it at start
# (cards.challenges.apps). Where scripts/install_sandbox.sh put it, the uids its runs use, where a run claims its uid,
# the cgroup (v2) its runs' groups go under ("": the worker's own; deploy/worker-entrypoint.sh sets it in
# the image).
SANDBOX_ROOT = env("SANDBOX_ROOT", "/opt/studyapp-sandbox")
SANDBOX_UID_BASE = env_int("SANDBOX_UID_BASE", 61000)
SANDBOX_UID_COUNT = env_int("SANDBOX_UID_COUNT", 32)
SANDBOX_LOCK_DIR = env("SANDBOX_LOCK_DIR", "/run/studyapp-sandbox")
SANDBOX_CGROUP_PARENT = env("SANDBOX_CGROUP_PARENT", "")
# A run's default limits; each grader tightens them for its challenge.
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 256)
SANDBOX_CPU_SECONDS = env_int("SANDBOX_CPU_SECONDS", 5)
SANDBOX_WALL_SECONDS = env_int("SANDBOX_WALL_SECONDS", 10)
SANDBOX_OUTPUT_BYTES = env_int("SANDBOX_OUTPUT_BYTES", 1024 * 1024)
SANDBOX_TMP_MB = env_int("SANDBOX_TMP_MB", 16)

# Sent on every response that has none (studyapp.middleware.SecurityHeadersMiddleware). Only the app's own
# origin: no inline script or style, no eval, no framing, forms post only to us.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Log-in, password-reset and sign-up limits.
# Failed log-ins allowed per window, per IP + username and per IP (cards/accounts/login_throttle.py).
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 30)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300)
# Password-reset emails per window, asked for by one client and sent to one address (cards/accounts/views.py).
PASSWORD_RESETS_PER_CLIENT = env_int("PASSWORD_RESETS_PER_CLIENT", 5)
PASSWORD_RESETS_PER_EMAIL = env_int("PASSWORD_RESETS_PER_EMAIL", 3)
PASSWORD_RESET_WINDOW = env_int("PASSWORD_RESET_WINDOW", 3600)

# Accounts created from one client address per window (cards/accounts/views.py).
SIGNUPS_PER_CLIENT = env_int("SIGNUPS_PER_CLIENT", 5)
SIGNUP_WINDOW = env_int("SIGNUP_WINDOW", 3600)
# Gradings one learner may have queued or running at once; one more is refused (cards/challenges/submissions.py).
CHALLENGE_IN_FLIGHT_PER_USER = env_int("CHALLENGE_IN_FLIGHT_PER_USER", 3)
# Back-pressure: with this many gradings queued in all, new submissions get 429 and Retry-After.
CHALLENGE_QUEUE_MAX = env_int("CHALLENGE_QUEUE_MAX", 200)
CHALLENGE_QUEUE_RETRY_AFTER = env_int("CHALLENGE_QUEUE_RETRY_AFTER", 30)
# A per-user safety net on the rate of new rows, far above what a person types.
CHALLENGE_SUBMISSIONS_PER_MINUTE = env_int("CHALLENGE_SUBMISSIONS_PER_MINUTE", 30)

# Reverse proxies in front of gunicorn that append to X-Forwarded-For (0: use REMOTE_ADDR).
NUM_PROXIES = env_int("NUM_PROXIES", 0)
# Workers write a heartbeat every WORKER_HEARTBEAT_INTERVAL s; /healthz wants one younger than MAX_AGE.
WORKER_HEARTBEAT_INTERVAL = env_int("WORKER_HEARTBEAT_INTERVAL", 10)
WORKER_HEARTBEAT_MAX_AGE = env_int("WORKER_HEARTBEAT_MAX_AGE", 60)
# The health probe answers over plain HTTP inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Logs: one JSON object per line in production (LOG_FORMAT=json), key=value in development;
# both carry the bound ids (request_id, submission_id, task_id) from studyapp/logs.py.
LOG_FORMAT = env("LOG_FORMAT", "json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "studyapp.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "studyapp.logs.JsonFormatter"},
        "plain": {"()": "studyapp.logs.KeyValueFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
