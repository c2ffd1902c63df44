"""Shared by the browser tests: Debian's Chromium driven by Playwright, and screenshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium fonts-noto-cjk)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_errors() -> Iterator[Callable[[Page], Page]]:
    """``watch(page)``: the test fails if the page breaks its Content-Security-Policy
    (Chromium reports each blocked script, style or connection on the console) or
    throws an uncaught script error."""
    found: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            found.append(message.text)

    def watch(page: Page) -> Page:
        page.on("console", on_console)
        page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
        return page

    yield watch
    assert not found, f"the page's scripts failed or were blocked: {found}"
