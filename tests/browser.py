"""Headless Debian Chromium driven by Playwright's Python API, shared by the browser tests."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# as root, without the network: no sandbox, no background connections (they are refused here)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@contextmanager
def chromium(what: str):
    """A launched browser; skips with a clear message if Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium); "
                    f"skipping the browser test of {what}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
