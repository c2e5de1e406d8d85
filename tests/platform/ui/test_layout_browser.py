"""The rating screen's layout in real headless Chromium: on a 1366 x 768 laptop the image, the prediction
and the explanation are on screen without scrolling; on a 390 x 844 phone nothing scrolls sideways;
arrow keys scroll the page unless a question has focus; single-key shortcuts can be switched off."""

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
    live_server,  # noqa: F401 (a fixture)
    no_horizontal_scroll,
    wait_item,
)
from tests.helpers.platform_world import build_world, study_config
from tests.helpers.serve_workers import serving

CHECKED_TRUST = (
    "v => { const i = document.querySelector('#tl-q-trust input:checked'); return i && i.value === v; }"
)

pytestmark = BROWSER_MARKS


def test_laptop_shows_image_prediction_and_explanation_phone_has_no_sideways_scroll(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    link = f"{base}/?invite={world.invite('alpha')[0]}"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    explained = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.goto(link)
            current = wait_item(page)
            for n in range(3):  # none, gradcam, twin (one of each: a within-subject study)
                page.set_viewport_size(LAPTOP)
                page.evaluate("() => window.scrollTo(0, 0)")
                assert inside_viewport(page, ".tl-main")
                assert inside_viewport(page, ".tl-prediction")
                expl = page.locator(".tl-expl-img, .tl-neighbour-img")  # a picture, or a twin's neighbours
                if expl.count():
                    assert inside_viewport(page, ".tl-expl"), "the explanation is cut off on a laptop"
                    alt = expl.first.get_attribute("alt")
                    assert alt and "gradcam" not in alt.lower() and "twin" not in alt.lower()  # blinded
                    explained += 1
                    page.screenshot(path=str(SCREENSHOT_DIR / f"rating-laptop-{n}.png"))
                page.set_viewport_size(PHONE)
                page.wait_for_timeout(200)
                assert no_horizontal_scroll(page), "the phone screen scrolls sideways"
                if expl.count():
                    page.screenshot(path=str(SCREENSHOT_DIR / f"rating-phone-{n}.png"), full_page=True)
                page.set_viewport_size(LAPTOP)
                for key in ("y", "1", "4", "Enter"):
                    page.keyboard.press(key)
                    page.wait_for_timeout(150)
                if n < 2:
                    current = wait_item(page, current)
            page.wait_for_selector("#tl-completion-code", timeout=TIMEOUT_MS)
        finally:
            browser.close()
    assert explained == 2  # the heatmap and the twins were both checked


def test_arrows_scroll_unless_a_question_has_focus_and_single_keys_switch_off(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    link = f"{base}/?invite={world.invite('alpha')[0]}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 500})
            page.goto(link)
            first = wait_item(page)
            # Nothing focused: ArrowDown scrolls the page and picks nothing.
            page.keyboard.press("ArrowDown")
            page.wait_for_function("() => window.scrollY > 0", timeout=TIMEOUT_MS)
            assert page.locator("#tl-q-model_correct input:checked").count() == 0
            # A question focused: ArrowDown moves to the next question (the page's scroll is ours).
            page.focus("#tl-q-model_correct input[value=yes]")
            page.keyboard.press("ArrowDown")
            page.wait_for_function(
                "() => document.activeElement && document.activeElement.closest('#tl-q-true_label')",
                timeout=TIMEOUT_MS,
            )
            page.evaluate("() => document.activeElement.blur()")
            # Shortcuts off: y, 1 and c do nothing; on again (remembered in this browser): they answer.
            page.click("#tl-keys-on input[type=checkbox]")
            page.reload()
            assert wait_item(page) == first
            page.wait_for_function(
                "() => { const b = document.querySelector('#tl-keys-on input'); return b && !b.checked; }",
                timeout=TIMEOUT_MS,
            )
            for key in ("y", "1", "c"):
                page.keyboard.press(key)
                page.wait_for_timeout(100)
            assert page.locator("#tl-rate-panel input:checked").count() == 0
            page.click("#tl-keys-on input[type=checkbox]")
            page.keyboard.press("y")
            page.wait_for_timeout(150)
            assert page.is_checked("#tl-q-model_correct input[value=yes]")
        finally:
            browser.close()


@pytest.mark.parametrize("points", [10])
def test_two_digit_keys_choose_ten(sqlite_settings, points):
    """A 10-point Likert scale: `1` then `0` picks 10, a lone `1` picks 1 after the pause."""
    from playwright.sync_api import sync_playwright

    from trustlab.platform.app import create_app

    world = build_world(sqlite_settings)
    world.add_study(
        study_config("wide", conditions=["none"], n=6, per_rater=2, tasks=("trust",), likert_points=points),
        world.alpha_items,
    )
    with serving(create_app(sqlite_settings)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.goto(f"{base}/?invite={world.invite('wide')[0]}")
            wait_item(page)
            page.keyboard.press("1")
            page.keyboard.press("0")
            page.wait_for_function(CHECKED_TRUST, arg="10", timeout=TIMEOUT_MS)
            page.keyboard.press("1")
            page.wait_for_function(CHECKED_TRUST, arg="1", timeout=TIMEOUT_MS)
        finally:
            browser.close()
