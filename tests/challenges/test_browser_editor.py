"""The challenge editor in Chromium: reset to the starter code, and bring one's own code back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import FAILING, PASSWORD, make_challenge, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]


def test_reset_to_starter_and_back_loses_nothing(page):
    user = make_user(password=PASSWORD)
    challenge = make_challenge()
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"/challenges/{challenge.slug}/")
    editor = page.locator(".code-editor")
    expect(editor).to_contain_text("FAIL")  # the starter, until the learner types
    page.evaluate("document.querySelector('.code-editor').codeJar.updateCode('print(\"mine\")\\n')")
    editor.type("x = 1")  # a keystroke, so CodeJar reports the change to the form
    typed = page.locator("#code").input_value()
    assert "mine" in typed

    page.click("#reset-starter")
    expect(page.locator("#undo-reset")).to_be_visible()
    assert page.locator("#code").input_value() == FAILING
    assert page.url.endswith(f"/challenges/{challenge.slug}/")  # in place, no reload

    page.click("#undo-reset")
    expect(page.locator("#undo-reset")).to_be_hidden()
    assert page.locator("#code").input_value() == typed
    expect(editor).to_contain_text("mine")


def test_show_me_swaps_the_answer_in_and_keeps_the_code_being_typed(page):
    user = make_user(password=PASSWORD)
    challenge = make_challenge(reference_solution="async def get_data(url):\n    return 'REFERENCE'  # PASS\n")
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"/challenges/{challenge.slug}/")
    expect(page.locator("#answer")).to_be_hidden()
    page.evaluate("document.querySelector('.code-editor').codeJar.updateCode('print(\"half done\")\\n')")
    page.locator(".code-editor").type("y = 2")
    typed = page.locator("#code").input_value()

    page.click("#show-me-button")
    expect(page.locator("#answer")).to_contain_text("REFERENCE")
    expect(page.locator("#answer")).to_contain_text("count at most 3 of 5")
    expect(page.locator("#show-me-button")).to_have_count(0)
    assert page.url.endswith(f"/challenges/{challenge.slug}/")  # swapped in place: no reload, nothing sent
    assert page.locator("#code").input_value() == typed
    assert not challenge.submissions.exists()
