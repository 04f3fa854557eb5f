"""The review session's domain rules (cards/review/queue.py): queue, limits, re-drill, undo, idempotency."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import OperationalError, connection

from cards.review import queue, sm2
from cards.review.models import ReviewLog, ReviewState
from tests.factories import make_card, make_cards, make_deck, make_state, make_user

pytestmark = pytest.mark.django_db

NOON_UTC = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = NOON_UTC.date()


def answer(user, state: ReviewState, quality: int, *, now: dt.datetime = NOON_UTC, **kwargs) -> queue.Result:
    """Answer `state` as the page would: at its current version, with a fresh request id."""
    state.refresh_from_db()
    kwargs.setdefault("request_id", uuid.uuid4())
    return queue.answer(user, state.pk, version=state.version, quality=quality, now=now, **kwargs)


def shown(user, now: dt.datetime = NOON_UTC) -> queue.NextCard | None:
    return queue.session_for(user, now).next


def test_queue_order_due_reviews_oldest_first_then_new_cards_by_position_then_redrills():
    user = make_user()
    deck = make_deck()
    new_late = make_card(deck=deck, position=20)
    new_early = make_card(deck=deck, position=10)
    due_today = make_state(user=user, card=make_card(deck=deck), due_on=TODAY, last_reviewed_on=TODAY - dt.timedelta(1))
    overdue = make_state(
        user=user, card=make_card(deck=deck), due_on=TODAY - dt.timedelta(3), last_reviewed_on=TODAY - dt.timedelta(9)
    )
    make_state(user=user, card=make_card(deck=deck), due_on=TODAY + dt.timedelta(1))  # not due

    order = []
    for _ in range(4):
        upcoming = shown(user)
        order.append((upcoming.state.card_id, upcoming.kind))
        # Fail the first scheduled one so it joins the re-drill queue; pass the others.
        quality = 2 if upcoming.state.card_id == overdue.card_id else 5
        assert answer(user, upcoming.state, quality).outcome is queue.Outcome.APPLIED
    order.append((shown(user).state.card_id, shown(user).kind))

    assert order == [
        (overdue.card_id, "review"),
        (due_today.card_id, "review"),
        (new_early.id, "new"),
        (new_late.id, "new"),
        (overdue.card_id, "redrill"),
    ]


def test_redrill_queue_serves_least_recently_answered_first():
    user = make_user()
    first, second = make_cards(2)
    for card in (first, second):
        answer(user, shown(user).state, 1)
    # Both failed; the first comes back first. Failing it again sends it behind the second.
    assert shown(user).state.card_id == first.id
    answer(user, shown(user).state, 2, now=NOON_UTC + dt.timedelta(minutes=1))
    assert shown(user).state.card_id == second.id


def test_new_cards_limited_per_local_day_in_position_order():
    user = make_user(new_cards_per_day=2)
    cards = make_cards(5)
    seen = []
    while (upcoming := shown(user)) is not None:
        seen.append(upcoming.state.card_id)
        answer(user, upcoming.state, 5)
    assert seen == [cards[0].id, cards[1].id]
    assert queue.session_for(user, NOON_UTC).progress == queue.Progress(done=2, due=0, new=0, redrill=0)

    tomorrow = NOON_UTC + dt.timedelta(days=1)
    tomorrow_ids = []
    while (upcoming := shown(user, tomorrow)) is not None:
        tomorrow_ids.append(upcoming.state.card_id)
        answer(user, upcoming.state, 5, now=tomorrow)
    # Yesterday's two are due again (interval 1), then two more new cards.
    assert tomorrow_ids == [cards[0].id, cards[1].id, cards[2].id, cards[3].id]


def test_a_shown_but_unanswered_new_card_counts_against_the_limit_and_stays_in_the_queue():
    user = make_user(new_cards_per_day=1)
    first, _second = make_cards(2)
    assert shown(user).state.card_id == first.id  # shown, not answered
    session = queue.session_for(user, NOON_UTC)
    assert session.next.state.card_id == first.id
    assert session.next.kind == "new"
    assert session.progress.remaining == 1
    assert ReviewState.objects.filter(user=user).count() == 1


def test_redrill_until_at_least_4_without_touching_ef_or_interval():
    user = make_user()
    make_card()
    state = shown(user).state
    assert answer(user, state, 3).outcome is queue.Outcome.APPLIED
    state.refresh_from_db()
    scheduled = (state.repetitions, state.easiness, state.interval, state.due_on)
    assert scheduled == (1, Decimal("2.36"), 1, TODAY + dt.timedelta(days=1))
    assert state.redrill

    for quality in (0, 2, 3):  # re-drills below 4 keep it coming back, schedule untouched
        upcoming = shown(user)
        assert (upcoming.state.pk, upcoming.kind) == (state.pk, "redrill")
        answer(user, upcoming.state, quality)
        state.refresh_from_db()
        assert (state.repetitions, state.easiness, state.interval, state.due_on) == scheduled
        assert state.redrill

    answer(user, shown(user).state, 4)
    state.refresh_from_db()
    assert (state.repetitions, state.easiness, state.interval, state.due_on) == scheduled
    assert not state.redrill
    assert shown(user) is None
    kinds = list(ReviewLog.objects.filter(user=user).order_by("id").values_list("source", "quality"))
    assert kinds == [("review", 3), ("redrill", 0), ("redrill", 2), ("redrill", 3), ("redrill", 4)]


def test_failed_scheduled_review_restarts_and_comes_back_today():
    user = make_user()
    state = make_state(user=user, repetitions=4, easiness=Decimal("2.10"), interval=20, due_on=TODAY)
    answer(user, state, 1)
    state.refresh_from_db()
    assert (state.repetitions, state.easiness, state.interval) == (0, Decimal("2.10"), 1)
    assert state.due_on == TODAY + dt.timedelta(days=1)
    assert shown(user).kind == "redrill"


def test_a_redrill_flag_from_an_earlier_day_is_a_scheduled_review_today():
    user = make_user()
    yesterday = TODAY - dt.timedelta(days=1)
    state = make_state(user=user, repetitions=0, interval=1, due_on=TODAY, redrill=True, last_reviewed_on=yesterday)
    assert shown(user).kind == "review"
    answer(user, state, 5)
    state.refresh_from_db()
    assert (state.repetitions, state.interval, state.redrill) == (1, 1, False)
    assert ReviewLog.objects.get(user=user).source == "review"


def test_log_records_before_after_day_and_duration():
    user = make_user()
    state = make_state(user=user, repetitions=2, easiness=Decimal("2.50"), interval=6, due_on=TODAY, version=3)
    result = answer(user, state, 4, duration_ms=1234)
    log = result.log
    assert (log.user, log.card_id, log.source, log.quality, log.duration_ms) == (user, state.card_id, "review", 4, 1234)
    assert log.reviewed_on == TODAY
    assert log.answered_at == NOON_UTC
    assert log.before["repetitions"] == 2 and log.before["interval"] == 6 and log.before["version"] == 3
    assert log.after == {
        "repetitions": 3,
        "easiness": "2.50",
        "interval": 15,  # ceil(6 * 2.5)
        "due_on": (TODAY + dt.timedelta(days=15)).isoformat(),
        "last_reviewed_on": TODAY.isoformat(),
        "last_answered_at": NOON_UTC.isoformat(),
        "redrill": False,
        "version": 4,
    }


def test_same_request_twice_is_one_log_row_and_one_schedule_change():
    user = make_user()
    state = make_state(user=user, due_on=TODAY)
    request_id = uuid.uuid4()
    first = queue.answer(user, state.pk, version=0, quality=5, request_id=request_id, now=NOON_UTC)
    again = queue.answer(user, state.pk, version=0, quality=5, request_id=request_id, now=NOON_UTC)
    assert (first.outcome, again.outcome) == (queue.Outcome.APPLIED, queue.Outcome.DUPLICATE)
    state.refresh_from_db()
    assert (state.repetitions, state.interval, state.version) == (1, 1, 1)
    assert ReviewLog.objects.filter(user=user).count() == 1


def test_an_answer_against_an_old_version_changes_nothing():
    user = make_user()
    state = make_state(user=user, due_on=TODAY)
    queue.answer(user, state.pk, version=0, quality=5, request_id=uuid.uuid4(), now=NOON_UTC)
    stale = queue.answer(user, state.pk, version=0, quality=0, request_id=uuid.uuid4(), now=NOON_UTC)
    assert stale.outcome is queue.Outcome.STALE
    state.refresh_from_db()
    assert (state.repetitions, state.version, state.redrill) == (1, 1, False)
    assert ReviewLog.objects.filter(user=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_applies_once():
    user = make_user()
    state = make_state(user=user, due_on=TODAY)
    request_id = uuid.uuid4()
    barrier = threading.Barrier(2)
    outcomes = []

    def submit() -> None:
        try:
            barrier.wait()
            # The test database on SQLite is in memory with a shared cache, where a writer meets
            # "table is locked" instead of waiting: the loser retries, as a browser retry would.
            for _ in range(200):
                try:
                    result = queue.answer(user, state.pk, version=0, quality=4, request_id=request_id, now=NOON_UTC)
                except OperationalError:
                    time.sleep(0.01)
                    continue
                outcomes.append(result.outcome)
                return
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(o.value for o in outcomes) == ["applied", "duplicate"]
    state.refresh_from_db()
    assert (state.repetitions, state.version) == (1, 1)
    assert ReviewLog.objects.filter(user=user).count() == 1


def test_invalid_quality_is_refused_before_anything_changes():
    user = make_user()
    state = make_state(user=user, due_on=TODAY)
    for bad in (-1, 6, 4.0, "4", None, True):
        with pytest.raises(sm2.InvalidQuality):
            queue.answer(user, state.pk, version=0, quality=bad, request_id=uuid.uuid4(), now=NOON_UTC)
    state.refresh_from_db()
    assert state.version == 0
    assert not ReviewLog.objects.exists()


def test_another_users_state_cannot_be_answered():
    owner, intruder = make_user(), make_user()
    state = make_state(user=owner, due_on=TODAY)
    with pytest.raises(ReviewState.DoesNotExist):
        queue.answer(intruder, state.pk, version=0, quality=5, request_id=uuid.uuid4(), now=NOON_UTC)
    state.refresh_from_db()
    assert state.version == 0


def test_each_user_has_their_own_queue_and_counts():
    alice, bob = make_user(), make_user()
    make_cards(3)
    answer(alice, shown(alice).state, 1)
    answer(alice, shown(alice).state, 5)
    bob_session = queue.session_for(bob, NOON_UTC)
    assert bob_session.progress == queue.Progress(done=0, due=0, new=3, redrill=0)
    assert bob_session.next.state.user == bob
    assert bob_session.last_answer_id is None
    assert queue.undo(bob, request_id=uuid.uuid4(), now=NOON_UTC).outcome is queue.Outcome.NOTHING_TO_UNDO
    alice_session = queue.session_for(alice, NOON_UTC)
    assert alice_session.progress == queue.Progress(done=2, due=0, new=1, redrill=1)


# --- undo ---------------------------------------------------------------------------------------


def state_fields(state: ReviewState) -> dict:
    state.refresh_from_db()
    data = queue.snapshot(state)
    data.pop("version")
    return data


def test_undo_restores_the_exact_previous_state_and_appends_an_undo_row():
    user = make_user()
    state = make_state(
        user=user,
        repetitions=3,
        easiness=Decimal("1.96"),
        interval=9,
        due_on=TODAY,
        last_reviewed_on=TODAY - dt.timedelta(9),
    )
    before = state_fields(state)
    answered = answer(user, state, 2).log
    assert state_fields(state) != before

    result = queue.undo(user, request_id=uuid.uuid4(), log_id=answered.pk, now=NOON_UTC)
    assert result.outcome is queue.Outcome.APPLIED
    assert state_fields(state) == before
    assert state.version == 2  # versions only grow: the undone answer's form can never apply again
    assert (result.log.source, result.log.undoes_id, result.log.quality) == ("undo", answered.pk, None)
    assert ReviewLog.objects.filter(user=user).count() == 2
    answered.refresh_from_db()
    assert answered.quality == 2  # the undone row is kept as it was
    assert shown(user).state.pk == state.pk and shown(user).kind == "review"


def test_undo_of_a_new_cards_first_answer_puts_it_back_as_new():
    user = make_user()
    make_cards(2)
    first = shown(user).state
    answer(user, first, 5)
    queue.undo(user, request_id=uuid.uuid4(), now=NOON_UTC)
    upcoming = shown(user)
    assert (upcoming.state.pk, upcoming.kind) == (first.pk, "new")
    assert queue.session_for(user, NOON_UTC).progress == queue.Progress(done=0, due=0, new=2, redrill=0)


def test_undo_again_steps_further_back_then_nothing_to_undo():
    user = make_user()
    a, b = make_cards(2)
    state_a = shown(user).state
    initial_a = state_fields(state_a)
    answer(user, state_a, 5)
    state_b = shown(user).state
    initial_b = state_fields(state_b)
    answer(user, state_b, 1)
    after_a = state_fields(state_a)

    queue.undo(user, request_id=uuid.uuid4(), now=NOON_UTC)
    assert state_fields(state_b) == initial_b
    assert state_fields(state_a) == after_a
    queue.undo(user, request_id=uuid.uuid4(), now=NOON_UTC)
    assert state_fields(state_a) == initial_a
    assert queue.undo(user, request_id=uuid.uuid4(), now=NOON_UTC).outcome is queue.Outcome.NOTHING_TO_UNDO
    kinds = list(ReviewLog.objects.filter(user=user).order_by("id").values_list("source", flat=True))
    assert kinds == ["review", "review", "undo", "undo"]


def test_a_double_clicked_undo_undoes_only_once():
    user = make_user()
    make_cards(2)
    answer(user, shown(user).state, 5)
    last = answer(user, shown(user).state, 5).log
    request_id = uuid.uuid4()
    assert queue.undo(user, request_id=request_id, log_id=last.pk, now=NOON_UTC).outcome is queue.Outcome.APPLIED
    # Same request again, then a second click carrying the same target: both no-ops.
    assert queue.undo(user, request_id=request_id, log_id=last.pk, now=NOON_UTC).outcome is queue.Outcome.DUPLICATE
    stale = queue.undo(user, request_id=uuid.uuid4(), log_id=last.pk, now=NOON_UTC)
    assert stale.outcome is queue.Outcome.STALE
    assert ReviewLog.objects.filter(user=user, source="undo").count() == 1
    assert ReviewLog.objects.answers_on(user, TODAY).count() == 1


def test_undo_does_not_reach_into_yesterday():
    user = make_user()
    make_card()
    answer(user, shown(user).state, 5)
    tomorrow = NOON_UTC + dt.timedelta(days=1)
    assert queue.undo(user, request_id=uuid.uuid4(), now=tomorrow).outcome is queue.Outcome.NOTHING_TO_UNDO


def test_answering_again_after_undo_is_a_fresh_scheduled_answer():
    user = make_user()
    state = make_state(user=user, due_on=TODAY)
    answer(user, state, 0)
    queue.undo(user, request_id=uuid.uuid4(), now=NOON_UTC)
    answer(user, state, 5)
    state.refresh_from_db()
    assert (state.repetitions, state.interval, state.redrill) == (1, 1, False)
    assert ReviewLog.objects.answers_on(user, TODAY).get().quality == 5


# --- the learner's day ----------------------------------------------------------------------------


def test_today_is_the_learners_local_date():
    # 2026-03-10 12:00 UTC is already 11 March in Auckland (UTC+13) and still 10 March in Los Angeles.
    auckland = make_user(timezone="Pacific/Auckland")
    los_angeles = make_user(timezone="America/Los_Angeles")
    assert queue.local_today(auckland.profile, NOON_UTC) == dt.date(2026, 3, 11)
    assert queue.local_today(los_angeles.profile, NOON_UTC) == dt.date(2026, 3, 10)
    late_evening_utc = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)
    assert queue.local_today(make_user(timezone="Europe/Paris").profile, late_evening_utc) == dt.date(2026, 3, 11)


def test_a_card_due_tomorrow_utc_is_due_today_east_of_utc():
    auckland = make_user(timezone="Pacific/Auckland")
    utc = make_user()
    card = make_card()
    make_state(user=auckland, card=card, due_on=dt.date(2026, 3, 11))
    make_state(user=utc, card=card, due_on=dt.date(2026, 3, 11))
    assert shown(auckland).state.card_id == card.id
    assert shown(utc) is None


def test_the_answer_is_scheduled_from_the_local_date():
    auckland = make_user(timezone="Pacific/Auckland")
    state = make_state(user=auckland, due_on=dt.date(2026, 3, 11))
    log = answer(auckland, state, 5).log
    state.refresh_from_db()
    assert log.reviewed_on == dt.date(2026, 3, 11)
    assert state.due_on == dt.date(2026, 3, 12)


def test_the_new_card_limit_resets_at_local_midnight():
    user = make_user(timezone="America/New_York", new_cards_per_day=1)
    make_cards(3)
    # 23:30 in New York on 9 March is 03:30 UTC on 10 March.
    late = dt.datetime(2026, 3, 10, 3, 30, tzinfo=dt.UTC)
    answer(user, shown(user, late).state, 5, now=late)
    assert shown(user, late + dt.timedelta(minutes=20)) is None  # 23:50 local: still the same day
    after_midnight = late + dt.timedelta(minutes=40)  # 00:10 local, 10 March
    session = queue.session_for(user, after_midnight)
    assert session.next.kind == "review"  # yesterday's new card is due again (interval 1)...
    assert session.progress.new == 1  # ...and the new-card allowance is back


def test_an_unknown_time_zone_falls_back_to_utc():
    user = make_user(timezone="Mars/Olympus_Mons")
    assert queue.local_today(user.profile, NOON_UTC) == TODAY


def test_a_profile_is_created_on_demand():
    user = make_user()
    user.profile.delete()
    user.refresh_from_db()
    make_card()
    assert shown(user).kind == "new"
    assert user.__class__.objects.get(pk=user.pk).profile.new_cards_per_day == 20


def test_next_due_date_when_done():
    user = make_user()
    make_state(user=user, due_on=TODAY + dt.timedelta(days=4))
    make_state(user=user, due_on=TODAY + dt.timedelta(days=2))
    session = queue.session_for(user, NOON_UTC)
    assert session.next is None
    assert session.next_due_on == TODAY + dt.timedelta(days=2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1500", 1500), ("-3", 0), ("99999999", queue.MAX_DURATION_MS), ("", None), ("abc", None), (None, None)],
)
def test_duration_is_clamped(raw, expected):
    assert queue.clamp_duration(raw) == expected


def test_each_grade_previews_where_the_card_goes_by_the_sm2_rules():
    user = make_user()
    # Second repetition (n=1 done, I(1)=1): 4 and 5 give I(2)=6 days; below 4 the card comes back today.
    state = make_state(user=user, due_on=TODAY, repetitions=1, interval=1, last_reviewed_on=TODAY - dt.timedelta(1))
    previews = {p.quality: (p.again_today, p.due_in_days) for p in queue.preview_grades(state, TODAY)}
    assert previews[5] == (False, 6) and previews[4] == (False, 6)
    assert previews[3] == (True, 6)  # passed, so the schedule moves on, but a re-drill comes today
    assert previews[2] == (True, 1) and previews[0] == (True, 1)  # failed: starts over at 1 day
    # A re-drill moves no schedule: the card stays due when it already was.
    redrill = make_state(user=user, due_on=TODAY + dt.timedelta(1), redrill=True, last_reviewed_on=TODAY)
    previews = {p.quality: (p.again_today, p.due_in_days) for p in queue.preview_grades(redrill, TODAY)}
    assert previews[5] == (False, 1) and previews[3] == (True, 1)


def kinds_in_order(user, count: int) -> list[str]:
    """The kinds of the next `count` cards, answering each with 5."""
    kinds = []
    for _ in range(count):
        upcoming = shown(user)
        kinds.append(upcoming.kind)
        assert answer(user, upcoming.state, 5).outcome is queue.Outcome.APPLIED
    return kinds


def due_reviews_and_new_cards(user, due: int, new: int) -> None:
    deck = make_deck()
    for _ in range(due):
        make_state(user=user, card=make_card(deck=deck), due_on=TODAY, repetitions=1, interval=1,
                   last_reviewed_on=TODAY - dt.timedelta(1))  # fmt: skip
    for _ in range(new):
        make_card(deck=deck)


@pytest.mark.parametrize(
    ("order", "kinds"),
    [
        ("reviews_first", ["review"] * 4 + ["new"] * 2),
        ("new_first", ["new"] * 2 + ["review"] * 4),
        ("mixed", ["review", "new", "review", "new", "review", "review"]),
    ],
)
def test_the_learner_chooses_when_new_cards_come(order, kinds):
    user = make_user(new_cards_per_day=2, new_card_order=order)
    due_reviews_and_new_cards(user, due=4, new=3)
    assert kinds_in_order(user, 6) == kinds
    assert shown(user) is None  # the third new card waits for tomorrow, whatever the order


def test_new_first_shows_a_new_card_already_on_screen_before_another():
    user = make_user(new_cards_per_day=3, new_card_order="new_first")
    due_reviews_and_new_cards(user, due=1, new=3)
    first = shown(user)
    assert first.kind == "new"
    assert shown(user).state.pk == first.state.pk  # reloading the page does not introduce a second one
