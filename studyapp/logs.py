"""Structured logs that carry ids (request, submission, task) through web, queue and worker.

Code binds ids once and every log record made inside picks them up:

    from studyapp import logs
    with logs.bind(submission_id=submission.pk):
        logger.info("submission queued")

Across the queue the ids travel in a message header: `before_task_publish`
copies the publisher's bound ids into the task message (and adds the
submission id, read from the task's arguments), and `task_prerun` binds them
again in the worker for the task's duration. So one `grep submission_id=42`
(or a JSON query) finds the web request that saved submission 42, the
enqueueing and the worker that graded it.

Nothing here imports Django models: the module is loaded by the Celery app.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from celery import signals

_context: ContextVar[dict[str, Any]] = ContextVar("studyapp_log_context", default={})  # noqa: B039 (never mutated)

HEADER = "studyapp_log_context"
# Tasks whose first positional argument is a submission id.
SUBMISSION_TASKS = frozenset({"cards.tasks.grade_submission"})

_SECRET_KEYS = re.compile(r"passw(or)?d|secret|token|api_?key|authori[sz]ation|cookie|csrf", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
REDACTED = "[redacted]"

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "log_context",
    "taskName",
}


def current() -> dict[str, Any]:
    """The ids bound in the current context (a copy)."""
    return dict(_context.get())


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[dict[str, Any]]:
    """Add `fields` (None values dropped) to every log record made inside the block."""
    token = _push(fields)
    try:
        yield current()
    finally:
        _context.reset(token)


def bind_submission(submission_id: int) -> contextlib.AbstractContextManager[dict[str, Any]]:
    """Shorthand for `bind(submission_id=...)`, for the challenge views and tasks."""
    return bind(submission_id=submission_id)


def _push(fields: dict[str, Any]) -> Token:
    merged = {**_context.get(), **{key: value for key, value in fields.items() if value is not None}}
    return _context.set(merged)


def redact(text: str) -> str:
    """Mask the password in any URL-with-credentials inside `text`."""
    return _URL_PASSWORD.sub(r"\1" + "***@", text)


def _clean(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record as `log_context`, when and where it is made."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "log_context"):
            record.log_context = current()
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    context = getattr(record, "log_context", None)
    fields = dict(current() if context is None else context)
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            fields[key] = value
    return {key: _clean(key, value) for key, value in fields.items()}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, bound ids and `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        entry.update(_fields(record))
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class KeyValueFormatter(logging.Formatter):
    """The plain development format, with bound ids appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        fields = _fields(record)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line


# --- Celery: carry the ids from the publisher to the worker --------------------------------------


def _submission_id(task_name: str, args: Any, kwargs: Any) -> Any:
    if isinstance(kwargs, dict) and "submission_id" in kwargs:
        return kwargs["submission_id"]
    if task_name in SUBMISSION_TASKS and args:
        return args[0]
    return None


@signals.before_task_publish.connect(dispatch_uid="studyapp.logs.before_task_publish")
def _on_publish(sender: str | None = None, body: Any = None, headers: dict | None = None, **kwargs: Any) -> None:
    headers = headers if headers is not None else {}
    args, task_kwargs = (body[0], body[1]) if isinstance(body, list | tuple) and len(body) >= 2 else ((), {})
    context = current()
    submission_id = _submission_id(sender or "", args, task_kwargs)
    if submission_id is not None:
        context["submission_id"] = submission_id
    headers[HEADER] = context
    logging.getLogger("cards.queue").info(
        "task queued", extra={"task": sender, "task_id": headers.get("id"), **context}
    )


_task_tokens: dict[str, Token] = {}


@signals.task_prerun.connect(dispatch_uid="studyapp.logs.task_prerun")
def _on_task_start(task_id: str, task: Any, args: Any = (), kwargs: Any = None, **extra: Any) -> None:
    request = getattr(task, "request", None)
    carried = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER) or {}
    fields = dict(carried) if isinstance(carried, dict) else {}
    submission_id = _submission_id(task.name, args, kwargs)
    if submission_id is not None:
        fields["submission_id"] = submission_id
    fields["task_id"] = task_id
    _task_tokens[task_id] = _push(fields)


@signals.task_postrun.connect(dispatch_uid="studyapp.logs.task_postrun")
def _on_task_end(task_id: str, **extra: Any) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        with contextlib.suppress(ValueError):  # reset from another context: nothing to undo
            _context.reset(token)


@signals.setup_logging.connect(dispatch_uid="studyapp.logs.setup_logging")
def _use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log through the project's LOGGING, not Celery's own set-up."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
