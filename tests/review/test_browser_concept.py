"""A concept's review in headless Chromium, on a desktop window and a 390 px phone: opened from the
stats page's Concepts table, a due card answered by keyboard, then a practice card that changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from tests.factories import PASSWORD, make_card, make_deck, make_state, make_user
from tests.studyapp.test_browser_accessibility import audit, log_in

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def browser_context_options(request):
    return {"viewport": request.param}


def press_and_wait(page, key: str) -> None:
    """Press `key` and wait until htmx has swapped in the next card (or screen)."""
    token = page.locator("#review-session [data-render]").get_attribute("data-render")
    page.keyboard.press(key)
    page.wait_for_function(
        "token => document.querySelector('#review-session [data-render]')?.dataset.render !== token", arg=token
    )


def test_a_concept_from_the_stats_page_due_card_then_practice(page):
    user = make_user(password=PASSWORD)
    today = queue.local_today(queue.profile_for(user))
    deck = make_deck()
    due = make_card(deck=deck, tags=["gil"], question="What does the **GIL** serialise?", answer="Bytecode.")
    known = make_card(deck=deck, tags=["gil"], question="Do threads help CPU-bound Python?", answer="No.")
    other = make_card(deck=deck, tags=["event-loop"], question="What blocks the event loop?", answer="Sync I/O.")
    for card, due_on in ((due, today - dt.timedelta(days=1)), (known, today + dt.timedelta(days=9)), (other, today)):
        make_state(
            user=user, card=card, due_on=due_on, repetitions=2, interval=6,
            last_reviewed_on=due_on - dt.timedelta(days=6),
        )  # fmt: skip
    log_in(page, user.username)
    page.goto("/stats/")
    page.get_by_role("link", name="Review gil").click()
    expect(page.locator("h1")).to_have_text("Concept: gil")
    expect(page.locator("#review-session")).to_contain_text("Due review")
    expect(page.locator(".card-question")).to_contain_text("What does the GIL serialise?")
    page.evaluate("window.__sameDocument = true")
    problems = audit(page, "concept due question")

    # The due card, by keyboard: Space shows the answer, 4 grades it.
    page.keyboard.press("Space")
    expect(page.locator("#reveal .card-answer")).to_be_visible()
    problems += audit(page, "concept due answer")
    press_and_wait(page, "4")

    # Nothing of the concept is due: the practice pass, its seen cards in order.
    session = page.locator("#review-session")
    expect(session).to_contain_text("Practice: answers here do not change your schedule.")
    expect(session.locator('[data-testid="practice-count"]')).to_have_text("Card 1 of 2")
    expect(page.locator(".card-question")).to_contain_text("What does the GIL serialise?")
    expect(page.locator("#undo-button")).to_contain_text("Undo last review answer")
    problems += audit(page, "concept practice question")
    states = list(ReviewState.objects.filter(user=user).order_by("id").values_list())
    logs = ReviewLog.objects.filter(user=user).count()

    page.keyboard.press("Space")
    expect(page.locator("#reveal .card-answer")).to_be_visible()
    problems += audit(page, "concept practice answer")
    press_and_wait(page, "2")
    expect(session.locator('[data-testid="practice-count"]')).to_have_text("Card 2 of 2")
    expect(page.locator(".card-question")).to_contain_text("Do threads help CPU-bound Python?")
    assert list(ReviewState.objects.filter(user=user).order_by("id").values_list()) == states
    assert ReviewLog.objects.filter(user=user).count() == logs

    page.keyboard.press("Space")
    press_and_wait(page, "5")
    expect(page.locator("#done-heading")).to_have_text("Practice done")
    expect(page.locator("#done-heading")).to_be_focused()
    problems += audit(page, "concept practice done")
    assert page.evaluate("window.__sameDocument") is True  # every card came by htmx

    log = ReviewLog.objects.filter(user=user).latest("id")
    assert (log.card_id, log.source, log.quality) == (due.id, "review", 4)
    assert "What blocks the event loop?" not in page.content()
    assert problems == [], "\n".join(problems)
