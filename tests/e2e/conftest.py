"""Browser fixtures for end-to-end tests: headless Chromium (Debian's
/usr/bin/chromium, never a downloaded browser) driven by Playwright's sync
API against pytest-django's live server.

    page                      a fresh page (not signed in); page.goto("/...") is relative to the live server
    logged_in_page(user)      a fresh page signed in as `user` (several users may have pages at once;
                              viewport={"width": ..., "height": ...} sizes its window)
    responses(page)           record the responses a page receives: [(url, status, body text)]

Tests using them need the committed database the live server reads:
mark them `@pytest.mark.django_db(transaction=True)` (and `@pytest.mark.e2e`).
"""

from __future__ import annotations

import os

import pytest

# Playwright's sync API runs an event loop in this thread; Django refuses
# ORM calls from a thread with a running loop unless told it is safe here
# (it is: the loop only drives the browser).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"No Chromium at {CHROMIUM}; install Debian's chromium package (never `playwright install`).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _new_context(browser, live_server, viewport=None):
    context = browser.new_context(base_url=live_server.url, viewport=viewport or {"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = _new_context(browser, live_server)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def logged_in_page(browser, live_server, transactional_db):
    """A factory: logged_in_page(user) returns a page whose browser holds a
    session of `user` (made with Django's test client, no login form);
    logged_in_page(user, viewport={"width": 1366, "height": 768}) sizes its window."""
    from django.conf import settings
    from django.test import Client

    contexts = []

    def make(user, viewport=None):
        client = Client()
        client.force_login(user)
        context = _new_context(browser, live_server, viewport)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                }
            ]
        )
        contexts.append(context)
        return context.new_page()

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def responses():
    """responses(page) starts recording; returns the list it fills with (url, status, text)."""

    def record(page):
        seen: list[tuple[str, int, str]] = []

        def on_response(response):
            try:
                text = (
                    response.text()
                    if "json" in (response.headers.get("content-type") or "")
                    or "html" in (response.headers.get("content-type") or "")
                    else ""
                )
            except Exception:  # a body the browser dropped (redirects, aborted requests)
                text = ""
            seen.append((response.url, response.status, text))

        page.on("response", on_response)
        return seen

    return record
