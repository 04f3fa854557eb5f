"""The review of one concept (/review/concept/<tag>/): its due cards first, then a practice pass
that changes no schedule. Over HTTP: htmx partials and plain form posts (no JavaScript)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from cards.models import Tag
from cards.review import queue, sm2
from cards.review.models import ReviewLog, ReviewState
from tests.factories import make_card, make_cards, make_deck, make_state, make_user
from tests.review.test_views import form_fields

pytestmark = [pytest.mark.django_db, pytest.mark.redis]

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def learner(client):
    user = make_user()
    client.force_login(user)
    return user


@pytest.fixture
def today(learner) -> dt.date:
    return queue.local_today(queue.profile_for(learner))


def concept_url(name: str = "gil") -> str:
    return reverse("review_concept", args=[name])


def practice_url(name: str = "gil") -> str:
    return reverse("review_concept_practice", args=[name])


def seen(user, card, *, due_on: dt.date, **fields) -> ReviewState:
    """A state of a card the learner has answered before (six days ago, unless told)."""
    fields.setdefault("repetitions", 2)
    fields.setdefault("interval", 6)
    fields.setdefault("last_reviewed_on", due_on - dt.timedelta(days=6))
    return make_state(user=user, card=card, due_on=due_on, **fields)


def question(html: str) -> str:
    match = re.search(r'<div class="card-question"[^>]*>(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def fields_of(html: str, quality: int) -> dict[str, str]:
    """What the page's answer form posts for `quality`."""
    fields = form_fields(html, "answer-form")
    fields.pop("csrfmiddlewaretoken", None)
    return {**fields, "quality": str(quality)}


def answer(client, html: str, quality: int, **headers):
    """Post the page's answer form (a due answer or a practice one, wherever the form points)."""
    action = re.search(r'<form method="post" action="([^"]+)"[^>]*class="answer-form"', html).group(1)
    return client.post(action, fields_of(html, quality), **headers)


def snapshot_all(user) -> list[tuple]:
    return list(ReviewState.objects.filter(user=user).order_by("id").values_list())


# --- due cards first ------------------------------------------------------------------------------


def test_the_concepts_due_cards_come_first_oldest_due_first_and_only_that_concepts(client, learner, today):
    deck = make_deck()
    older = make_card(deck=deck, tags=["gil"], question="GIL older")
    newer = make_card(deck=deck, tags=["gil", "threads"], question="GIL newer")
    later = make_card(deck=deck, tags=["gil"], question="GIL not due")
    other = make_card(deck=deck, tags=["event-loop"], question="Event loop, most overdue")
    seen(learner, newer, due_on=today - dt.timedelta(days=1))
    seen(learner, older, due_on=today - dt.timedelta(days=3))
    seen(learner, later, due_on=today + dt.timedelta(days=4))
    seen(learner, other, due_on=today - dt.timedelta(days=9))
    make_card(deck=deck, tags=["gil"], question="GIL never seen")  # a new card: never introduced here

    page = client.get(concept_url()).content.decode()
    assert "<h1>Concept: gil</h1>" in page and "<title>Review: gil" in page
    assert "Due review" in page and re.search(r'data-testid="concept-due-left">2<', page)
    assert question(page) == "GIL older"
    assert 'name="concept" value="gil"' in page

    second = answer(client, page, 5, **HTMX).content.decode()
    assert "<body" not in second
    assert question(second) == "GIL newer"
    assert re.search(r'data-testid="concept-due-left">1<', second)
    third = answer(client, second, 4, **HTMX).content.decode()
    # Nothing of the concept due: the practice pass, never the other concept's overdue card nor the new one.
    assert 'data-mode="practice"' in third
    assert "Event loop" not in third and "never seen" not in third
    assert list(ReviewLog.objects.filter(user=learner).order_by("id").values_list("card_id", "source")) == [
        (older.id, "review"),
        (newer.id, "review"),
    ]


