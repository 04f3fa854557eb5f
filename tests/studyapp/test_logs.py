"""Structured logs (studyapp/logs.py): ids bound once appear on every record, JSON lines, no secrets."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client

from studyapp import logs
from studyapp.celery import app as celery_app


def _record(message: str = "hello", **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("test.logs")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, (), None, extra=extra or None)
    logs.ContextFilter().filter(record)
    return record


def test_bound_ids_appear_on_records_and_nest() -> None:
    with logs.bind(request_id="r1"):
        with logs.bind(submission_id=7, ignored=None):
            inner = json.loads(logs.JsonFormatter().format(_record()))
        outer = json.loads(logs.JsonFormatter().format(_record()))
    after = json.loads(logs.JsonFormatter().format(_record()))
    assert inner["request_id"] == "r1" and inner["submission_id"] == 7 and "ignored" not in inner
    assert outer["request_id"] == "r1" and "submission_id" not in outer
    assert "request_id" not in after
    assert set(inner) >= {"ts", "level", "logger", "message"}


def test_extra_fields_are_kept_and_secrets_are_redacted() -> None:
    record = _record(
        "connecting to postgres://app:" + "hunter2@db.internal:5432/app",
        attempt=2,
        password="hunter2",
        api_key="abc",
        passed=True,
    )
    line = logs.JsonFormatter().format(record)
    entry = json.loads(line)
    assert "hunter2" not in line and "abc" not in line
    assert entry["message"] == "connecting to postgres://app:***@db.internal:5432/app"
    assert entry["password"] == logs.REDACTED and entry["api_key"] == logs.REDACTED
    assert entry["attempt"] == 2 and entry["passed"] is True


def test_the_plain_format_appends_key_values() -> None:
    with logs.bind_submission(12):
        line = logs.KeyValueFormatter().format(_record("graded"))
    assert line.endswith("graded submission_id=12")


@pytest.mark.redis
def test_queueing_a_task_logs_and_carries_the_ids_in_the_message(caplog: pytest.LogCaptureFixture) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.INFO, logger="cards.queue")
    try:
        with logs.bind(request_id="req-42"):
            result = celery_app.send_task("cards.tasks.grade_submission", args=[99], queue=queue)
        with celery_app.connection_for_read() as connection:
            message = connection.default_channel.basic_get(queue)
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.client.delete(queue)
    queued = [record for record in caplog.records if record.getMessage() == "task queued"]
    assert queued and queued[-1].submission_id == 99 and queued[-1].task_id == result.id
    assert queued[-1].request_id == "req-42"
    assert message.headers[logs.HEADER] == {"request_id": "req-42", "submission_id": 99}


@pytest.mark.django_db
def test_every_response_names_its_request_id(client: Client) -> None:
    response = client.get("/healthz?require=database")
    assert len(response["X-Request-ID"]) == 32
    given = client.get("/healthz?require=database", HTTP_X_REQUEST_ID="edge-proxy-123456")
    assert given["X-Request-ID"] == "edge-proxy-123456"
    forged = client.get("/healthz?require=database", HTTP_X_REQUEST_ID="x\nINFO fake line")
    assert "\n" not in forged["X-Request-ID"] and len(forged["X-Request-ID"]) == 32


def _rebuild_routes() -> None:
    # Celery caches its route table and router on first use.
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)


@pytest.fixture
def grading_queue() -> Iterator[str]:
    """Gradings go to a queue of this test's own (no worker ever sees them), and back to normal afterwards."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    original = celery_app.conf.task_routes
    celery_app.conf.task_routes = {"cards.tasks.grade_submission": {"queue": queue}}
    _rebuild_routes()
    try:
        yield queue
    finally:
        celery_app.conf.task_routes = original
        _rebuild_routes()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)  # real commits: the task is queued when the view's transaction commits
def test_a_submission_made_on_the_web_is_queued_with_its_request_and_submission_ids(
    client: Client, caplog: pytest.LogCaptureFixture, grading_queue: str
) -> None:
    """The web leg: the request id of the POST and the new submission's id travel in the task message
    (the worker leg is tests/studyapp/test_health.py's real worker)."""
    from cards.challenges.models import Challenge, Submission
    from tests.factories import make_user

    queue = grading_queue
    challenge = Challenge.objects.create(
        slug=f"logs-{uuid.uuid4().hex[:6]}", title="Logs", prompt="p", reference_solution="pass", grader_kind="none"
    )
    client.force_login(make_user(password=None))
    caplog.set_level(logging.INFO, logger="cards.queue")
    try:
        response = client.post(
            f"/challenges/{challenge.slug}/submit/", {"code": "print(1)\n"}, HTTP_X_REQUEST_ID="req-e2e-12345678"
        )
        with celery_app.connection_for_read() as connection:
            message = connection.default_channel.basic_get(queue)
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.client.delete(queue)
    assert response.status_code == 302
    submission = Submission.objects.get(challenge=challenge)
    queued = [record for record in caplog.records if record.getMessage() == "task queued"]
    assert [(r.submission_id, r.request_id) for r in queued] == [(submission.pk, "req-e2e-12345678")]
    assert message.headers[logs.HEADER] == {"request_id": "req-e2e-12345678", "submission_id": submission.pk}
