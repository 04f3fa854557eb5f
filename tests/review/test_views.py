"""The review pages over HTTP: accounts, home, plain form posts (no JavaScript) and htmx partials."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse

from cards.challenges import practice
from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from tests.factories import PASSWORD, make_cards, make_challenge, make_state, make_submission, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.redis]

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def learner(client):
    user = make_user()
    client.force_login(user)
    return user


def form_fields(html: str, form_class: str) -> dict[str, str]:
    """The hidden inputs of the form with `form_class` in a rendered page."""
    form = re.search(rf'<form[^>]*class="{form_class}".*?</form>', html, re.S)
    assert form, f"no {form_class} in the page"
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(0)))


def answer_fields(client, quality: int, **headers) -> dict[str, str]:
    fields = form_fields(client.get(reverse("review")).content.decode(), "answer-form")
    fields.pop("csrfmiddlewaretoken", None)
    return {**fields, "quality": str(quality), "duration_ms": "2500"}


# --- accounts ---------------------------------------------------------------------------------


def test_pages_need_a_login(client):
    response = client.get(reverse("review"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    response = client.post(reverse("review_answer"), {"state": 1, "version": 0, "quality": 5})
    assert response.status_code == 302
    assert not ReviewLog.objects.exists()


def test_a_visitor_gets_the_front_page_with_a_real_card_and_the_way_in(client):
    make_cards(3, question="What does `await` {i} give up?", answer="The loop, until {i}.")
    html = client.get(reverse("home")).content.decode()
    assert '<h1 id="welcome-heading">Learn backend concepts for good</h1>' in html
    assert "What does <code>await</code> 1 give up?" in html and "(3 cards)" in html  # the first card, rendered
    assert f'href="{reverse("signup")}"' in html and f'href="{reverse("login")}"' in html
    assert "Live code challenges" in html and "Due for review" not in html
    # Logged in, the same address is the learner's day.
    client.force_login(make_user())
    assert "Due for review" in client.get(reverse("home")).content.decode()


def test_an_expired_session_under_htmx_sends_the_page_to_log_in(client):
    response = client.post(
        reverse("review_answer"),
        {"state": 1, "version": 0, "quality": 5},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/review/",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('login')}?next=/review/"
    assert not ReviewLog.objects.exists()


def test_log_in_and_log_out(client):
    user = make_user(password=PASSWORD)
    login_page = client.get(reverse("login"))
    assert b'name="username"' in login_page.content
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert "Due for review" in client.get(reverse("home")).content.decode()
    assert client.get(reverse("logout")).status_code == 405  # logging out takes a POST
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("review")).status_code == 302
    assert "Due for review" not in client.get(reverse("home")).content.decode()  # the front page again


# --- home ---------------------------------------------------------------------------------------


def test_home_shows_due_new_and_redrills(client, learner):
    make_cards(3)
    today = queue.local_today(learner.profile)
    make_state(user=learner, due_on=today, last_reviewed_on=today - dt.timedelta(days=1))
    response = client.get(reverse("home"))
    html = response.content.decode()
    assert re.search(r"Due for review</dt><dd>1<", html)
    assert re.search(r"New cards</dt><dd>3<", html)
    assert "Start reviewing (4 cards)" in html


def test_home_shows_the_next_due_date_when_nothing_is_due(client, learner):
    today = queue.local_today(learner.profile)
    later = today.replace(year=today.year + 1)
    make_state(user=learner, due_on=later)
    html = client.get(reverse("home")).content.decode()
    assert "Nothing left to review today" in html
    assert f'datetime="{later.isoformat()}"' in html


# --- the review flow without JavaScript ---------------------------------------------------------


def test_no_js_flow_answer_redrill_undo_with_plain_posts(client, learner):
    make_cards(2)
    page = client.get(reverse("review"))
    assert page.status_code == 200
    assert "<details" in page.content.decode()  # the answer opens without JavaScript

    response = client.post(reverse("review_answer"), answer_fields(client, 2))
    assert response.status_code == 302 and response["Location"] == reverse("review")
    response = client.post(reverse("review_answer"), answer_fields(client, 5))
    assert response.status_code == 302

    page = client.get(reverse("review")).content.decode()
    assert "re-drill" in page
    response = client.post(reverse("review_answer"), answer_fields(client, 4))  # the re-drill, passed
    assert response.status_code == 302
    done = client.get(reverse("review")).content.decode()
    assert "Done for today" in done

    undo = form_fields(done, "undo-form")
    response = client.post(reverse("review_undo"), undo)
    assert response.status_code == 302
    page = client.get(reverse("review")).content.decode()
    assert "re-drill" in page  # the re-drill is back
    assert list(ReviewLog.objects.filter(user=learner).order_by("id").values_list("source", flat=True)) == [
        "review",
        "review",
        "redrill",
        "undo",
    ]


def test_a_no_op_is_reported_as_a_message_after_the_redirect(client, learner):
    make_cards(1)
    fields = answer_fields(client, 5)
    client.post(reverse("review_answer"), fields)
    response = client.post(reverse("review_answer"), fields, follow=True)
    assert "already recorded" in response.content.decode()
    assert ReviewLog.objects.filter(user=learner).count() == 1


# --- htmx ---------------------------------------------------------------------------------------


def test_htmx_answer_returns_the_next_card_partial(client, learner):
    first, second = make_cards(2)
    fields = answer_fields(client, 5)
    response = client.post(reverse("review_answer"), fields, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "<body" not in html
    assert "Question 2?" in html
    assert 'class="answer-form"' in html and "Undo last answer" in html
    assert "HX-Request" in response["Vary"]
    assert ReviewLog.objects.get(user=learner).duration_ms == 2500


def test_htmx_review_page_partial_and_full_page_differ(client, learner):
    make_cards(1)
    full = client.get(reverse("review"))
    partial = client.get(reverse("review"), **HTMX)
    assert b"<body" in full.content and b"<body" not in partial.content
    assert b'id="review-session"' in full.content
    assert "HX-Request" in full["Vary"]


def test_htmx_done_for_today(client, learner):
    make_cards(1)
    response = client.post(reverse("review_answer"), answer_fields(client, 5), **HTMX)
    assert "Done for today" in response.content.decode()


def test_htmx_undo_returns_the_card_again(client, learner):
    make_cards(1)
    client.post(reverse("review_answer"), answer_fields(client, 5), **HTMX)
    done = client.get(reverse("review")).content.decode()
    response = client.post(reverse("review_undo"), form_fields(done, "undo-form"), **HTMX)
    html = response.content.decode()
    assert "Undone: your answer to \u201cQuestion 1?\u201d. The card is back as it was." in html
    state = ReviewState.objects.get(user=learner)
    assert (state.repetitions, state.last_reviewed_on) == (0, None)


def test_undo_takes_back_the_learners_own_answer_never_a_challenges_verdict(client, learner):
    """Z after a challenge was graded: the verdict on its practice card stays; the last review answer goes."""
    make_cards(1, question="What does `await` give up?")
    client.post(reverse("review_answer"), answer_fields(client, 4), **HTMX)
    challenge = make_challenge()
    submission = make_submission(user=learner, challenge=challenge, status="graded", passed=False, quality=2)
    verdict = practice.record_verdict(submission)
    assert verdict.source == "challenge"

    page = client.get(reverse("review")).content.decode()
    response = client.post(reverse("review_undo"), form_fields(page, "undo-form"), **HTMX)
    assert "Undone: your answer to \u201cWhat does await give up?\u201d." in response.content.decode()
    practice_state = ReviewState.objects.get(user=learner, card=challenge.practice_card)
    assert (practice_state.version, practice_state.redrill) == (1, True)  # the verdict (quality 2) stands
    assert not ReviewLog.objects.filter(undoes=verdict).exists()

    # With only the verdict left today, there is nothing of the learner's to undo.
    response = client.post(reverse("review_undo"), {"request_id": str(uuid.uuid4())}, **HTMX)
    assert "Nothing to undo today." in response.content.decode()
    assert not ReviewLog.objects.filter(undoes=verdict).exists()


def test_answered_today_counts_review_answers_not_challenge_attempts(client, learner):
    """Cards and challenges are counted apart: attempts never add to "answered today"."""
    make_cards(2)
    for _ in range(2):
        client.post(reverse("review_answer"), answer_fields(client, 5), **HTMX)
    challenge = make_challenge()
    for quality in (2, 3, 5):
        practice.record_verdict(make_submission(user=learner, challenge=challenge, status="graded", quality=quality))
    assert ReviewLog.objects.filter(user=learner, source="challenge").count() == 3
    home = client.get(reverse("home")).content.decode()
    assert re.search(r"<dt>Answered today</dt>\s*<dd>2</dd>", home)
    done = client.get(reverse("review")).content.decode()
    assert "You answered 2 cards today." in done


def test_undo_with_nothing_to_undo(client, learner):
    response = client.post(reverse("review_undo"), {"request_id": str(uuid.uuid4())}, **HTMX)
    assert response.status_code == 200
    assert "Nothing to undo" in response.content.decode()


def test_duration_is_clamped_by_the_server(client, learner):
    make_cards(1)
    fields = {**answer_fields(client, 4), "duration_ms": "999999999"}
    client.post(reverse("review_answer"), fields, **HTMX)
    assert ReviewLog.objects.get(user=learner).duration_ms == queue.MAX_DURATION_MS


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("quality", ["6", "-1", "4.5", "four", "", "٣"])
def test_a_grade_outside_0_to_5_is_a_400_with_a_clear_message(client, learner, quality):
    make_cards(1)
    fields = {**answer_fields(client, 0), "quality": quality}
    response = client.post(reverse("review_answer"), fields, **HTMX)
    assert response.status_code == 400
    assert "quality must be an integer from 0 to 5" in response.content.decode()
    assert ReviewState.objects.get(user=learner).version == 0
    assert not ReviewLog.objects.exists()


def test_missing_state_is_a_400(client, learner):
    response = client.post(reverse("review_answer"), {"quality": "4"})
    assert response.status_code == 400


def test_another_users_state_is_a_404_and_unchanged(client, learner):
    other = make_user()
    state = make_state(user=other)
    response = client.post(
        reverse("review_answer"),
        {"state": state.pk, "version": 0, "quality": 5, "request_id": str(uuid.uuid4())},
        **HTMX,
    )
    assert response.status_code == 404
    state.refresh_from_db()
    assert state.version == 0
    assert not ReviewLog.objects.exists()


def test_a_user_never_sees_or_changes_another_users_state(client, learner):
    other = make_user()
    other_state = make_state(user=other)
    fields = answer_fields(client, 5)
    # Cards are shared; states are not: the learner gets their own state for the same card.
    assert fields["state"] != str(other_state.pk)
    assert ReviewState.objects.get(pk=int(fields["state"])).user == learner
    client.post(reverse("review_answer"), fields)
    other_state.refresh_from_db()
    assert other_state.version == 0

    client.force_login(other)
    response = client.post(reverse("review_undo"), {"request_id": str(uuid.uuid4())}, **HTMX)
    assert "Nothing to undo" in response.content.decode()
    assert ReviewState.objects.get(pk=int(fields["state"])).version == 1


def test_double_submit_is_one_log_row_and_one_schedule_change(client, learner):
    make_cards(2)
    fields = answer_fields(client, 3)
    first = client.post(reverse("review_answer"), fields, **HTMX)
    second = client.post(reverse("review_answer"), fields, **HTMX)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "already recorded" in second.content.decode()
    assert ReviewLog.objects.filter(user=learner).count() == 1
    state = ReviewState.objects.get(user=learner, pk=int(fields["state"]))
    assert (state.repetitions, state.version) == (1, 1)


def test_get_on_the_answer_endpoint_is_refused(client, learner):
    assert client.get(reverse("review_answer")).status_code == 405
    assert client.get(reverse("review_undo")).status_code == 405
