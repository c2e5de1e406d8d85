"""What the real-browser tests share: how Chromium is launched, the marks that skip them where it is
missing, the app served on a realistic world (the ``live_server`` fixture: import it into a test
module to use it), and the page helpers (keys pressed one by one, waiting for a counter or an item,
whether a box is on screen, the staff sign-in).

A test module opts in with ``pytestmark = BROWSER_MARKS``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers.platform_world import build_world
from tests.helpers.serve_workers import serving

CHROMIUM = "/usr/bin/chromium"  # Debian's package: playwright downloads no browser here
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
# Screenshots go to TRUSTLAB_SCREENSHOT_DIR (e.g. docs/screenshots) when set, else a temp folder.
SCREENSHOT_DIR = Path(os.environ.get("TRUSTLAB_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "tl-shots")
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
# Each key waits this long so that Gradio registers one choice before the next key arrives.
KEY_PAUSE_MS = 150

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture
def live_server(sqlite_settings):
    """The app (REST API and UI) served on a realistic world: ``(world, base_url)``."""
    from trustlab.platform.app import create_app

    world = build_world(sqlite_settings, realistic=True)
    with serving(create_app(sqlite_settings)) as url:
        yield world, url


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(KEY_PAUSE_MS)


def progress_is(page, text: str) -> None:
    """Wait until the rating page's counter reads ``text`` (e.g. "1 / 3")."""
    page.wait_for_function(
        "t => { const e = document.querySelector('.tl-progress-text');"
        " return e && e.textContent.trim() === t; }",
        arg=text,
        timeout=TIMEOUT_MS,
    )


def current_assignment(page) -> int:
    page.wait_for_selector(".tl-stage", timeout=TIMEOUT_MS)
    return int(page.get_attribute(".tl-stage", "data-assignment"))


def wait_item(page, previous: str | None = None) -> str:
    """Wait for an item other than ``previous`` with every picture decoded; its assignment id."""
    page.wait_for_function(
        "a => { const e = document.querySelector('.tl-stage');"
        " return e && e.getAttribute('data-assignment') !== a && !e.querySelector('.tl-pending'); }",
        arg=previous,
        timeout=TIMEOUT_MS,
    )
    page.wait_for_function(  # every picture decoded (its box is final)
        "() => Array.from(document.querySelectorAll('.tl-stage img'))"
        ".every(i => i.complete && i.naturalWidth)",
        timeout=TIMEOUT_MS,
    )
    return page.get_attribute(".tl-stage", "data-assignment")


def inside_viewport(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    assert box is not None, f"{selector} is not shown"
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"] + 0.5
        and (box["y"] + box["height"] <= size["height"] + 0.5)
    )


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        " && document.body.scrollWidth <= document.body.clientWidth"
    )


def sign_in(page, prefix: str, user: str, password: str) -> None:
    """Sign in on a staff tab (``prefix``: its element ids' prefix) by clicking the button."""
    page.fill(f"#{prefix}-user input, #{prefix}-user textarea", user)
    page.fill(f"#{prefix}-password input", password)
    page.click(f"#{prefix}-signin")
    page.wait_for_selector(f"#{prefix}-status :text('Signed in as')", timeout=TIMEOUT_MS)