def test_a_due_answer_goes_through_sm2_and_the_log_exactly_as_the_daily_review(client, learner, today):
    """The same answer to the same card, in the concept's review and in the daily one, leaves the same state
    and the same log row."""
    twin = make_user()
    card = make_card(tags=["gil"], question="What does the GIL serialise?")
    mine = seen(learner, card, due_on=today - dt.timedelta(days=2), easiness=Decimal("2.30"))
    theirs = seen(twin, card, due_on=today - dt.timedelta(days=2), easiness=Decimal("2.30"))

    page = client.get(concept_url()).content.decode()
    fields = fields_of(page, 3)
    assert fields["state"] == str(mine.pk) and fields["version"] == "0" and fields["concept"] == "gil"
    response = client.post(reverse("review_answer"), {**fields, "duration_ms": "4200"}, **HTMX)
    assert response.status_code == 200
    queue.answer(twin, theirs.pk, version=0, quality=3, request_id=uuid.uuid4(), duration_ms=4200)

    mine.refresh_from_db()
    theirs.refresh_from_db()
    expected = sm2.answer(sm2.Sm2State(2, Decimal("2.30"), 6), 3).state
    assert (mine.repetitions, mine.easiness, mine.interval) == (
        expected.repetitions,
        expected.easiness,
        expected.interval,
    )
    assert mine.due_on == today + dt.timedelta(days=expected.interval)
    fields_compared = ("repetitions", "easiness", "interval", "due_on", "last_reviewed_on", "redrill", "version")
    assert [getattr(mine, f) for f in fields_compared] == [getattr(theirs, f) for f in fields_compared]
    log, twin_log = ReviewLog.objects.get(user=learner), ReviewLog.objects.get(user=twin)
    assert (log.source, log.quality, log.reviewed_on, log.duration_ms) == ("review", 3, today, 4200)
    assert {k: v for k, v in log.after.items() if k != "last_answered_at"} == {
        k: v for k, v in twin_log.after.items() if k != "last_answered_at"
    }
    assert log.before == twin_log.before


def test_a_redrill_of_the_concept_comes_back_in_its_review_after_its_due_cards(client, learner, today):
    deck = make_deck()
    first = make_card(deck=deck, tags=["gil"], question="First")
    second = make_card(deck=deck, tags=["gil"], question="Second")
    seen(learner, first, due_on=today - dt.timedelta(days=2))
    seen(learner, second, due_on=today - dt.timedelta(days=1))

    page = client.get(concept_url()).content.decode()
    page = answer(client, page, 2, **HTMX).content.decode()  # first, failed: back today as a re-drill
    assert question(page) == "Second" and "(1 re-drill)" in page
    page = answer(client, page, 5, **HTMX).content.decode()
    assert question(page) == "First" and 'class="redrill-badge"' in page
    page = answer(client, page, 4, **HTMX).content.decode()  # the re-drill passes
    assert 'data-mode="practice"' in page
    sources = list(ReviewLog.objects.filter(user=learner).order_by("id").values_list("source", flat=True))
    assert sources == ["review", "review", "redrill"]


def test_the_idempotency_and_version_checks_hold_in_the_concepts_review(client, learner, today):
    card = make_card(tags=["gil"])
    seen(learner, card, due_on=today)
    page = client.get(concept_url()).content.decode()
    fields = fields_of(page, 5)
    client.post(reverse("review_answer"), fields, **HTMX)
    again = client.post(reverse("review_answer"), fields, **HTMX).content.decode()
    assert "already recorded; nothing changed" in again and 'data-mode="practice"' in again
    stale = client.post(reverse("review_answer"), {**fields, "request_id": str(uuid.uuid4())}, **HTMX)
    assert "in another tab?" in stale.content.decode()
    assert ReviewLog.objects.filter(user=learner).count() == 1
    assert ReviewState.objects.get(user=learner).version == 1


