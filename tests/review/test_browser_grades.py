"""The grade buttons as a learner meets them, on a 390 px phone and on a desktop.

On the phone, revealing a long answer must leave all six grades in view (they sat below the
fold at 832 px of an 844 px screen), with no keyboard hints on a touch screen; each button says
where the card goes; once shown, the answer cannot be hidden again by the button that showed it.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, make_card, make_deck, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

LONG_ANSWER = "Run it in a process pool:\n\n```python\n" + "\n".join(f"line_{i} = {i}" for i in range(30)) + "\n```"


def log_in_and_open_review(page) -> None:
    user = make_user(password=PASSWORD)
    deck = make_deck()
    make_card(deck=deck, position=1, question="How do you keep CPU work off the loop?", answer=LONG_ANSWER)
    make_card(deck=deck, position=2, question="Second card?", answer="Yes.")
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto("/review/")


class TestOnAPhone:
    @pytest.fixture
    def browser_context_options(self):
        return {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

    def test_revealing_a_long_answer_shows_every_grade_and_no_key_hints(self, page):
        log_in_and_open_review(page)
        page.locator("summary.reveal-button").tap()
        expect(page.locator("#reveal .card-answer")).to_be_visible()
        expect(page.locator("summary.reveal-button")).to_be_hidden()
        buttons = page.locator(".grade-buttons button")
        expect(buttons).to_have_count(6)
        height = page.viewport_size["height"]
        for index in range(6):
            box = buttons.nth(index).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (index, box)
            assert box["height"] >= 44 and box["width"] >= 44, (index, box)
        for hint in page.locator(".key-hint").all():
            expect(hint).to_be_hidden()
        buttons.filter(has_text="Good").tap()
        expect(page.locator(".card-question")).to_contain_text("Second card?")


class TestOnADesktop:
    @pytest.fixture
    def browser_context_options(self):
        return {"viewport": {"width": 1280, "height": 800}}

    def test_each_grade_says_where_the_card_goes_and_the_answer_stays_shown(self, page):
        log_in_and_open_review(page)
        page.locator("summary.reveal-button").click()
        expect(page.locator("summary.reveal-button")).to_be_hidden()
        page.locator("#reveal .card-answer").click()  # a click anywhere in the answer hides nothing
        expect(page.locator(".grade-buttons")).to_be_visible()
        names = page.locator(".grade-buttons button .grade-name").all_inner_texts()
        when = page.locator(".grade-buttons button .grade-when [aria-hidden=true]").all_inner_texts()
        assert list(zip(names, when, strict=True)) == [
            ("Perfect", "1 d"), ("Good", "1 d"), ("Hard", "today"), ("Almost", "today"), ("Wrong", "today"),
            ("Blackout", "today"),
        ]  # fmt: skip
        hard = page.locator(".grade-buttons button.q-hard")
        expect(hard).to_have_count(1)
        expect(hard).to_contain_text("Hard")
        expect(page.locator(".grade-buttons .key-hint").first).to_be_visible()
