"""Headless Chromium for the page tests, driven by Playwright.

The browser is the distribution's Chromium (`apt-get install chromium`, which `make test`
does when it is missing), not one Playwright downloads: this machine reaches no download
site. Its background services are off, because they would reach for Google's hosts.
Screenshots go to `artefacts/screenshots/`, where a person can look at them after a run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "artefacts" / "screenshots"
PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The installed Chromium, or a failure that says how to install it."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed: run `make browser` (it runs `apt-get install chromium`)")
    return path


def screenshot(page, name: str) -> Path:
    """Keep the whole page as artefacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def overflows_sideways(page) -> bool:
    """True when the page is wider than the window: a reader would have to scroll sideways."""
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