def test_undo_in_the_concepts_review_takes_the_last_answer_and_stays_in_the_concept(client, learner, today):
    deck = make_deck()
    card = make_card(deck=deck, tags=["gil"], question="GIL card")
    state = seen(learner, card, due_on=today - dt.timedelta(days=1))
    before = queue.snapshot(state)

    page = answer(client, client.get(concept_url()).content.decode(), 5, **HTMX).content.decode()
    assert 'data-mode="practice"' in page and "Undo last review answer" in page
    undo = form_fields(page, "undo-form")
    assert undo["concept"] == "gil"
    response = client.post(reverse("review_undo"), undo, **HTMX).content.decode()
    assert "Undone: your answer to \u201cGIL card\u201d" in response
    assert question(response) == "GIL card" and 'data-mode="due"' in response
    state.refresh_from_db()
    assert queue.snapshot(state) == {**before, "version": 2}  # as it was, but for the version
    assert list(ReviewLog.objects.filter(user=learner).order_by("id").values_list("source", flat=True)) == [
        "review",
        "undo",
    ]


def test_without_javascript_answers_and_undo_come_back_to_the_concepts_page(client, learner, today):
    card = make_card(tags=["gil"], question="GIL card")
    seen(learner, card, due_on=today)
    page = client.get(concept_url()).content.decode()
    assert "<details" in page
    response = client.post(reverse("review_answer"), fields_of(page, 4))
    assert response.status_code == 302 and response["Location"] == concept_url()
    page = client.get(concept_url()).content.decode()
    response = client.post(reverse("review_undo"), form_fields(page, "undo-form"), follow=True)
    assert response.redirect_chain == [(concept_url(), 302)]
    assert "Undone: your answer to" in response.content.decode()


# --- then the practice pass -----------------------------------------------------------------------


def test_with_nothing_due_the_practice_pass_walks_the_seen_cards_in_order_and_changes_nothing(client, learner, today):
    deck = make_deck()
    cards = [make_card(deck=deck, tags=["gil"], question=f"GIL {i}", position=10 + i) for i in range(3)]
    unseen = make_card(deck=deck, tags=["gil"], question="GIL unseen", position=1)
    for card in reversed(cards):
        seen(learner, card, due_on=today + dt.timedelta(days=5))
    states, logs = snapshot_all(learner), ReviewLog.objects.count()

    page = client.get(concept_url()).content.decode()
    assert "Practice: answers here do not change your schedule." in page
    walked = []
    for number in (1, 2, 3):
        assert re.search(rf"Card <strong>{number}</strong> of <strong>3</strong>", page), page
        walked.append(question(page))
        fields = fields_of(page, 1 if number == 2 else 5)
        assert set(fields) == {"card", "quality"}  # no state, version or request id: nothing to change
        assert "due again in" not in page  # no schedule preview on the grades
        page = answer(client, page, 5, **HTMX).content.decode()
    assert walked == ["GIL 0", "GIL 1", "GIL 2"]
    assert "Practice done" in page and "all 3 cards of gil" in page
    assert f'href="{reverse("stats")}"' in page and f'href="{reverse("review")}"' in page
    assert "GIL unseen" not in page
    assert snapshot_all(learner) == states
    assert ReviewLog.objects.count() == logs == 0
    assert not ReviewState.objects.filter(user=learner, card=unseen).exists()


def test_a_practice_answer_is_idempotent_and_works_without_javascript(client, learner, today):
    deck = make_deck()
    first, second = (make_card(deck=deck, tags=["gil"], question=q) for q in ("One", "Two"))
    for card in (first, second):
        seen(learner, card, due_on=today + dt.timedelta(days=3))
    fields = {"card": str(first.id), "quality": "4"}
    assert question(client.post(practice_url(), fields, **HTMX).content.decode()) == "Two"
    assert question(client.post(practice_url(), fields, **HTMX).content.decode()) == "Two"  # a retry: the same
    response = client.post(practice_url(), fields)
    assert response.status_code == 302 and response["Location"] == f"{concept_url()}?after={first.id}"
    assert question(client.get(response["Location"]).content.decode()) == "Two"
    # An `after` that is not a seen card of the concept starts the pass from the beginning.
    assert question(client.get(f"{concept_url()}?after=999999").content.decode()) == "One"
    assert question(client.get(f"{concept_url()}?after=nonsense").content.decode()) == "One"
    assert not ReviewLog.objects.exists()


