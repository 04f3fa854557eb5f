"""The review step (answer + render the next card) runs the same SQL queries at any collection size."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.urls import reverse

from cards.review import queue
from cards.review.models import ReviewState
from tests.factories import make_cards, make_deck, make_user

pytestmark = pytest.mark.django_db

# session, user, [savepoint] state FOR UPDATE with its profile and the duplicate check, conditional
# update, log insert, [release], then ONE query for the next card: the day's figures (bounded: see
# cards/review/queue.py) with the candidate states and their cards.
ANSWER_STEP_QUERIES = 8
# The same when the next card is a new one: then the first unseen card (an anti-join), its state
# created (INSERT ... ON CONFLICT DO NOTHING) and read with its card.
ANSWER_STEP_TO_NEW_CARD_QUERIES = 11
# session, user, profile, the next card with the day's figures.
PAGE_QUERIES = 4


def collection(size: int, *, due: bool = True):
    """A learner with `size` cards in their schedule, a re-drill pending and new cards.

    With `due`, half the schedule is due today; without, only one card is.
    """
    user = make_user(new_cards_per_day=5)
    today = queue.local_today(queue.profile_for(user))
    deck = make_deck()
    cards = make_cards(size + 5, deck=deck)
    states = [
        ReviewState(
            user=user,
            card=card,
            repetitions=2,
            interval=6,
            due_on=today if (i % 2 and due) or i == 1 else today + dt.timedelta(days=3 + i % 30),
            last_reviewed_on=today - dt.timedelta(days=6),
            introduced_on=today - dt.timedelta(days=20),
        )
        for i, card in enumerate(cards[:size])
    ]
    states[0].redrill, states[0].last_reviewed_on, states[0].due_on = True, today, today + dt.timedelta(days=1)
    ReviewState.objects.bulk_create(states)
    return user


def due_state(user) -> ReviewState:
    return queue.session_for(user).next.state


@pytest.mark.parametrize("size", [10, 500])
def test_answer_step_query_count_is_constant(client, django_assert_num_queries, size):
    user = collection(size)
    client.force_login(user)
    state = due_state(user)
    fields = {"state": state.pk, "version": state.version, "quality": 4, "request_id": str(uuid.uuid4())}
    with django_assert_num_queries(ANSWER_STEP_QUERIES):
        response = client.post(reverse("review_answer"), fields, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'class="answer-form"' in response.content
    state.refresh_from_db()
    assert state.version == 1


@pytest.mark.parametrize("size", [10, 500])
def test_review_page_query_count_is_constant(client, django_assert_num_queries, size):
    user = collection(size)
    client.force_login(user)
    due_state(user)
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get(reverse("review"))
    assert response.status_code == 200


@pytest.mark.parametrize("size", [10, 500])
def test_answer_step_to_a_new_card_query_count_is_constant(client, django_assert_num_queries, size):
    user = collection(size, due=False)
    client.force_login(user)
    state = due_state(user)
    fields = {"state": state.pk, "version": state.version, "quality": 5, "request_id": str(uuid.uuid4())}
    with django_assert_num_queries(ANSWER_STEP_TO_NEW_CARD_QUERIES):
        response = client.post(reverse("review_answer"), fields, HTTP_HX_REQUEST="true")
    assert b"new card" in response.content
