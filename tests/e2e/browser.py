"""Debian's Chromium under Playwright, for the browser tests.

Without /usr/bin/chromium the browser tests are skipped with a one-line reason,
unless BACKCHANNEL_REQUIRE_BROWSER=1 (set by .ci/run after installing it), in
which case they fail. Every page opened through `offline_context` has its
requests to anything but the loopback interface aborted, and counted, so a test
can prove a page needs nothing from elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = os.environ.get("BACKCHANNEL_REQUIRE_BROWSER", "") not in ("", "0", "no")
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def require_chromium() -> None:
    """Skip the calling test (fail it when the browser is required) without Chromium."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install chromium)"
    if REQUIRE_BROWSER:
        pytest.fail(message + " and BACKCHANNEL_REQUIRE_BROWSER is set", pytrace=False)
    pytest.skip(message + "; browser tests skipped")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed afterwards (skips or fails as `require_chromium`)."""
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def offline_context(browser: Browser, **options: Any) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A browser context whose requests to non-loopback hosts are aborted; yields it and
    the list of addresses it blocked."""
    context = browser.new_context(**options)
    blocked: list[str] = []

    def guard(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    try:
        yield context, blocked
    finally:
        context.close()