def test_a_practice_answer_is_checked(client, learner, today):
    deck = make_deck()
    mine = make_card(deck=deck, tags=["gil"])
    seen(learner, mine, due_on=today + dt.timedelta(days=3))
    unseen = make_card(deck=deck, tags=["gil"])
    elsewhere = make_card(deck=deck, tags=["threads"])
    seen(learner, elsewhere, due_on=today + dt.timedelta(days=3))
    theirs = make_card(deck=deck, tags=["gil"])
    seen(make_user(), theirs, due_on=today + dt.timedelta(days=3))

    for card in (unseen, elsewhere, theirs):  # never seen, another concept's, another learner's
        assert client.post(practice_url(), {"card": card.id, "quality": 4}).status_code == 404
    assert client.post(practice_url(), {"card": "x", "quality": 4}).status_code == 400
    response = client.post(practice_url(), {"card": mine.id, "quality": 6})
    assert response.status_code == 400 and "Invalid grade" in response.content.decode()
    assert client.get(practice_url()).status_code == 405
    assert client.post(practice_url("no-such-tag"), {"card": mine.id, "quality": 4}).status_code == 404


def test_a_concept_without_seen_cards_says_so(client, learner):
    make_cards(2)
    card = make_card(tags=["gil"])
    seen(make_user(), card, due_on=dt.date(2020, 1, 1))  # another learner's, long overdue
    page = client.get(concept_url()).content.decode()
    assert "No cards to practise yet" in page and "only cards you have seen can be practised" in page
    assert 'class="answer-form"' not in page
    assert not ReviewState.objects.filter(user=learner).exists()  # no new card introduced


# --- security -------------------------------------------------------------------------------------


def test_another_learners_states_never_appear_nor_answer(client, learner, today):
    other = make_user()
    deck = make_deck()
    shared = make_card(deck=deck, tags=["gil"], question="Shared card")
    theirs = seen(other, shared, due_on=today - dt.timedelta(days=5))
    only_theirs = make_card(deck=deck, tags=["gil"], question="Only theirs")
    seen(other, only_theirs, due_on=today - dt.timedelta(days=5))
    seen(learner, shared, due_on=today + dt.timedelta(days=2))

    page = client.get(concept_url()).content.decode()
    assert 'data-mode="practice"' in page and "of <strong>1</strong>" in page
    assert "Only theirs" not in page and question(page) == "Shared card"
    fields = {"state": theirs.pk, "version": 0, "quality": 5, "request_id": str(uuid.uuid4()), "concept": "gil"}
    assert client.post(reverse("review_answer"), fields).status_code == 404
    theirs.refresh_from_db()
    assert theirs.version == 0 and not ReviewLog.objects.exists()


def test_an_unknown_concept_is_a_404_and_changes_nothing(client, learner, today):
    state = seen(learner, make_card(tags=["gil"]), due_on=today)
    assert client.get(concept_url("no-such-tag")).status_code == 404
    fields = {"state": state.pk, "version": 0, "quality": 5, "request_id": str(uuid.uuid4())}
    assert client.post(reverse("review_answer"), {**fields, "concept": "no-such-tag"}).status_code == 404
    assert client.post(reverse("review_answer"), {**fields, "concept": "not a slug!"}).status_code == 404
    state.refresh_from_db()
    assert state.version == 0 and not ReviewLog.objects.exists()


def test_the_concepts_review_needs_a_login(client):
    Tag.objects.create(name="gil")
    response = client.get(concept_url())
    assert response.status_code == 302 and response["Location"] == f"{reverse('login')}?next={concept_url()}"
    response = client.post(practice_url(), {"card": 1, "quality": 4})
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.post(
        practice_url(), {"card": 1, "quality": 4}, HTTP_HX_CURRENT_URL=f"http://testserver{concept_url()}", **HTMX
    )
    assert response["HX-Redirect"] == f"{reverse('login')}?next={concept_url()}"


