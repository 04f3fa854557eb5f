"""gunicorn settings for the web process: `gunicorn -c gunicorn.conf.py studyapp.wsgi`.

Every value can be overridden from the environment, so the same file serves the
Docker image, scripts/run.sh and bench/load.py.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")  # noqa: S104 (inside a container, behind a proxy)
# Sync workers: a review request is a few short queries; 2 x cores + 1 keeps the CPUs busy while one waits.
workers = _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycle workers now and then so a slow leak never becomes an outage; jitter avoids all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Docker's /tmp may be disk-backed; the workers' heartbeat files belong in memory.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 (gunicorn's documented advice)
# No control socket (gunicorn 25.1+, for `gunicornc`): nothing here uses it, and its default path,
# $HOME/.gunicorn, is not writable in the image (HOME is the read-only /app), so it logged an error at start.
control_socket_disable = True
# Trust X-Forwarded-* only from the proxy in front of us.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The request id set by studyapp.middleware ties an access line to the app's log lines.
# No query string: %(U)s is the path alone, so a token in a URL never reaches the log.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
