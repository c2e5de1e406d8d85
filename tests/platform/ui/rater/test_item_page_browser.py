"""The rater's item page at a laptop's 1366 x 768 and a phone's 390 x 844, in real headless Chromium:
twins are three neighbour pictures of at least 150 px with captions in readable type and the
catalogue's description, all on screen with Submit; a link study's practice feedback, its Continue
and Submit stay above the fold with six questions, a comment field and the Instructions button; on a
phone each new screen starts at the top."""

from __future__ import annotations

import pytest

from tests.helpers.browser import (
    BROWSER_MARKS,
    CHROMIUM,
    LAPTOP,
    LAUNCH_ARGS,
    PHONE,
    SCREENSHOT_DIR,
    TIMEOUT_MS,
    inside_viewport,
    no_horizontal_scroll,
    wait_item,
)
from tests.helpers.platform_world import CLASSES, build_world, study_config
from tests.helpers.recruit_world import add_link_study, link_config
from tests.helpers.serve_workers import serving
from trustlab.explanation_methods import METHODS

SIX_TASKS = ["verify", "true_label", "trust", "helpfulness", "confidence", "comment"]
# y: the prediction is right; 1: the first class; 4, 4, 4: trust, helpfulness, confidence.
ANSWER_KEYS = ("y", "1", "4", "4", "4")
MIN_NEIGHBOUR_PX = 150
MIN_CAPTION_PX = 13

pytestmark = BROWSER_MARKS


@pytest.fixture
def item_server(sqlite_settings):
    from trustlab.platform.app import create_app

    world = build_world(sqlite_settings, realistic=True)
    world.add_study(
        study_config("twins", conditions=["twin"], n=6, per_rater=2, blind=False, tasks=SIX_TASKS),
        world.alpha_items,
    )
    world.add_study(
        study_config("combo", conditions=["gradcam+twin"], n=6, per_rater=2, blind=False, tasks=SIX_TASKS),
        world.alpha_items,
    )
    link_study = link_config("crowd", practice={"n": 1}, tasks=SIX_TASKS, conditions=["gradcam", "twin"])
    add_link_study(world, link_study)
    with serving(create_app(sqlite_settings)) as url:
        yield world, url


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


def _press(page, keys) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(120)


def _join_crowd(page, base: str, pid: str) -> None:
    """Through consent and instructions to the practice item."""
    page.goto(f"{base}/?study=crowd&PROLIFIC_PID={pid}&STUDY_ID=s&SESSION_ID=x")
    page.click("#tl-consent-accept", timeout=TIMEOUT_MS)
    page.click("#tl-instructions-close", timeout=TIMEOUT_MS)
    page.wait_for_selector(".tl-stage[data-assignment=practice-0]", timeout=TIMEOUT_MS)


def _scroll_y(page) -> float:
    return page.evaluate("() => window.scrollY")


def test_twins_are_readable_at_1366x768_without_scrolling(item_server):
    from playwright.sync_api import sync_playwright

    world, base = item_server
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.goto(f"{base}/?invite={world.invite('twins')[0]}")
            wait_item(page)
            widths = page.locator(".tl-neighbour-img").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().width)"
            )
            assert len(widths) == 3 and min(widths) >= MIN_NEIGHBOUR_PX, widths
            fonts = page.locator(".tl-neighbour figcaption").evaluate_all(
                "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"
            )
            assert len(fonts) == 3 and min(fonts) >= MIN_CAPTION_PX, fonts
            captions = page.locator(".tl-neighbour figcaption").all_text_contents()
            words = [c.split() for c in captions]  # the class (the prediction is shown), the similarity
            assert [w[1:] for w in words] == [["similarity", s] for s in ("0.90", "0.80", "0.70")], words
            assert all(w[0] in CLASSES for w in words), words
            assert page.text_content(".tl-expl .tl-hint") == METHODS["twin"].description
            assert _scroll_y(page) == 0
            for selector in (".tl-expl", ".tl-main", "#tl-q-model_correct", "#tl-q-comment", "#tl-submit"):
                assert inside_viewport(page, selector), f"{selector} is below the fold at 1366 x 768"
            page.screenshot(path=str(SCREENSHOT_DIR / "twin-1366x768.png"))
            page.set_viewport_size(PHONE)
            page.wait_for_timeout(300)
            assert no_horizontal_scroll(page)
            widths = page.locator(".tl-neighbour-img").evaluate_all(
                "els => els.map(e => e.getBoundingClientRect().width)"
            )
            assert min(widths) >= MIN_NEIGHBOUR_PX, widths
            page.screenshot(path=str(SCREENSHOT_DIR / "twin-390x844.png"), full_page=True)
        finally:
            browser.close()


