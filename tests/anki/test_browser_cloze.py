"""A cloze card in Chromium: the deletion hidden on the question side, shown on reveal (Space)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from cards.models import Card
from tests.factories import PASSWORD, make_card, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

TEXT = "The {{c1::event loop}} runs one task at a time; {{c2::<code>await</code>::a keyword}} yields to it."


def log_in(page, user) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Today")


def test_cloze_reveal(page):
    user = make_user(password=PASSWORD)
    make_card(question=TEXT, answer="<i>asyncio</i>", text_format=Card.TextFormat.HTML, cloze=2)
    log_in(page, user)
    page.goto("/review/")
    question = page.locator(".card-question")
    expect(question).to_have_text("The event loop runs one task at a time; [a keyword] yields to it.")
    expect(question.locator(".cloze-blank")).to_have_text("[a keyword]")
    expect(page.locator("#reveal .card-answer")).to_be_hidden()
    page.keyboard.press("Space")
    answer = page.locator("#reveal .card-answer")
    expect(answer).to_be_visible()
    shown = answer.locator(".cloze")
    expect(shown).to_have_text("await")
    expect(shown.locator("code")).to_have_count(1)  # code stays code inside the deletion
    expect(answer).to_contain_text("The event loop runs one task at a time; await yields to it.")
    expect(answer.locator("i")).to_have_text("asyncio")
    # Highlighted: the shown deletion is styled apart from the text around it.
    background = shown.evaluate("node => getComputedStyle(node).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
