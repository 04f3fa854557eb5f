"""The figures the review page shows each step stay exact while their cost stays bounded (cards/review/queue.py).

Cards not met yet come from trigger-kept tallies (cards.review.models.Tally), so every way rows
come and go must keep them equal to COUNT(*); due reviews are counted up to DUE_COUNT_LIMIT and
shown as "N+" past it.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from cards.models import Card
from cards.review import queue
from cards.review.models import ReviewState, Tally
from tests.factories import make_card, make_cards, make_deck, make_state, make_user

pytestmark = pytest.mark.django_db

NOON_UTC = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
TODAY = NOON_UTC.date()


def tallies() -> dict[str, int]:
    return dict(Tally.objects.filter(value__gt=0).values_list("key", "value"))


def counted() -> dict[str, int]:
    """What the tallies must say: COUNT(*) of the cards and of each user's states."""
    expected = {Tally.CARDS: Card.objects.count()} if Card.objects.exists() else {}
    for user_id in ReviewState.objects.values_list("user_id", flat=True).distinct():
        expected[Tally.states_key(user_id)] = ReviewState.objects.filter(user_id=user_id).count()
    return expected


def test_the_tallies_follow_every_insert_and_delete():
    alice, bob = make_user(), make_user()
    cards = make_cards(6)
    assert tallies() == counted() == {Tally.CARDS: 6}

    make_state(user=alice, card=cards[0])  # save()
    ReviewState.objects.bulk_create([ReviewState(user=bob, card=card, due_on=TODAY) for card in cards[:4]])
    queue.show_new_card(alice, cards[1].pk, TODAY)
    queue.show_new_card(alice, cards[1].pk, TODAY)  # already there: ON CONFLICT DO NOTHING, no count
    assert tallies() == counted() == {Tally.CARDS: 6, f"states:{alice.pk}": 2, f"states:{bob.pk}": 4}

    cards[0].delete()  # cascades to both learners' states
    ReviewState.objects.filter(user=bob, card=cards[3]).delete()
    assert tallies() == counted() == {Tally.CARDS: 5, f"states:{alice.pk}": 1, f"states:{bob.pk}": 2}

    bob.delete()
    with connection.cursor() as cursor:  # raw SQL is counted too
        cursor.execute("DELETE FROM cards_reviewstate WHERE user_id = %s", [alice.pk])
    assert tallies() == counted() == {Tally.CARDS: 5}


def test_a_state_moved_to_another_learner_moves_its_count():
    alice, bob = make_user(), make_user()
    state = make_state(user=alice)
    ReviewState.objects.filter(pk=state.pk).update(user=bob)
    assert tallies() == counted() == {Tally.CARDS: 1, f"states:{bob.pk}": 1}


def test_new_cards_added_or_removed_mid_day_count_at_once():
    user = make_user(new_cards_per_day=10)
    deck = make_deck()
    make_cards(2, deck=deck)
    assert queue.session_for(user, NOON_UTC).progress.new == 2  # the first one is shown (a state now)
    extra = make_card(deck=deck)
    assert queue.session_for(user, NOON_UTC).progress.new == 3
    extra.delete()
    Card.objects.exclude(review_states__user=user).delete()
    session = queue.session_for(user, NOON_UTC)
    assert (session.progress.new, session.next.kind) == (1, "new")  # only the card on screen is left


def test_new_cards_count_down_as_they_are_introduced_and_answered_and_undo_gives_them_back():
    user = make_user(new_cards_per_day=3)
    make_cards(5)
    assert queue.session_for(user, NOON_UTC).progress.new == 3
    for left in (2, 1, 0):
        state = queue.session_for(user, NOON_UTC).next.state
        queue.answer(user, state.pk, version=state.version, quality=5, request_id=uuid.uuid4(), now=NOON_UTC)
        assert queue.session_for(user, NOON_UTC).progress.new == left
    assert queue.undo(user, request_id=uuid.uuid4(), now=NOON_UTC).outcome is queue.Outcome.APPLIED
    progress = queue.session_for(user, NOON_UTC).progress
    assert (progress.done, progress.new) == (2, 1)  # the undone card is new again, on screen


