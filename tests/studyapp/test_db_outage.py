"""The database unavailable for a moment: a clear 503 page, and no half-written review."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.test import Client

from cards.review.models import ReviewLog, ReviewState
from tests.factories import make_state, make_user
from tests.production_helpers import production_env, run_django

pytestmark = pytest.mark.django_db


class FailOn:
    """A database execute wrapper that drops the connection on the first statement matching `fragment`.

    It stands where the network would fail: after the statements before it have run inside the
    open transaction, before this one reaches the server.
    """

    def __init__(self, fragment: str) -> None:
        self.fragment = fragment.lower()
        self.failed = 0

    def __call__(self, execute, sql, params, many, context):
        if self.fragment in sql.lower():
            self.failed += 1
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


def _answer(client: Client, state: ReviewState, request_id: uuid.UUID):
    data = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(request_id)}
    return client.post("/review/answer/", data)


def test_losing_the_database_mid_answer_shows_a_clear_page_and_keeps_nothing_half_written(client: Client) -> None:
    user = make_user(password=None)
    state = make_state(user=user)
    before = ReviewState.objects.values().get(pk=state.pk)
    client.force_login(user)
    request_id = uuid.uuid4()
    # The state row is updated first, then the log row is inserted: fail between the two.
    failure = FailOn('insert into "cards_reviewlog"')
    with connection.execute_wrapper(failure):
        response = _answer(client, state, request_id)
    assert failure.failed == 1
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "briefly unavailable" in page and "not recorded" in page
    # All or nothing: the schedule change made before the failure was rolled back with it.
    assert ReviewState.objects.values().get(pk=state.pk) == before
    assert not ReviewLog.objects.filter(user=user).exists()

    # The database is back: the same answer (same request id) is recorded once.
    assert _answer(client, state, request_id).status_code == 302
    assert ReviewLog.objects.filter(user=user, request_id=request_id).count() == 1
    assert ReviewState.objects.get(pk=state.pk).version == state.version + 1


def test_htmx_requests_are_told_to_reload_the_page(client: Client) -> None:
    user = make_user(password=None)
    state = make_state(user=user)
    client.force_login(user)
    data = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(uuid.uuid4())}
    with connection.execute_wrapper(FailOn('insert into "cards_reviewlog"')):
        response = client.post("/review/answer/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 503
    assert response["HX-Refresh"] == "true"
    assert not ReviewLog.objects.filter(user=user).exists()


def test_a_failure_while_reading_is_a_503_too(client: Client) -> None:
    user = make_user(password=None)
    make_state(user=user)
    client.force_login(user)
    with connection.execute_wrapper(FailOn('from "cards_reviewstate"')):
        response = client.get("/review/")
    assert response.status_code == 503
    assert "briefly unavailable" in response.content.decode()


def test_programming_errors_are_not_disguised_as_outages() -> None:
    from django.db import IntegrityError, ProgrammingError

    from studyapp.middleware import is_database_unavailable

    assert is_database_unavailable(OperationalError("could not connect to server"))
    assert not is_database_unavailable(IntegrityError("duplicate key"))
    assert not is_database_unavailable(ProgrammingError("syntax error"))
    assert not is_database_unavailable(ValueError("connection"))


UNREACHABLE_PROBE = """
from django.test import Client
client = Client(raise_request_exception=False, HTTP_HOST="localhost")
client.cookies["sessionid"] = "a" * 32  # a logged-in looking visitor: the session must be read from the database
review = client.get("/review/")
health = client.get("/healthz?require=database")
result = {
    "review_status": review.status_code,
    "review_body": review.content.decode(),
    "retry_after": review.headers.get("Retry-After"),
    "health_status": health.status_code,
    "health": health.json(),
}
"""


def test_a_database_that_cannot_be_reached_at_all_gives_the_503_page(tmp_path: Path) -> None:
    """A real outage: nothing listens where DATABASE_URL points."""
    env = production_env(
        tmp_path,
        STUDYAPP_ENV="development",
        DATABASE_URL="postgres://studyapp:unused@127.0.0.1:9/studyapp?connect_timeout=2",
    )
    result = run_django(env, UNREACHABLE_PROBE)
    assert result["review_status"] == 503
    assert "briefly unavailable" in result["review_body"]
    assert result["retry_after"] == "5"
    assert result["health_status"] == 503
    assert result["health"]["checks"]["database"] == {"ok": False, "error": "OperationalError"}