def test_answers_are_post_only_and_need_csrf(learner, today):
    from django.test import Client

    card = make_card(tags=["gil"])
    seen(learner, card, due_on=today + dt.timedelta(days=3))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(learner)
    assert strict.get(reverse("review_answer")).status_code == 405
    assert strict.get(practice_url()).status_code == 405
    assert strict.post(practice_url(), {"card": card.id, "quality": 4}).status_code == 403
    page = strict.get(concept_url()).content.decode()
    token = form_fields(page, "answer-form")["csrfmiddlewaretoken"]
    response = strict.post(practice_url(), {"card": card.id, "quality": 4, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


# --- the stats page links each concept to its review ----------------------------------------------


def test_each_concept_on_the_stats_page_links_to_its_review(client, learner, today):
    deck = make_deck()
    for tag in ("gil", "event-loop"):
        state = seen(learner, make_card(deck=deck, tags=[tag]), due_on=today)
        queue.answer(learner, state.pk, version=0, quality=4, request_id=uuid.uuid4())
    html = client.get(reverse("stats")).content.decode()
    table = re.search(r'<table[^>]*id="concepts".*?</table>', html, re.S).group(0)
    assert re.findall(r'<th scope="row"><a href="([^"]+)"', table) == [concept_url("event-loop"), concept_url("gil")]


# --- queries --------------------------------------------------------------------------------------

# session, user, the concept, [savepoint] state FOR UPDATE with its profile and the duplicate check,
# conditional update, log insert, [release]; then the concept's next card: its due count, its re-drill
# count, the answer undo would take back, the first due card with its card.
CONCEPT_ANSWER_STEP_QUERIES = 12
# session, user, the concept, the card practised (its place), the profile (for the study day), then: the
# concept's due and re-drill counts, undo's target, the next practice card, its number and the count of
# seen cards, the next due date.
PRACTICE_STEP_QUERIES = 11


def concept_collection(size: int, today: dt.date):
    """A learner with `size` cards of the concept "gil" (half due today) and as many of another concept."""
    user = make_user()
    deck = make_deck()
    cards = make_cards(2 * size, deck=deck)
    gil, other = Tag.objects.create(name="gil"), Tag.objects.create(name="threads")
    Card_tags = cards[0].tags.through
    Card_tags.objects.bulk_create(
        Card_tags(card_id=card.id, tag_id=(gil if i < size else other).id) for i, card in enumerate(cards)
    )
    ReviewState.objects.bulk_create(
        ReviewState(
            user=user, card=card, repetitions=2, interval=6, last_reviewed_on=today - dt.timedelta(days=6),
            due_on=today if i % 2 else today + dt.timedelta(days=1 + i % 30),
        )
        for i, card in enumerate(cards)
    )  # fmt: skip
    return user, cards


@pytest.mark.parametrize("size", [10, 500])
def test_the_concepts_answer_step_runs_the_same_queries_at_any_size(client, django_assert_num_queries, size):
    user, _ = concept_collection(size, dt.datetime.now(dt.UTC).date())
    client.force_login(user)
    page = client.get(concept_url()).content.decode()
    fields = fields_of(page, 4)
    with django_assert_num_queries(CONCEPT_ANSWER_STEP_QUERIES):
        response = client.post(reverse("review_answer"), fields, **HTMX)
    assert 'data-mode="due"' in response.content.decode()
    assert ReviewLog.objects.filter(user=user).count() == 1


@pytest.mark.parametrize("size", [10, 500])
def test_the_practice_step_runs_the_same_queries_at_any_size(client, django_assert_num_queries, size):
    user, cards = concept_collection(size, dt.datetime.now(dt.UTC).date())
    ReviewState.objects.filter(user=user).update(due_on=dt.date(2100, 1, 1))
    client.force_login(user)
    client.get(concept_url())  # the first page of the day also records the study day on the profile
    with django_assert_num_queries(PRACTICE_STEP_QUERIES):
        response = client.post(practice_url(), {"card": cards[0].id, "quality": 4}, **HTMX)
    assert f"Card <strong>2</strong> of <strong>{size}</strong>" in response.content.decode()
