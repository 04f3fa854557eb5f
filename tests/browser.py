"""Debian's Chromium, launched the same way by every browser test (Playwright, no browser download)."""

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from django.db import connections
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Headless as root (hence no sandbox), and no background traffic: this machine's closed network refuses it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch_chromium(playwright: Playwright) -> Browser:
    """Start headless Debian Chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def browser_page(base_url: str, **context_options: Any) -> Iterator[tuple[Page, list[str]]]:
    """A page in a fresh context of a new Chromium; yields it with the list its uncaught JS errors go to."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(base_url=base_url, **context_options)
            context.set_default_timeout(15_000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page, errors
        finally:
            browser.close()
            # Tests that use the ORM in-process while Playwright's loop runs (DJANGO_ALLOW_ASYNC_UNSAFE)
            # get a connection bound to that loop's context: close it from inside, or PostgreSQL
            # cannot drop the test database at the end of the session.
            if os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE"):
                connections.close_all()