def test_a_redrill_is_counted_until_it_is_passed():
    user = make_user()
    state = make_state(user=user, due_on=TODAY, last_reviewed_on=TODAY - dt.timedelta(days=3))
    queue.answer(user, state.pk, version=0, quality=2, request_id=uuid.uuid4(), now=NOON_UTC)
    session = queue.session_for(user, NOON_UTC)
    assert (session.progress, session.next.kind) == (queue.Progress(done=1, due=0, new=0, redrill=1), "redrill")
    queue.answer(user, state.pk, version=1, quality=4, request_id=uuid.uuid4(), now=NOON_UTC)
    session = queue.session_for(user, NOON_UTC)
    assert (session.progress, session.next) == (queue.Progress(done=2, due=0, new=0, redrill=0), None)
    assert session.next_due_on == TODAY + dt.timedelta(days=1)
    assert session.last_answer_id is not None


def test_due_reviews_are_counted_up_to_the_limit_and_shown_as_at_least(monkeypatch, client):
    monkeypatch.setattr(queue, "DUE_COUNT_LIMIT", 5)
    user = make_user(new_cards_per_day=0)
    cards = make_cards(8)
    ReviewState.objects.bulk_create(
        ReviewState(user=user, card=card, due_on=TODAY, last_reviewed_on=TODAY - dt.timedelta(days=2))
        for card in cards[:5]
    )
    assert queue.session_for(user, NOON_UTC).progress == queue.Progress(done=0, due=5, new=0, redrill=0)

    ReviewState.objects.create(user=user, card=cards[5], due_on=TODAY, last_reviewed_on=TODAY - dt.timedelta(2))
    progress = queue.session_for(user, NOON_UTC).progress
    assert (progress.due, progress.due_more, progress.remaining) == (5, True, 5)

    client.force_login(user)
    page = client.get(reverse("review")).content.decode()
    assert '<strong data-testid="remaining">5+</strong>' in page and "(5+ due, 0 new, 0 re-drill)" in page
    assert "<meter" not in page  # no progress bar over a total that is not known
    home = client.get(reverse("home")).content.decode()
    assert "<dd>5+</dd>" in home and "Start reviewing (5+ cards)" in home


def test_due_reviews_are_exact_up_to_the_real_limit():
    user = make_user(new_cards_per_day=0)
    cards = make_cards(queue.DUE_COUNT_LIMIT + 1)
    reviewed = TODAY - dt.timedelta(days=2)
    states = [ReviewState(user=user, card=card, due_on=TODAY, last_reviewed_on=reviewed) for card in cards]
    ReviewState.objects.bulk_create(states[:-1])
    progress = queue.session_for(user, NOON_UTC).progress
    assert (progress.due, progress.due_more) == (queue.DUE_COUNT_LIMIT, False)
    ReviewState.objects.bulk_create(states[-1:])
    progress = queue.session_for(user, NOON_UTC).progress
    assert (progress.due, progress.due_more) == (queue.DUE_COUNT_LIMIT, True)


def test_a_time_zone_change_keeps_the_figures_of_the_day_in_progress():
    user = make_user(new_cards_per_day=2)
    make_cards(4)
    state = queue.session_for(user, NOON_UTC).next.state
    queue.answer(user, state.pk, version=state.version, quality=5, request_id=uuid.uuid4(), now=NOON_UTC)
    before = queue.session_for(user, NOON_UTC).progress
    user.profile.timezone = "Pacific/Kiritimati"  # UTC+14: already tomorrow there
    user.profile.save(update_fields=["timezone"])
    assert queue.session_for(user, NOON_UTC).progress == before == queue.Progress(done=1, due=0, new=1, redrill=0)
