"""Structured logs (cards/logs.py): ids bound once appear on every record, JSON lines, no secrets."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from django.test import Client

from cards import logs
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
