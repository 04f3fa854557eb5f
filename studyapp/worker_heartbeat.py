"""Worker heartbeats in Redis, so the web's /healthz can say whether a worker answered recently.

Each Celery worker writes `hostname -> unix time` into one Redis hash when it is
ready and then on Celery's own event heartbeat (every 2 s, written at most
every WORKER_HEARTBEAT_INTERVAL seconds), which stops when the worker loses its
broker connection or hangs. A clean shutdown removes the entry; a killed worker's
entry simply goes stale. Connected from studyapp/celery.py by importing this module.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery import signals
from django.conf import settings

logger = logging.getLogger(__name__)

HASH_KEY = "studyapp:worker-heartbeats"
_client: redis.Redis | None = None
_last_written: dict[str, float] = {}


@dataclass(frozen=True)
class WorkerBeat:
    """The last heartbeat of one worker and how old it is."""

    hostname: str
    at: float
    age: float


def client() -> redis.Redis:
    """A Redis client with short timeouts: a health probe must answer fast even when Redis does not."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    return _client


def beat(hostname: str, now: float | None = None) -> None:
    """Record that the worker `hostname` is alive now."""
    now = time.time() if now is None else now
    client().hset(HASH_KEY, hostname, f"{now:.3f}")
    _last_written[hostname] = now


def forget(hostname: str) -> None:
    """Remove a worker's entry (it shut down cleanly)."""
    client().hdel(HASH_KEY, hostname)
    _last_written.pop(hostname, None)


def recent_workers(max_age: float, now: float | None = None) -> list[WorkerBeat]:
    """Workers whose last heartbeat is at most `max_age` seconds old, freshest first."""
    now = time.time() if now is None else now
    beats = []
    for raw_host, raw_at in client().hgetall(HASH_KEY).items():
        at = float(raw_at)
        if now - at <= max_age:
            beats.append(WorkerBeat(hostname=raw_host.decode(), at=at, age=max(0.0, now - at)))
    return sorted(beats, key=lambda item: item.age)


def _safely(action: str, hostname: str, function: Any) -> None:
    try:
        function()
    except redis.RedisError:
        # The broker is Redis too: while it is down the worker cannot work anyway, and health says so.
        logger.warning("worker heartbeat not %s for %s: Redis unavailable", action, hostname)


@signals.worker_ready.connect(dispatch_uid="studyapp.worker_heartbeat.ready")
def _on_ready(sender: Any = None, **kwargs: Any) -> None:
    hostname = getattr(sender, "hostname", None) or f"worker@{os.uname().nodename}"
    _safely("written", hostname, lambda: beat(hostname))


@signals.heartbeat_sent.connect(dispatch_uid="studyapp.worker_heartbeat.heartbeat")
def _on_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    eventer = getattr(sender, "eventer", None)
    hostname = getattr(eventer, "hostname", None) or f"worker@{os.uname().nodename}"
    if time.time() - _last_written.get(hostname, 0.0) >= settings.WORKER_HEARTBEAT_INTERVAL:
        _safely("written", hostname, lambda: beat(hostname))


@signals.worker_shutdown.connect(dispatch_uid="studyapp.worker_heartbeat.shutdown")
def _on_shutdown(sender: Any = None, **kwargs: Any) -> None:
    hostname = getattr(sender, "hostname", None)
    if hostname:
        _safely("removed", hostname, lambda: forget(hostname))
