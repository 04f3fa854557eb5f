"""`import_apkg --user`: Anki's scheduling as the learner's SM-2 states, its revlog as their review log."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from cards.anki import importer, mapping
from cards.anki.collection import RevlogRow
from cards.models import Card
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from tests.anki.builders import NoteSpec, add_revlog, build, schedule_review
from tests.factories import make_user

pytestmark = pytest.mark.django_db

DAY_MS = 86_400_000
T0 = 1_750_000_000_000  # June 2025
# (id ms, ease, ivl, lastIvl, factor, time ms, type): learn, review, lapse, relearn, two reviews, a manual reschedule
HISTORY = [
    (T0, 3, 1, -600, 2500, 8_000, 0),
    (T0 + 1 * DAY_MS, 3, 4, 1, 2500, 5_000, 1),
    (T0 + 5 * DAY_MS, 1, -600, 4, 2300, 12_000, 1),
    (T0 + 5 * DAY_MS + 700_000, 3, 1, -600, 2300, 900_000, 2),
    (T0 + 6 * DAY_MS, 2, 3, 1, 2150, 4_000, 1),
    (T0 + 9 * DAY_MS, 4, 10, 3, 2650, 3_000, 1),
    (T0 + 12 * DAY_MS, 0, 10, 10, 2650, 0, 4),
]


def history(col, note):
    add_revlog(col, note.cards()[0].id, HISTORY)


def package(path: Path, *, due_in: int = 3, ivl: int = 10) -> Path:
    def review(col, note):
        schedule_review(col, note, ivl=ivl, due_in=due_in, factor=2650)
        history(col, note)

    def learning(col, note):
        card = note.cards()[0]
        card.type = card.queue = 1
        card.due = 1_750_000_000
        col.update_card(card)

    def hard(col, note):
        schedule_review(col, note, ivl=2, due_in=-4, factor=1200)

    notes = [
        NoteSpec("Basic", ["Reviewed", "A"], then=review, guid="guid-review"),
        NoteSpec("Basic", ["Learning", "A"], then=learning, guid="guid-learning"),
        NoteSpec("Basic", ["Hard", "A"], then=hard, guid="guid-hard"),
        NoteSpec("Basic", ["New", "A"], guid="guid-new"),
    ]
    return build(path, notes).path


def run(path: Path, user) -> str:
    out = StringIO()
    call_command("import_apkg", str(path), "--deck", "d", "--user", user.username, stdout=out, stderr=StringIO())
    return out.getvalue()


def state_of(user, question: str) -> ReviewState | None:
    return ReviewState.objects.filter(user=user, card__question=question).first()


def test_the_schedule_comes_in_as_the_learners(tmp_path):
    user = make_user(timezone="Europe/Paris")
    path = package(tmp_path / "p.apkg")
    collection = importer.read(path)
    out = run(path, user)
    assert "3 states created" in out and "6 rows imported" in out
    today = queue.local_today(user.profile)
    created_on = dt.datetime.fromtimestamp(collection.created, dt.UTC).astimezone(user.profile.zone()).date()
    anki_due = next(card.due for card in collection.cards if card.type == 2 and card.factor == 2650)

    reviewed = state_of(user, "Reviewed")
    assert reviewed.easiness == Decimal("2.65")
    assert reviewed.interval == 10
    assert reviewed.due_on == created_on + dt.timedelta(days=anki_due)
    assert abs((reviewed.due_on - (today + dt.timedelta(days=3))).days) <= 1  # Anki's day starts at 4 am
    assert reviewed.repetitions == 2  # Hard and Easy since the lapse
    assert reviewed.last_reviewed_on == dt.date(2025, 6, 24)  # the last answer, the learner's local date
    assert reviewed.introduced_on == dt.date(2025, 6, 15)
    assert reviewed.imported_version == reviewed.version == 0

    learning = state_of(user, "Learning")
    assert (learning.due_on, learning.interval, learning.easiness) == (today, 0, Decimal("2.50"))
    assert state_of(user, "Hard").easiness == Decimal("1.30")  # 1200 permille, floored
    assert state_of(user, "New") is None  # new in Anki: new here

    logs = list(ReviewLog.objects.filter(user=user).order_by("answered_at"))
    assert [log.source for log in logs] == ["import"] * 6  # the manual reschedule is no answer
    assert [log.quality for log in logs] == [4, 4, 1, 4, 3, 5]
    assert [log.anki_revlog_id for log in logs] == [row[0] for row in HISTORY[:6]]
    assert logs[3].duration_ms == 600_000  # clamped as the review page clamps
    assert logs[0].answered_at == dt.datetime.fromtimestamp(T0 / 1000, dt.UTC)
    assert logs[5].after["interval"] == 10 and logs[5].before["interval"] == 3
    assert logs[2].after["interval"] == 0  # a relearning step (seconds) is no whole day
    # Imported rows are not "answered today" and cannot be undone.
    assert not ReviewLog.objects.answers_on(user, logs[0].reviewed_on).exists()


def test_reimport_adds_no_row_twice_and_keeps_a_schedule_the_learner_moved_on(tmp_path):
    user = make_user()
    run(package(tmp_path / "a.apkg"), user)
    out = run(package(tmp_path / "a2.apkg"), user)
    assert "0 states created, 0 updated" in out and "0 rows imported, 6 already there" in out
    assert ReviewLog.objects.filter(user=user).count() == 6
    assert Card.objects.count() == 4

    # The learner answers "Reviewed" in the app (its version moves on); "Hard" is left alone.
    moved = state_of(user, "Reviewed")
    result = queue.answer(user, moved.pk, version=moved.version, quality=5, request_id=uuid.uuid4())
    assert result.log is not None
    moved.refresh_from_db()
    assert moved.version == 1
    before = (moved.version, moved.interval, moved.due_on)

    # Anki moved both on too: a new interval and due date.
    out = run(package(tmp_path / "b.apkg", due_in=30, ivl=40), user)
    assert "1 kept" in out
    moved.refresh_from_db()
    assert (moved.version, moved.interval, moved.due_on) == before  # never overwritten
    hard = state_of(user, "Hard")
    assert hard.version == hard.imported_version == 0  # its Anki schedule did not change

    reviewed_in_anki_only = tmp_path / "c.apkg"
    user2 = make_user()
    run(package(tmp_path / "c0.apkg"), user2)
    run(package(reviewed_in_anki_only, due_in=30, ivl=40), user2)
    updated = state_of(user2, "Reviewed")
    assert (updated.interval, updated.version, updated.imported_version) == (40, 1, 1)


def test_a_learners_own_state_is_never_overwritten(tmp_path):
    user = make_user()
    run(package(tmp_path / "a.apkg"), user)
    ReviewState.objects.filter(user=user).delete()
    card = Card.objects.get(question="Reviewed")
    own = ReviewState.objects.create(user=user, card=card, due_on=dt.date(2030, 1, 1), interval=99)
    run(package(tmp_path / "b.apkg"), user)
    own.refresh_from_db()
    assert (own.due_on, own.interval, own.imported_version) == (dt.date(2030, 1, 1), 99, None)


def test_without_user_no_schedule(tmp_path):
    run_out = StringIO()
    call_command("import_apkg", str(package(tmp_path / "a.apkg")), stdout=run_out, stderr=StringIO())
    assert not ReviewState.objects.exists() and not ReviewLog.objects.exists()


def row(ease: int, kind: int) -> RevlogRow:
    return RevlogRow(id=0, card_id=1, ease=ease, interval=1, last_interval=1, factor=2500, time_ms=0, type=kind)


@pytest.mark.parametrize(
    ("rows", "count"),
    [
        ([], 0),
        ([row(3, 0)], 0),  # learning steps are not reviews
        ([row(3, 1), row(4, 1), row(2, 1)], 3),
        ([row(3, 1), row(1, 1), row(3, 2), row(3, 1)], 1),  # a lapse starts the count again
        ([row(3, 1), row(0, 4), row(3, 1)], 2),  # a manual reschedule is no answer
        ([row(3, 1), row(1, 1)], 0),
    ],
)
def test_repetitions_are_successful_reviews_since_the_last_lapse(rows, count):
    assert mapping.repetitions(rows) == count


@pytest.mark.parametrize(
    ("factor", "ef"),
    [(2500, "2.50"), (2650, "2.65"), (1300, "1.30"), (1299, "1.30"), (0, "2.50"), (2505, "2.51"), (3333, "3.33")],
)
def test_easiness(factor, ef):
    assert mapping.easiness(factor) == Decimal(ef)
