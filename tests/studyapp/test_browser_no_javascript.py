"""With JavaScript switched off in Chromium, the learner's pages still work by plain form posts.

Log in, review (reveal, grade, a re-drill, undo) and submit a challenge, then watch the attempt's
page reload itself until the verdict is in. The grading is the real task, run in this process
with the plumbing tests' marker grader (the Celery worker path has its own tests).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cards.challenges import tasks
from cards.challenges.models import Submission
from cards.review.models import ReviewLog, ReviewState
from tests.factories import PASSWORD, make_card, make_challenge, make_deck, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_options():
    """The `page` fixture (conftest.py) with JavaScript switched off."""
    return {"java_script_enabled": False}


def answer(page: Page, question: str, quality: int) -> None:
    """Reveal the card (a <details>), check it is the expected one, press a grade button: a full page load."""
    expect(page.locator(".card-question")).to_contain_text(question)
    page.click("#reveal summary")
    expect(page.locator("#reveal .card-answer")).to_be_visible()
    with page.expect_navigation():
        page.click(f"button[name=quality][value='{quality}']")


def test_review_and_a_challenge_without_javascript(page):
    user = make_user(password=PASSWORD)
    deck = make_deck()
    make_card(deck=deck, position=1, question="What does `await` do?", answer="It pauses the coroutine.")
    make_card(deck=deck, position=2, question="Threads or processes for CPU-bound work?", answer="Processes.")

    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")

    page.goto("/review/")
    answer(page, "What does", 5)
    answer(page, "Threads or processes", 2)  # below 4: comes back the same day
    expect(page.locator(".redrill-badge")).to_be_visible()
    answer(page, "Threads or processes", 3)  # the re-drill, still below 4: again
    with page.expect_navigation():
        page.click("#undo-button")  # takes back the 3
    expect(page.locator(".redrill-badge")).to_be_visible()
    answer(page, "Threads or processes", 4)
    expect(page.locator("#done-heading")).to_have_text("Done for today")

    state = ReviewState.objects.get(user=user, card__question__startswith="Threads")
    assert (state.repetitions, state.interval, state.redrill) == (0, 1, False)
    answers = ReviewLog.objects.filter(user=user, source__in=["review", "redrill"], undone_by__isnull=True)
    assert list(answers.order_by("id").values_list("quality", flat=True)) == [5, 2, 4]

    # A challenge: the plain textarea (no editor), a rejected attempt keeps the code, then a real one.
    challenge = make_challenge(slug="no-js-challenge", title="Without JavaScript")
    page.goto(f"/challenges/{challenge.slug}/")
    code = page.locator("textarea#code")
    expect(code).to_be_visible()
    code.fill("async def get_data(url):\n    return 'mine'\x00\n")
    with page.expect_navigation():
        page.click("#submit-button")
    expect(page.locator("#submission-status")).to_contain_text("NUL byte")
    assert "return 'mine'" in code.input_value()

    code.fill("PASS\n")
    with page.expect_navigation():
        page.click("#submit-button")
    submission = Submission.objects.get(user=user)
    expect(page.locator("h1")).to_have_text("Attempt 1")  # numbered per learner and challenge, not site-wide
    expect(page.locator("#submission-status")).to_contain_text("Queued")

    tasks.grade_submission.apply(args=[submission.pk]).get()
    expect(page.locator("#submission-status")).to_contain_text("Passed", timeout=10_000)  # the page reloaded itself
