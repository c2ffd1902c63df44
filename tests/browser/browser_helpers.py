"""Helpers for the browser tests (importable by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from playwright.sync_api import Page

from bot.settings import PROJECT_ROOT

SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the page's current state in var/screenshots/ (kept with the test output)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
