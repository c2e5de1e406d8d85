"""The rating page while an explanation is computed, in real headless Chromium:
it says so, offers no questions (the judgement is about the explanation), refreshes itself, and takes
the answer once the picture is shown."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.helpers.browser import BROWSER_MARKS, CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS, press, progress_is
from tests.helpers.platform_world import build_world
from tests.helpers.serve_workers import serving
from tests.helpers.slow_worker import SlowWorker
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Judgement

pytestmark = BROWSER_MARKS


@pytest.fixture
def slow_server(sqlite_settings):
    from trustlab.platform.app import create_app

    world = build_world(sqlite_settings, explanations=False)
    worker = SlowWorker(sqlite_settings, world.model_version_id, slow_s=3.0)
    try:
        with serving(create_app(sqlite_settings, worker=worker)) as url:
            yield world, url
    finally:
        worker.close()


def test_the_page_waits_for_the_explanation_then_takes_the_answer(slow_server):
    from playwright.sync_api import sync_playwright

    world, base = slow_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base}/?invite={world.invite('beta')[0]}")
            page.wait_for_selector("#tl-message :text('being prepared')", timeout=TIMEOUT_MS)
            assert page.locator(".tl-pending").count() == 1 and page.locator(".tl-expl img").count() == 0
            assert not page.locator("#tl-q-model_correct").is_visible()  # nothing to answer yet
            press(page, "y", "1", "4", "Enter")  # keys before the explanation store nothing
            page.wait_for_selector(".tl-expl img", timeout=TIMEOUT_MS)  # the page refreshed itself
            page.wait_for_selector("#tl-q-model_correct", state="visible", timeout=TIMEOUT_MS)
            with unit_of_work(world.settings) as s:
                assert s.scalar(select(func.count()).select_from(Judgement)) == 0
            press(page, "y", "1", "4", "Enter")
            progress_is(page, "1 / 2")
        finally:
            browser.close()
    with unit_of_work(world.settings) as s:
        assert s.scalar(select(func.count()).select_from(Judgement)) == 1
