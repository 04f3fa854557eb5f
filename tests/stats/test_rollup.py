"""The day rollup (cards/stats/models.py) stays exactly what the raw log gives, however the log changes.

The reference is the log itself: the queries /stats/ ran before the rollup (tests/stats/log_reference.py,
through the ORM) and the migration's own whole-log aggregate (its fill). After every change here (answers
of each source through the review's own code and in bulk, undos, imports, verdicts, a deleted card or
user, raw SQL inserts, deletes and updates, a TRUNCATE) the rollup-based figures must equal the log's.
Runs on SQLite and on PostgreSQL (their triggers differ).
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import uuid

import pytest
from django.db import connection

from cards.models import Card
from cards.review import queue
from cards.review.models import ReviewLog
from cards.stats import figures, queries
from cards.stats.models import DayRollup
from tests.factories import make_card, make_review_log, make_state, make_undo_log, make_user
from tests.migration_helpers import migrate_to, migrate_to_latest
from tests.stats import log_reference
from tests.stats.conftest import april, local, march
from tests.stats.history import month_of_history

pytestmark = pytest.mark.django_db

rollup_migration = importlib.import_module("cards.stats.migrations.0001_day_rollup")
EVER = dt.date(1, 1, 1)


def from_log_sql() -> dict[tuple[int, dt.date], tuple[int, ...]]:
    """The migration's whole-log aggregate (what it fills the table with), per (user, day)."""
    with connection.cursor() as cursor:
        cursor.execute(rollup_migration.aggregate_log(connection.vendor))
        rows = cursor.fetchall()
    return {(user_id, _date(day)): tuple(int(v) for v in values) for user_id, day, *values in rows}


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def stored() -> dict[tuple[int, dt.date], tuple[int, ...]]:
    return {
        (user_id, day): tuple(values)
        for user_id, day, *values in DayRollup.objects.values_list("user_id", "day", *DayRollup.COUNTERS)
    }


def assert_exact(*users) -> None:
    """The rollup equals the log: row for row, and every figure the page takes from it."""
    assert stored() == from_log_sql()
    assert not DayRollup.objects.filter(reviews=0, redrills=0).exists()  # a day with nothing has no row
    for user in users:
        totals, grades = log_reference.day_totals(user)
        rollup_totals, rollup_grades, rollup_retention = queries.days(user, EVER)
        assert rollup_totals == totals
        assert rollup_grades == grades
        assert rollup_retention == log_reference.day_retention(user, EVER)
        since = april(1)
        assert queries.days(user, since)[2] == log_reference.day_retention(user, since)
        assert queries.studied_days(user) == log_reference.studied_days(user)


def test_the_definitions_frozen_in_the_migration_are_the_pages():
    assert rollup_migration.MATURE_DAYS == figures.MATURE_DAYS
    assert rollup_migration.PASSING_QUALITY == figures.PASSING_QUALITY
    assert tuple(queries.REVIEW_SOURCES) == rollup_migration.REVIEWS
    assert rollup_migration.REDRILLS == (queries.REDRILL,)
    assert rollup_migration.COUNTERS == DayRollup.COUNTERS


