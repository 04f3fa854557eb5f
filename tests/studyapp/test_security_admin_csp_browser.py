"""Every admin page under the strict Content-Security-Policy, in Chromium: no violation, no console error.

The policy (studyapp/middleware.py) allows no inline script, no inline style and no eval, for the
admin too. django-import-export's templates had an inline `onchange` ("Select all" on the export
page) and inline styles (the import preview's diff colours, from diff-match-patch): the app's
overrides in templates/admin/import_export/ replace them with static JS and CSS. This test walks
every page of every registered model (list, add, change, history, delete confirmation), the
import and export pages and the import preview, and fails on any blocked script or style.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from cards.admin import CardResource
from cards.anki.models import AnkiImport
from cards.challenges.models import AnswerReveal
from cards.models import Deck
from cards.review.models import ReviewLog
from tests import browser
from tests.factories import (
    PASSWORD,
    make_card,
    make_challenge,
    make_deck,
    make_submission,
    make_unsent_claim,
    make_user,
)

pytestmark = [pytest.mark.browser, pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
DESKTOP = {"width": 1280, "height": 900}
LONG_TEXT = (
    "An event loop runs one callback at a time; a blocking call such as requests.get inside an async def "
    "holds every other task until it returns, which is why the server saw the ten calls one after another. "
)


def _world() -> dict:
    """At least one object of every model the admin shows, so every change form can be opened."""
    user = make_user(username="learner", password=PASSWORD, email="learner@example.test")
    deck = make_deck(slug="async-and-sync", title="Async & Sync")
    card = make_card(deck=deck, key="event-loop", question="What is the event loop?", answer="A loop.", tags=("io",))
    ReviewLog.objects.create(
        user=user, card=card, source="review", quality=4, before={}, after={},
        reviewed_on=dt.date(2026, 1, 5), answered_at=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
    )  # fmt: skip
    challenge = make_challenge()
    make_submission(user=user, challenge=challenge)
    AnswerReveal.objects.create(user=user, challenge=challenge)
    make_unsent_claim(user=user, local_date=dt.date(2026, 1, 5), claimed_at=dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC))
    Group.objects.create(name="authors")
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    CrontabSchedule.objects.create(minute="0", hour="8")
    SolarSchedule.objects.create(event="sunrise", latitude=48.85, longitude=2.35)
    ClockedSchedule.objects.create(clocked_time=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    PeriodicTask.objects.create(name="reminders", task="cards.challenges.tasks.send_reminders", interval=interval)
    # An Anki import still running (its page polls with htmx) first, then a finished one with warnings.
    AnkiImport.objects.create(file_name="deck.apkg", status="running", started_at=dt.datetime.now(dt.UTC))
    AnkiImport.objects.create(file_name="old.apkg", status="done", summary="deck d (created)", warnings=["a warning"])
    return {"deck": deck, "card": card}


def _admin_pages(staff) -> list[str]:
    """Every page of the admin that `staff` can open with a GET, from the registry (a model added later is covered)."""
    request = RequestFactory().get("/admin/")
    request.user = staff
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    apps = set()
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        apps.add(opts.app_label)
        name = f"admin:{opts.app_label}_{opts.model_name}"
        pages.append(reverse(f"{name}_changelist"))
        if model_admin.has_add_permission(request):
            pages.append(reverse(f"{name}_add"))
        obj = model.objects.order_by("pk").first()
        assert obj is not None, f"no {opts.label} to open the change form of"
        pages += [reverse(f"{name}_{view}", args=[obj.pk]) for view in ("change", "history")]
        if model_admin.has_delete_permission(request, obj):
            pages.append(reverse(f"{name}_delete", args=[obj.pk]))
        for extra in ("import", "export"):
            with contextlib.suppress(NoReverseMatch):
                pages.append(reverse(f"{name}_{extra}"))
    pages += [reverse("admin:app_list", args=[app]) for app in sorted(apps)]
    first_user = get_user_model().objects.order_by("pk").first()
    pages.append(reverse("admin:auth_user_password_change", args=[first_user.pk]))
    return pages


@pytest.fixture
def admin_page(live_server, async_unsafe_orm, settings):
    with browser.browser_page(live_server.url, viewport=DESKTOP) as (page, errors):
        console: list[str] = []
        page.context.add_init_script(RECORD_VIOLATIONS)
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        staff = get_user_model().objects.create_superuser("csp-admin", "admin@example.test", PASSWORD)
        page.goto("/admin/login/")
        page.fill("input[name=username]", staff.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(lambda url: "/admin/login/" not in url)
        page.staff = staff
        yield page, console, errors


def _visit(page, path: str) -> list[str]:
    response = page.goto(path)
    assert response.status == 200, f"{path} answered {response.status}"
    policy = response.headers["content-security-policy"]  # the strict policy, not an admin exception
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe" not in policy, policy
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__csp")


def test_every_admin_page_runs_under_the_policy(admin_page) -> None:
    page, console, errors = admin_page
    _world()
    pages = _admin_pages(page.staff)
    assert len(pages) > 60  # 14 models, each with its list, forms, history and delete page
    violations = {path: found for path in pages if (found := _visit(page, path))}
    assert violations == {}, json.dumps(violations, indent=1)
    assert console == [] and errors == []


def test_the_export_page_select_all_ticks_and_unticks_every_field(admin_page) -> None:
    page, console, errors = admin_page
    make_card(deck=make_deck(), key="k1", question="Q?", answer="A.")
    assert _visit(page, reverse("admin:cards_card_export")) == []
    fields = page.locator('.selectable-field-export-row input[type="checkbox"]')
    assert fields.count() >= 4
    toggle = page.get_by_label("Select all")
    assert toggle.is_checked() and all(fields.nth(i).is_checked() for i in range(fields.count()))
    toggle.uncheck()
    assert not any(fields.nth(i).is_checked() for i in range(fields.count()))
    toggle.check()
    assert all(fields.nth(i).is_checked() for i in range(fields.count()))
    # And the export itself still works with the ticked fields.
    with page.expect_download() as download:
        page.click("input[type=submit]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("deck,key,question")
    assert page.evaluate("window.__csp") == [] and console == [] and errors == []


def test_the_import_preview_keeps_its_diff_colours_and_fits_the_window(admin_page, tmp_path) -> None:
    page, console, errors = admin_page
    # The real deck (code in its answers, long unbroken identifiers) exported, then edited: every card
    # changes, so the preview is a page of diffs, plus one new card. Before the fix it was 1,362 px wide.
    call_command("load_seed", stdout=io.StringIO())
    exported = CardResource().export().csv
    deck = Deck.objects.get()
    edited = exported.replace(" the ", " THE ") + f'{deck.slug},new-card,"{LONG_TEXT}",Answer.,io,999\r\n'
    upload = tmp_path / "cards.csv"
    upload.write_text(edited)
    assert _visit(page, reverse("admin:cards_card_import")) == []
    page.set_input_files("#id_import_file", str(upload))
    page.click("input[type=submit]")
    page.wait_for_selector("table.import-preview")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__csp") == []
    assert console == [] and errors == []
    # The diff's colours come from the stylesheet now: inserted text green, deleted text red.
    inserted = page.locator("table.import-preview td ins").first
    deleted = page.locator("table.import-preview td del").first
    assert _rgb(inserted.evaluate("e => getComputedStyle(e).backgroundColor")) == (230, 255, 230)
    assert _rgb(deleted.evaluate("e => getComputedStyle(e).backgroundColor")) == (255, 230, 230)
    assert page.locator("[style]").count() == 0  # nothing in the page relies on an inline style
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the preview is {width[0]} px wide in a {width[1]} px window"
    table = page.locator("table.import-preview").bounding_box()
    assert table["x"] + table["width"] <= DESKTOP["width"]
    # Confirming still imports.
    page.click("input[name=confirm]")
    page.wait_for_load_state("networkidle")
    assert "Import finished" in page.locator(".messagelist").inner_text()
    assert page.evaluate("window.__csp") == []


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", css)[:3])
