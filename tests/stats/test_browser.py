"""/stats/ in Chromium, on a desktop window and a 390 px phone: the accessibility audit, CSP, the calendar's keys."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import make_user
from tests.stats.history import month_of_history
from tests.studyapp.test_browser_accessibility import audit, focus_rings, log_in

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def browser_context_options(request):
    return {"viewport": request.param}


@pytest.fixture
def learner_with_a_month():
    user = make_user(timezone="Pacific/Auckland")
    today = user.profile.today(timezone.now())
    month_of_history(user, today)
    return user, today


def test_the_stats_page_passes_the_audit_and_the_csp(page, learner_with_a_month):
    user, _today = learner_with_a_month
    refused = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    log_in(page, user.username)

    page.goto("/stats/")

    expect(page.locator("h1")).to_have_text("Your progress")
    problems = audit(page, "/stats/") + focus_rings(page, "/stats/")
    page.locator("details summary").first.click()  # the calendar as a list, opened
    problems += audit(page, "/stats/ with the list open")
    assert problems == [], "\n".join(problems)
    assert refused == []


def day_label(day: dt.date, today: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}:"


def test_the_calendar_by_keyboard(page, learner_with_a_month):
    user, today = learner_with_a_month
    log_in(page, user.username)
    page.goto("/stats/")
    detail = page.locator("#heat-detail")

    page.locator("#heatmap rect[tabindex='0']").focus()
    expect(detail).to_contain_text(day_label(today, today))
    expect(detail).to_contain_text("(today)")
    page.keyboard.press("ArrowLeft")  # a week back
    expect(detail).to_contain_text(day_label(today - dt.timedelta(days=7), today))
    page.keyboard.press("ArrowUp")  # a day back
    expect(detail).to_contain_text(day_label(today - dt.timedelta(days=8), today))
    # One tab stop: the day focused now; Tab leaves the calendar.
    assert page.locator("#heatmap rect[tabindex='0']").count() == 1
    assert page.evaluate("document.activeElement.dataset.day") == (today - dt.timedelta(days=8)).isoformat()
