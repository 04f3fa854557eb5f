"""/healthz and worker heartbeats, with the real Redis and a real Celery worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import Client

from studyapp import logs, worker_heartbeat
from studyapp.celery import app as celery_app

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db, pytest.mark.redis]


@pytest.fixture
def heartbeats() -> Iterator[redis.Redis]:
    """The heartbeat hash, emptied before and after (workers of other test runs must not count)."""
    worker_heartbeat._client = None
    client = worker_heartbeat.client()
    client.delete(worker_heartbeat.HASH_KEY)
    yield client
    client.delete(worker_heartbeat.HASH_KEY)
    worker_heartbeat._client = None


def test_without_a_worker_health_is_503_but_the_web_probe_passes(client: Client, heartbeats) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["worker"] == {"ok": False, "max_age_s": settings.WORKER_HEARTBEAT_MAX_AGE, "workers": []}
    web_probe = client.get("/healthz?require=database")
    assert web_probe.status_code == 200 and web_probe.json()["required"] == ["database"]


def test_a_recent_heartbeat_makes_health_200_and_a_stale_one_does_not(client: Client, heartbeats) -> None:
    worker_heartbeat.beat("worker@fresh")
    worker_heartbeat.beat("worker@stale", now=time.time() - settings.WORKER_HEARTBEAT_MAX_AGE - 5)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    workers = response.json()["checks"]["worker"]["workers"]
    assert [worker["hostname"] for worker in workers] == ["worker@fresh"]


def test_redis_down_is_reported_fast_and_names_no_secret(client: Client, heartbeats, settings) -> None:
    settings.REDIS_URL = "redis://:s3cret-password@127.0.0.1:9/0"
    worker_heartbeat._client = None
    started = time.monotonic()
    response = client.get("/healthz?require=database,redis")
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["redis"] == {"ok": False, "error": "ConnectionError"}
    assert checks["worker"]["ok"] is False
    assert "s3cret" not in response.content.decode()
    assert elapsed < 5  # 1 s connect timeout, not a hung probe


def test_health_is_public_and_read_only(client: Client, heartbeats) -> None:
    assert client.get("/healthz?require=database").status_code == 200
    assert client.head("/healthz?require=database").status_code == 200  # monitors often probe with HEAD
    assert client.post("/healthz").status_code == 405


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def worker(tmp_path: Path, heartbeats) -> Iterator[dict]:
    """A real Celery worker (solo pool) on a queue of its own, logging JSON to a file."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    hostname = f"{queue}@{os.uname().nodename}"
    log_path = tmp_path / "worker.log"
    env = {**os.environ, "LOG_FORMAT": "json", "WORKER_HEARTBEAT_INTERVAL": "1", "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "studyapp", "worker", "--pool", "solo", "--queues", queue,
             "--hostname", hostname, "--without-mingle", "--loglevel", "INFO"],
            cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield {"queue": queue, "hostname": hostname, "log": log_path, "proc": proc}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _log_entries(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


def test_a_real_worker_heartbeats_carries_the_ids_and_leaves_on_shutdown(client: Client, worker: dict) -> None:
    hostname = worker["hostname"]
    _wait_for(lambda: heartbeats_of(hostname), 60, "the worker's first heartbeat")
    first = heartbeats_of(hostname)[0].at
    _wait_for(lambda: heartbeats_of(hostname) and heartbeats_of(hostname)[0].at > first, 30, "a second heartbeat")
    health = client.get("/healthz")
    assert health.status_code == 200
    assert hostname in [item["hostname"] for item in health.json()["checks"]["worker"]["workers"]]

    # Web -> queue -> worker: the ids bound where the task is queued show up in the worker's log lines.
    request_id = uuid.uuid4().hex
    with logs.bind(request_id=request_id):
        result = celery_app.send_task("celery.accumulate", args=[1], kwargs={"submission_id": 4242},
                                      queue=worker["queue"])  # fmt: skip
    _wait_for(
        lambda: any(e.get("task_id") == result.id and "succeeded" in e["message"] for e in _log_entries(worker["log"])),
        60,
        "the worker to run the task",
    )
    task_lines = [entry for entry in _log_entries(worker["log"]) if entry.get("task_id") == result.id]
    assert task_lines, worker["log"].read_text()[-2000:]
    for entry in task_lines:
        assert entry["submission_id"] == 4242
        assert entry["request_id"] == request_id

    worker["proc"].send_signal(signal.SIGTERM)
    worker["proc"].wait(timeout=30)
    assert heartbeats_of(hostname) == []
    assert worker_heartbeat.client().hget(worker_heartbeat.HASH_KEY, hostname) is None


def heartbeats_of(hostname: str) -> list[worker_heartbeat.WorkerBeat]:
    return [beat for beat in worker_heartbeat.recent_workers(60) if beat.hostname == hostname]