def test_a_heatmap_with_twins_fits_a_laptop_screen(item_server):
    """gradcam+twin: the image and the map shrink so the three twins end above the fold with Submit."""
    from playwright.sync_api import sync_playwright

    world, base = item_server
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.goto(f"{base}/?invite={world.invite('combo')[0]}")
            wait_item(page)
            page.wait_for_timeout(300)
            boxes = page.locator(".tl-neighbour").evaluate_all(
                "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.width, r.bottom]; })"
            )
            assert len(boxes) == 3 and min(w for w, _ in boxes) >= MIN_NEIGHBOUR_PX, boxes
            assert max(bottom for _, bottom in boxes) <= LAPTOP["height"], f"twins below the fold: {boxes}"
            for selector in (".tl-main", ".tl-expl-img", "#tl-submit"):
                assert inside_viewport(page, selector), f"{selector} is below the fold at 1366 x 768"
            page.screenshot(path=str(SCREENSHOT_DIR / "gradcam-twin-1366x768.png"))
        finally:
            browser.close()


def test_feedback_continue_and_submit_stay_above_the_fold_on_a_laptop(item_server):
    from playwright.sync_api import sync_playwright

    _, base = item_server
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=LAPTOP)
            _join_crowd(page, base, "P-laptop")
            assert page.is_visible("#tl-instructions-open") and page.is_visible("#tl-q-comment")
            assert inside_viewport(page, "#tl-submit"), "Submit is below the fold on the practice item"
            assert page.text_content(".tl-expl h3") == "The explanation"  # as the study's items say
            _press(page, ("n", "2", "4", "4", "4", "Enter"))
            page.wait_for_selector(".tl-feedback", timeout=TIMEOUT_MS)
            feedback = " ".join(page.text_content(".tl-feedback").split())
            assert "prediction was" in feedback and "the right class is" in feedback, feedback
            assert "?" not in feedback, f"the feedback quotes a question: {feedback}"
            for selector in (".tl-feedback", "#tl-submit", ".tl-main"):
                assert inside_viewport(page, selector), f"{selector} is below the fold after practice"
            assert "Continue" in page.text_content("#tl-submit")
            page.keyboard.press("Enter")  # Continue: on to the first item
            wait_item(page, "practice-0")
            for selector in ("#tl-submit", ".tl-expl", "#tl-instructions-open"):
                assert inside_viewport(page, selector), f"{selector} is below the fold on an item"
            assert _scroll_y(page) == 0
        finally:
            browser.close()


def test_a_phone_brings_feedback_into_view_and_starts_each_screen_at_the_top(item_server):
    from playwright.sync_api import sync_playwright

    _, base = item_server
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        try:
            page = browser.new_page(viewport=PHONE)
            _join_crowd(page, base, "P-phone")
            _press(page, (*ANSWER_KEYS, "Enter"))
            page.wait_for_selector(".tl-feedback", timeout=TIMEOUT_MS)
            page.wait_for_timeout(300)
            for selector in (".tl-feedback", "#tl-submit"):
                assert inside_viewport(page, selector), f"{selector} is off screen after practice"
            page.keyboard.press("Enter")
            current = wait_item(page, "practice-0")
            page.wait_for_timeout(300)
            assert _scroll_y(page) < 5, "the first item did not start at the top"
            _press(page, ANSWER_KEYS)
            assert _scroll_y(page) > 100  # answering took the rater down to the questions
            page.keyboard.press("Enter")
            wait_item(page, current)
            page.wait_for_timeout(300)
            assert _scroll_y(page) < 5, "after Submit the phone stayed scrolled down"
            page.screenshot(path=str(SCREENSHOT_DIR / "item-after-submit-390x844.png"))
        finally:
            browser.close()
