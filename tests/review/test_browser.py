"""A learner reviews by keyboard only in headless Chromium: Space, digits, Z; then the schedule is checked.

Playwright's sync API runs an event loop in the test thread, so Django's ORM calls from the
test need DJANGO_ALLOW_ASYNC_UNSAFE; live_server needs a transactional database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from cards.review import queue
from cards.review.models import ReviewLog, ReviewState
from tests.factories import PASSWORD, make_card, make_deck, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]


def grade(page, key: str, then_text: str) -> None:
    """Reveal with Space, grade with a digit key, wait for the next card (or screen) to be swapped in."""
    page.keyboard.press("Space")
    expect(page.locator("#reveal .card-answer")).to_be_visible()
    token = page.locator("#review-session [data-render]").get_attribute("data-render")
    page.keyboard.press(key)
    page.wait_for_function(
        "token => document.querySelector('#review-session [data-render]')?.dataset.render !== token", arg=token
    )
    expect(page.locator("#review-session")).to_contain_text(then_text)


def test_keyboard_review_with_redrill_and_undo(page):
    user = make_user(password=PASSWORD)
    deck = make_deck()
    first = make_card(deck=deck, position=1, question="What does `await` do?", answer="It pauses the coroutine.")
    second = make_card(deck=deck, position=2, question="Is `requests.get` safe in `async def`?", answer="No.")
    third = make_card(deck=deck, position=3, question="Threads or processes for CPU-bound work?", answer="Processes.")
    today = queue.local_today(user.profile)

    # Log in by keyboard.
    page.goto("/accounts/login/")
    page.locator("#id_username").focus()
    page.keyboard.type(user.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Today")

    page.goto("/review/")
    page.evaluate("window.__sameDocument = true")
    expect(page.locator(".card-question")).to_contain_text("What does await do?")
    expect(page.locator("#reveal .card-answer")).to_be_hidden()
    # Digits do nothing before the answer is shown.
    page.keyboard.press("5")
    expect(page.locator(".card-question")).to_contain_text("What does await do?")

    grade(page, "5", "requests.get")  # first: perfect
    grade(page, "2", "CPU-bound")  # second: failed -> re-drill today
    grade(page, "4", "requests.get")  # third: 4; the re-drill of the second comes up
    expect(page.locator(".redrill-badge")).to_be_visible()

    token = page.locator("#review-session [data-render]").get_attribute("data-render")
    page.keyboard.press("z")  # undo the third's answer: it is back
    page.wait_for_function(
        "token => document.querySelector('#review-session [data-render]')?.dataset.render !== token", arg=token
    )
    expect(page.locator("#review-session")).to_contain_text("Undone")
    expect(page.locator(".card-question")).to_contain_text("CPU-bound")

    grade(page, "3", "requests.get")  # third again: 3 -> it joins the re-drill queue
    expect(page.locator(".redrill-badge")).to_be_visible()
    grade(page, "4", "CPU-bound")  # second's re-drill passes
    grade(page, "5", "Done for today")  # third's re-drill passes
    expect(page.locator("#review-session")).to_contain_text("You answered 5 cards today")
    assert page.evaluate("window.__sameDocument") is True  # every card came by htmx, no page load

    states = {s.card_id: s for s in ReviewState.objects.filter(user=user)}
    tomorrow = today + dt.timedelta(days=1)
    assert (states[first.id].repetitions, states[first.id].easiness, states[first.id].interval) == (
        1,
        Decimal("2.60"),
        1,
    )
    assert (states[second.id].repetitions, states[second.id].easiness, states[second.id].interval) == (
        0,
        Decimal("2.50"),
        1,
    )
    assert (states[third.id].repetitions, states[third.id].easiness, states[third.id].interval) == (
        1,
        Decimal("2.36"),
        1,
    )
    assert all(s.due_on == tomorrow and not s.redrill for s in states.values())

    logs = list(ReviewLog.objects.filter(user=user).order_by("id"))
    assert [(log.card_id, log.source, log.quality) for log in logs] == [
        (first.id, "review", 5),
        (second.id, "review", 2),
        (third.id, "review", 4),
        (third.id, "undo", None),
        (third.id, "review", 3),
        (second.id, "redrill", 4),
        (third.id, "redrill", 5),
    ]
    assert logs[3].undoes_id == logs[2].id
    answers = [log for log in logs if log.source != "undo"]
    assert all(log.duration_ms is not None and 0 < log.duration_ms < queue.MAX_DURATION_MS for log in answers)


# Runs in the page: as soon as the next card has been swapped in, in the very next task (as a fast
# typist's key would), reveal and grade it 4 by keyboard.
GRADE_ON_ARRIVAL = """() => {
  new MutationObserver((_, observer) => {
    observer.disconnect();
    setTimeout(() => {
      document.dispatchEvent(new KeyboardEvent("keydown", {key: " ", bubbles: true}));
      document.dispatchEvent(new KeyboardEvent("keydown", {key: "4", bubbles: true}));
    }, 0);
  }).observe(document.getElementById("review-session"), {childList: true});
}"""


def test_a_key_pressed_the_moment_the_next_card_arrives_is_answered_in_place(page):
    """The swapped-in card's forms are live at once: a grade right after the swap goes by htmx,
    not as a plain form post that reloads the page (htmx's default 20 ms settle delay allowed that)."""
    user = make_user(password=PASSWORD)
    deck = make_deck()
    first = make_card(deck=deck, position=1, question="What does `await` do?", answer="It pauses the coroutine.")
    second = make_card(deck=deck, position=2, question="Is `requests.get` safe in `async def`?", answer="No.")
    make_card(deck=deck, position=3, question="Threads or processes for CPU-bound work?", answer="Processes.")
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Today")

    page.goto("/review/")
    page.evaluate("window.__sameDocument = true")
    page.evaluate(GRADE_ON_ARRIVAL)
    page.keyboard.press("Space")
    page.keyboard.press("5")
    expect(page.locator(".card-question")).to_contain_text("CPU-bound")  # the second was graded on arrival
    assert page.evaluate("window.__sameDocument") is True
    logs = ReviewLog.objects.filter(user=user).order_by("id")
    assert [(log.card_id, log.quality) for log in logs] == [(first.id, 5), (second.id, 4)]
