"""In Chromium: submit the seed's starter, see it fail with feedback naming the blocking line, submit the fix, pass.

Everything is real: the web server and a Celery worker as separate processes
(tests/challenges_stack.py), Redis, the sandbox, the async_blocking_call grader,
the vendored editor and htmx polling.
"""

import pytest
from playwright.sync_api import expect

from cards.challenges.loader import CHALLENGES_DIR
from tests.browser import browser_page
from tests.challenges_stack import Stack, migrated_template

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.slow, pytest.mark.sandbox, pytest.mark.redis]

SLUG = "async-blocking-call"
PASSWORD = "a-long-browser-password"
# The worker calibrates the grader on the reference once, then grades: generous on a loaded 2-core machine.
VERDICT_TIMEOUT_MS = 240_000

SET_UP = f"""
from django.contrib.auth import get_user_model
from cards.challenges.loader import load_challenges
load_challenges()
get_user_model().objects.create_user("learner", password={PASSWORD!r})
"""


def wait_for_verdict(page, after: str | None) -> str:
    """Wait until the status panel shows a finished verdict for a submission other than `after`."""
    page.wait_for_function(
        """(after) => {
            const panel = document.querySelector('#submission-status');
            return panel && panel.dataset.submission && panel.dataset.submission !== after
                && ['graded', 'error'].includes(panel.dataset.status);
        }""",
        arg=after,
        timeout=VERDICT_TIMEOUT_MS,
        polling=250,
    )
    return page.locator("#submission-status").get_attribute("data-submission")


def test_starter_fails_naming_the_blocking_line_then_the_fix_passes(tmp_path_factory, tmp_path):
    template = migrated_template(tmp_path_factory.mktemp("browser-db"))
    starter = (CHALLENGES_DIR / SLUG / "starter.py").read_text()
    fix = (CHALLENGES_DIR / SLUG / "reference.py").read_text()
    with Stack(tmp_path, template) as stack:
        stack.shell(SET_UP)
        base = stack.start_web()
        stack.start_worker("browser")
        with browser_page(base) as (page, errors):
            page.goto(f"{base}/accounts/login/?next=/challenges/{SLUG}/")
            page.fill("#id_username", "learner")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"**/challenges/{SLUG}/")

            # The editor replaced the textarea, holds the starter, highlights it, and Tab indents.
            editor = page.locator(".code-editor")
            expect(editor).to_be_visible()
            expect(editor).to_contain_text("requests.get(url)")
            expect(editor.locator(".token.keyword").first).to_be_visible()
            editor.click()
            page.keyboard.press("Control+End")
            page.keyboard.press("Tab")
            indented = page.eval_on_selector("#code", "t => t.value")
            assert len(indented) == len(starter) + 4 and indented.replace(" ", "") == starter.replace(" ", "")
            page.eval_on_selector(".code-editor", "(e, code) => e.codeJar.updateCode(code)", starter)
            assert page.eval_on_selector("#code", "t => t.value") == starter

            page.click("#submit-button")
            expect(page.locator("#submission-status")).to_have_attribute("data-status", "queued", timeout=15_000)
            first = wait_for_verdict(page, None)
            status = page.locator("#submission-status")
            expect(status).to_have_attribute("data-status", "graded")
            expect(status).to_contain_text("Not passed yet")
            expect(status).to_contain_text("Line 5")
            expect(status).to_contain_text("requests.get(url)")

            page.eval_on_selector(".code-editor", "(e, code) => e.codeJar.updateCode(code)", fix)
            page.click("#submit-button")
            wait_for_verdict(page, first)
            expect(status).to_have_attribute("data-status", "graded")
            expect(status).to_contain_text("Passed")
            expect(page.locator("#attempts tbody tr")).to_have_count(2)
            expect(page.locator("#attempts tbody tr").first).to_contain_text("passed")
            expect(page.locator("#attempts tbody tr").last).to_contain_text("failed")
            assert errors == []
