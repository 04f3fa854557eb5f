"""On PostgreSQL the review step's statements are prepared once per connection, not planned on every run.

Planning was most of the database's time in a step (the day query: 1.3 ms planned, 0.9 ms run): Django
leaves psycopg's preparing off unless settings give prepare_threshold. Whether PostgreSQL then keeps one
generic plan for the day query or still plans each run ("custom" plans) is its own choice, made from its
statistics: with bench/load.py's data it chose generic plans once the query's code constants were written
into its text; with this test's data it chooses either way from run to run, so only the preparing is
pinned here.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.urls import reverse

from cards.review import queue
from tests.review.test_queries import collection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def prepared() -> dict[str, tuple[int, int]]:
    """This connection's prepared statements: the first words of each -> (generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {" ".join(sql.split())[:60]: (generic, custom) for sql, generic, custom in cursor.fetchall()}


def test_the_day_query_is_prepared() -> None:
    user = collection(400)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # the planner's statistics, as a running database has them
    profile = queue.profile_for(user)
    today = queue.local_today(profile)
    for _ in range(12):
        queue.session_for(user)
    day = [plans for sql, plans in prepared().items() if sql.startswith("WITH f AS MATERIALIZED")]
    assert len(day) == 1, prepared()
    generic, custom = day[0]
    # psycopg prepares it on its 5th run: the 8 runs after that went through the prepared statement.
    assert generic + custom >= 7, (generic, custom)
    assert queue.progress_for(user, profile, today).due > 0  # the figures it reads are still there


def test_the_answers_statements_are_prepared(client) -> None:
    user = collection(50)
    client.force_login(user)
    for _ in range(8):
        state = queue.session_for(user).next.state
        fields = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(uuid.uuid4())}
        assert client.post(reverse("review_answer"), fields, HTTP_HX_REQUEST="true").status_code == 200
    statements = prepared()
    for start in ('SELECT s."id"', 'UPDATE "cards_reviewstate"', 'INSERT INTO "cards_reviewlog"'):
        assert any(sql.startswith(start) for sql in statements), (start, list(statements))
