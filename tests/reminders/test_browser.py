"""The settings page in headless Chromium: the browser's time zone is offered only over the default.

Playwright's sync API runs an event loop in the test thread, so Django's ORM calls from the
test need DJANGO_ALLOW_ASYNC_UNSAFE; live_server needs a transactional database.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from cards.accounts.models import Profile
from tests.browser import browser_page
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_in_auckland(live_server, async_unsafe_orm):
    """A logged-out page whose browser says its time zone is Pacific/Auckland."""
    with browser_page(live_server.url, timezone_id="Pacific/Auckland") as (page, errors):
        yield page
        assert errors == [], f"JavaScript errors: {errors}"


def log_in(page, zone: str) -> Profile:
    user = make_user(username="tzlearner", email="tz@example.com", timezone=zone)
    profile = user.profile
    page.goto("/accounts/login/?next=/settings/")
    page.fill("#id_username", "tzlearner")
    page.fill("#id_password", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/settings/")
    return profile


def test_default_zone_is_replaced_by_the_browsers_and_saved(browser_in_auckland):
    page = browser_in_auckland
    profile = log_in(page, "UTC")
    expect(page.locator("#id_timezone")).to_have_value("Pacific/Auckland")
    expect(page.locator("#timezone-from-browser")).to_be_visible()
    page.select_option("#id_reminder_hour", "7")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    profile.refresh_from_db()
    assert (profile.timezone, profile.reminder_hour) == ("Pacific/Auckland", 7)


def test_a_chosen_zone_is_left_alone(browser_in_auckland):
    page = browser_in_auckland
    log_in(page, "Europe/Paris")
    expect(page.locator("#id_timezone")).to_have_value("Europe/Paris")
    expect(page.locator("#timezone-from-browser")).to_be_hidden()