def test_the_triggers_are_installed():
    """A migration that rebuilds cards_reviewlog on SQLite (Django's table remake) would drop them."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'cards_reviewlog'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'cards_reviewlog'::regclass")
        names = {row[0] for row in cursor.fetchall()}
    expected = {f"stats_day_rollup_{event}" for event in ("insert", "delete", "update")}
    if connection.vendor == "postgresql":
        expected.add("stats_day_rollup_truncate")
    assert expected <= names


def test_hand_computed_day():
    """One day, by hand: a new card, a young pass, a mature fail, a re-drill, an import, an undone answer, a verdict."""
    user = make_user(timezone="Pacific/Auckland")
    day = april(8)
    make_review_log(user=user, card=make_card(), at=local(day, 9), new=True, quality=5, duration_ms=1000)
    make_review_log(user=user, card=make_card(), at=local(day, 9, 1), interval_before=3, quality=3, duration_ms=2000)
    make_review_log(user=user, card=make_card(), at=local(day, 9, 2), interval_before=21, quality=2, duration_ms=4000)
    make_review_log(user=user, card=make_card(), at=local(day, 9, 3), source="redrill", quality=4, duration_ms=8000)
    make_review_log(user=user, card=make_card(), at=local(day, 9, 4), source="import", interval_before=40, quality=4)
    undone = make_review_log(user=user, card=make_card(), at=local(day, 9, 5), quality=0, duration_ms=16000)
    make_review_log(user=user, card=make_card(), at=local(day, 9, 6), source="challenge", quality=5, duration_ms=32)
    make_undo_log(undone=undone)

    row = DayRollup.objects.get(user=user, day=day)
    assert (row.reviews, row.redrills, row.duration_ms) == (4, 1, 15000)
    assert (row.new_cards, row.young, row.young_passed, row.mature, row.mature_passed) == (1, 1, 1, 2, 1)
    reviews = [getattr(row, f"reviews_q{q}") for q in range(6)]
    redrills = [getattr(row, f"redrills_q{q}") for q in range(6)]
    assert (reviews, redrills) == ([0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 0])
    assert_exact(user)


def test_an_undo_takes_the_answer_back_and_a_day_left_empty_has_no_row():
    user = make_user(timezone="Pacific/Auckland")
    first = make_review_log(user=user, card=make_card(), at=local(april(2)), quality=4, duration_ms=5000)
    second = make_review_log(user=user, card=make_card(), at=local(april(3)), source="redrill", quality=1)
    assert stored().keys() == {(user.pk, april(2)), (user.pk, april(3))}

    make_undo_log(undone=first)
    make_undo_log(undone=second, at=local(april(4)))  # an undo on a later day takes back the answer's day
    assert stored() == {}
    assert_exact(user)


def varied_history(user, today: dt.date) -> None:
    """A month of study (tests/stats/history.py), undos, imports, verdicts and odd snapshots."""
    month_of_history(user, today)
    logs = list(ReviewLog.objects.filter(user=user, source__in=("review", "redrill")).order_by("id")[::7])
    for log in logs:
        make_undo_log(undone=log)
    card = make_card()
    make_review_log(user=user, card=card, at=local(march(1)), source="import", new=True, quality=None)
    make_review_log(user=user, card=card, at=local(march(2)), source="import", interval_before=30, quality=5)
    make_review_log(user=user, card=card, at=local(march(3)), source="challenge", quality=2)
    make_undo_log(undone=make_review_log(user=user, card=card, at=local(march(4)), source="challenge", quality=2))
    odd = {
        "no interval": {"last_reviewed_on": None},
        "no last review": {"interval": 4},
        "nothing": {},
        "null interval": {"interval": None, "last_reviewed_on": None},
        "seen without interval": {"interval": 0, "last_reviewed_on": "2025-02-01"},
        "interval as text": {"interval": "25", "last_reviewed_on": "2025-02-01"},
    }
    for i, before in enumerate(odd.values()):
        ReviewLog.objects.create(
            user=user, card=card, source="review", quality=i % 6, before=before, after=before,
            reviewed_on=march(5), answered_at=local(march(5), 10, i), duration_ms=None,
        )  # fmt: skip


def without_tokens(html: str) -> str:
    """The page without what differs on every request (the CSP nonce, the CSRF token)."""
    return re.sub(r'(nonce|value)="[^"]*"|"x-csrftoken": "[^"]*"', "", html, flags=re.IGNORECASE)


def test_a_varied_history_gives_the_logs_figures(client, clock, monkeypatch):
    alice = make_user(timezone="Pacific/Auckland")
    bob = make_user(timezone="Europe/Paris")
    varied_history(alice, april(10))
    varied_history(bob, april(10))
    assert_exact(alice, bob)
    for user in (alice, bob):
        for today in (april(10), april(1)):
            by_name = sorted(log_reference.concepts(user, today), key=lambda c: c.name)
            assert sorted(queries.concepts(user, today), key=lambda c: c.name) == by_name

    # And the page itself: the same HTML as with the figures taken from the log.
    client.force_login(alice)
    html = client.get("/stats/").content.decode()

    def from_log(user, since):
        totals, grades = log_reference.day_totals(user)
        return totals, grades, log_reference.day_retention(user, since)

    monkeypatch.setattr(queries, "days", from_log)
    monkeypatch.setattr(queries, "studied_days", log_reference.studied_days)
    monkeypatch.setattr(queries, "concepts", log_reference.concepts)
    reference = client.get("/stats/").content.decode()
    assert "Longest streak" in html
    assert without_tokens(html) == without_tokens(reference)


def test_answers_and_undos_through_the_review_keep_it_exact():
    user = make_user(timezone="Pacific/Auckland")
    now = local(april(9), 10)
    today = april(9)
    states = [
        make_state(user=user, due_on=today, last_reviewed_on=today - dt.timedelta(days=days), interval=days)
        for days in (1, 6, 30)
    ]
    for state, quality in zip(states, (5, 2, 3), strict=True):
        outcome = queue.answer(user, state.pk, version=0, quality=quality, request_id=uuid.uuid4(), now=now)
        assert outcome.outcome is queue.Outcome.APPLIED
        assert_exact(user)
    state = states[1]
    state.refresh_from_db()
    queue.answer(user, state.pk, version=state.version, quality=4, request_id=uuid.uuid4(), now=now)  # its re-drill
    assert ReviewLog.objects.filter(user=user, source="redrill").count() == 1
    assert_exact(user)
    for _ in range(2):
        assert queue.undo(user, request_id=uuid.uuid4(), now=now).outcome is queue.Outcome.APPLIED
        assert_exact(user)
    row = DayRollup.objects.get(user=user)  # the re-drill and then the mature answer were taken back
    assert (row.reviews, row.redrills, row.young, row.mature) == (2, 0, 2, 0)


def test_bulk_inserts_and_one_statement_with_an_answer_and_its_undo():
    user = make_user(timezone="Pacific/Auckland")
    card = make_card()
    before = {"interval": 3, "last_reviewed_on": "2025-03-01"}
    answers = ReviewLog.objects.bulk_create(
        ReviewLog(
            user=user,
            card=card,
            source=("review", "redrill", "import", "challenge")[i % 4],
            quality=i % 6,
            before=before,
            after=before,
            reviewed_on=april(1 + i % 5),
            answered_at=local(april(1 + i % 5), 8, i),
            duration_ms=1000 * i,
        )  # fmt: skip
        for i in range(40)
    )
    assert_exact(user)
    ReviewLog.objects.bulk_create(
        ReviewLog(
            user=user,
            card=card,
            source="undo",
            undoes=log,
            before=before,
            after=before,
            reviewed_on=log.reviewed_on,
            answered_at=log.answered_at + dt.timedelta(seconds=1),
        )  # fmt: skip
        for log in answers[::3]
    )
    assert_exact(user)

    # Raw SQL, one statement: an answer and the undo row that takes it back (netting to nothing), and another answer.
    top = ReviewLog.objects.order_by("-id").values_list("id", flat=True).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cards_reviewlog (id, user_id, card_id, source, quality, request_id, undoes_id, before, after,"
            " reviewed_on, answered_at, duration_ms) VALUES"
            " (%s, %s, %s, 'undo', NULL, %s, %s, '{}', '{}', %s, %s, NULL),"
            " (%s, %s, %s, 'review', 4, %s, NULL, '{}', '{}', %s, %s, 700),"
            " (%s, %s, %s, 'review', 2, %s, NULL, '{\"interval\": 30}', '{}', %s, %s, 900)",
            [
                top + 1, user.pk, card.pk, uuid.uuid4().hex, top + 2, april(6), local(april(6), 9),
                top + 2, user.pk, card.pk, uuid.uuid4().hex, april(6), local(april(6), 8),
                top + 3, user.pk, card.pk, uuid.uuid4().hex, april(6), local(april(6), 10),
            ],
        )  # fmt: skip
    assert DayRollup.objects.get(user=user, day=april(6)).mature == 1
    assert_exact(user)


def test_deleting_cards_users_and_rows_keeps_it_exact():
    alice, bob = make_user(timezone="Pacific/Auckland"), make_user(timezone="Pacific/Auckland")
    varied_history(alice, april(10))
    varied_history(bob, april(10))
    assert_exact(alice, bob)

    # A card: its answers and the undo rows pointing at them go (Django's cascade), for both learners.
    undone_cards = ReviewLog.objects.filter(user=alice, undone_by__isnull=False).values_list("card", flat=True)
    for card_id in sorted(set(undone_cards))[:3]:
        Card.objects.get(pk=card_id).delete()
        assert_exact(alice, bob)

    # Raw SQL: an undo row alone (its answer counts again), then an answer alone whose undo row stays.
    undo = ReviewLog.objects.filter(user=bob, source="undo", undoes__source="review").first()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cards_reviewlog WHERE id = %s", [undo.pk])
    assert_exact(alice, bob)
    undo = ReviewLog.objects.filter(user=bob, source="undo", undoes__source="redrill").first()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cards_reviewlog WHERE id = %s", [undo.undoes_id])  # the constraint is deferred
        assert_exact(alice, bob)
        cursor.execute("DELETE FROM cards_reviewlog WHERE id = %s", [undo.pk])
    assert_exact(alice, bob)

    # One statement with answers and their undos, in both orders the database may take them.
    pairs = ReviewLog.objects.filter(user=bob, source="undo").values_list("id", "undoes_id")[:4]
    with connection.cursor() as cursor:
        ids = [i for pair in pairs for i in pair]
        cursor.execute(f"DELETE FROM cards_reviewlog WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
    assert_exact(alice, bob)

    bob.delete()
    assert not DayRollup.objects.filter(user_id=bob.pk).exists()
    assert_exact(alice)


def test_updates_keep_it_exact():
    """The application never edits the log; an UPDATE by hand still leaves the rollup exact."""
    user = make_user(timezone="Pacific/Auckland")
    varied_history(user, april(10))
    undone = ReviewLog.objects.filter(user=user, undone_by__isnull=False, source="review").first()
    counted = ReviewLog.objects.filter(user=user, undone_by__isnull=True, source="review").first()
    undo = ReviewLog.objects.filter(user=user, source="undo").exclude(undoes=undone).first()

    ReviewLog.objects.filter(pk=undone.pk).update(quality=0, reviewed_on=march(20))
    assert_exact(user)
    ReviewLog.objects.filter(pk=counted.pk).update(quality=1, source="redrill", reviewed_on=march(21))
    assert_exact(user)
    ReviewLog.objects.filter(pk=counted.pk).update(before={"interval": 50, "last_reviewed_on": "2025-01-01"})
    assert_exact(user)
    ReviewLog.objects.filter(pk=undo.pk).update(undoes=counted)  # the undo row takes back another answer
    assert_exact(user)
    ReviewLog.objects.filter(user=user, source="review").update(duration_ms=10, quality=5)  # many rows, undone or not
    assert_exact(user)
    ReviewLog.objects.filter(user=user, source="undo").update(undoes=None)  # every undo row let go
    assert_exact(user)


@pytest.mark.postgres
def test_truncate_empties_it():
    user = make_user(timezone="Pacific/Auckland")
    varied_history(user, april(10))
    assert DayRollup.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending, or TRUNCATE refuses
        cursor.execute("TRUNCATE cards_reviewlog")
    assert stored() == {}
    make_review_log(user=user, card=make_card(), at=local(april(9)))
    assert_exact(user)


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_rollup_from_the_log_and_is_reversible():
    user = make_user(timezone="Pacific/Auckland")
    varied_history(user, april(10))
    expected = stored()

    migrate_to([("stats", None)])  # back: the triggers, the function and the table go
    assert "stats_day_rollup" not in connection.introspection.table_names()
    make_review_log(user=user, card=make_card(), at=local(march(30)), quality=2)  # written with no trigger
    make_undo_log(undone=ReviewLog.objects.filter(user=user, source="review", undone_by__isnull=True).first())

    migrate_to_latest()  # forward: filled from the log as it is now
    assert stored() != expected
    assert_exact(user)
    make_review_log(user=user, card=make_card(), at=local(march(31)), source="import")  # and kept from then on
    assert_exact(user)
