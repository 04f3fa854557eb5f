"""/healthz: is the database reachable, is Redis, and did a worker answer recently? JSON, 200 or 503.

`?require=database,redis` narrows what must be up for a 200 (the container
healthcheck of a web process asks for the database only, so a stopped worker
does not take the web out of rotation); the body always reports all three.
Errors are reported by type only: a message could carry a host or a password.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from studyapp import worker_heartbeat

CHECKS = ("database", "redis", "worker")


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _redis() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        worker_heartbeat.client().ping()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _worker(redis_ok: bool) -> dict[str, Any]:
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE
    if not redis_ok:
        return {"ok": False, "error": "redis unavailable", "max_age_s": max_age}
    try:
        beats = worker_heartbeat.recent_workers(max_age)
    except Exception as error:
        return {"ok": False, "error": type(error).__name__, "max_age_s": max_age}
    return {
        "ok": bool(beats),
        "max_age_s": max_age,
        "workers": [{"hostname": beat.hostname, "age_s": round(beat.age, 1)} for beat in beats],
    }


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Report database, Redis and worker health; 503 when a required check fails."""
    required = [name for name in request.GET.get("require", ",".join(CHECKS)).split(",") if name in CHECKS]
    if not required:
        required = list(CHECKS)
    redis_check = _redis()
    checks = {"database": _database(), "redis": redis_check, "worker": _worker(redis_check["ok"])}
    healthy = all(checks[name]["ok"] for name in required)
    body = {"status": "ok" if healthy else "unavailable", "required": required, "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)
