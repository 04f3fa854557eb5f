"""The Content-Security-Policy in a real browser: every page of the app works under it, with no violation.

A strict policy (no inline script or style, no eval) only holds if the pages were written for it;
headless Chromium reports each violation as a `securitypolicyviolation` event and a console error.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from cards.challenges.models import Challenge
from tests import browser
from tests.factories import PASSWORD, make_state, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def browser_page(live_server, async_unsafe_orm, settings):
    with browser.browser_page(live_server.url) as (page, console):
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        yield page, console


def _visit(page, path: str) -> list[str]:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__csp")


def _log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_the_learners_pages_run_under_the_policy_without_violations(browser_page) -> None:
    page, console = browser_page
    user = make_user(password=PASSWORD)
    make_state(user=user)
    Challenge.objects.create(
        slug="csp-check", title="CSP check", prompt="Write `f`.\n\n```python\ndef f(): ...\n```",
        starter_code="def f():\n    pass\n", reference_solution="def f(): pass", grader_kind="none",
    )  # fmt: skip
    violations: dict[str, list[str]] = {}
    violations["/accounts/login/"] = _visit(page, "/accounts/login/")
    violations["/accounts/signup/"] = _visit(page, "/accounts/signup/")
    _log_in(page, user.username, PASSWORD)
    for path in ("/", "/review/", "/challenges/", "/challenges/csp-check/", "/settings/"):
        violations[path] = _visit(page, path)
    # Use the page as a learner would: reveal the answer and grade it (htmx swaps the next card in).
    page.goto("/review/")
    page.click("#reveal summary")
    page.click("button[name=quality][value='4']")
    page.wait_for_load_state("networkidle")
    violations["/review/ (after answering)"] = page.evaluate("window.__csp")
    assert {path: found for path, found in violations.items() if found} == {}
    assert not [line for line in console if "Content Security Policy" in line], console


def test_the_admin_runs_under_the_policy_without_violations(browser_page) -> None:
    page, console = browser_page
    admin = get_user_model().objects.create_superuser("csp-admin", "admin@example.test", PASSWORD)
    page.goto("/admin/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(lambda url: "/admin/login/" not in url)
    violations = {path: _visit(page, path) for path in ("/admin/", "/admin/cards/card/", "/admin/cards/card/add/")}
    assert {path: found for path, found in violations.items() if found} == {}
    assert not [line for line in console if "Content Security Policy" in line], console
