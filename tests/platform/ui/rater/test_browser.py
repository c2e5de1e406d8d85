"""The rating screen in real headless Chromium: invite link, keyboard only, reload, new device, finish."""

from __future__ import annotations

from sqlalchemy import select

from tests.helpers.browser import (
    BROWSER_MARKS,
    CHROMIUM,
    LAUNCH_ARGS,
    SCREENSHOT_DIR,
    TIMEOUT_MS,
    current_assignment,
    live_server,  # noqa: F401 (a fixture)
    press,
    progress_is,
)
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Assignment, Judgement, User

SCREENSHOT = SCREENSHOT_DIR / "rating.png"

pytestmark = BROWSER_MARKS


def test_rate_three_items_by_keyboard_with_reload_and_new_device(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    invite = world.invite("alpha")[0]
    link = f"{base}/?invite={invite}&pid=PROLIFIC-7"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(link)
            progress_is(page, "0 / 3")
            first = current_assignment(page)
            # Item 1: "yes", class 1, trust 4, Enter.
            press(page, "y", "1", "4", "Enter")
            progress_is(page, "1 / 3")
            second = current_assignment(page)
            assert second != first
            # Reload in the middle: the same item comes back.
            page.reload()
            progress_is(page, "1 / 3")
            assert current_assignment(page) == second
            # A new device (no localStorage) with the same link resumes at the same place too.
            other = browser.new_context().new_page()
            other.goto(link)
            progress_is(other, "1 / 3")
            assert current_assignment(other) == second
            other.context.close()
            if page.locator(".tl-expl img").count():
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            # Item 2: "no", class 2, trust 2, then a comment typed after `t`, submitted with Enter.
            press(page, "n", "2", "2", "t")
            page.keyboard.type("edges look odd")
            press(page, "Enter")
            progress_is(page, "2 / 3")
            third = current_assignment(page)
            if not SCREENSHOT.exists() or page.locator(".tl-expl img").count():
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            # Item 3: missing answers are refused with a message naming the question; then "can't tell".
            press(page, "Enter")
            page.wait_for_selector("#tl-message :text('Please answer')", timeout=TIMEOUT_MS)
            assert current_assignment(page) == third
            press(page, "c", "Enter")
            page.wait_for_selector("#tl-completion-code", timeout=TIMEOUT_MS)
            code = page.text_content("#tl-completion-code").strip()
            assert page.locator("#tl-tabs button[role=tab]:visible").count() == 0  # raters see no staff tabs
        finally:
            browser.close()
    with unit_of_work(world.settings) as s:
        rater = s.scalars(select(User).where(User.external_pid == "PROLIFIC-7")).one()
        assert rater.completion_code == code
        rows = {
            j.assignment_id: j
            for j in s.scalars(
                select(Judgement)
                .join(Assignment, Judgement.assignment_id == Assignment.id)
                .where(Assignment.rater_id == rater.id)
            )
        }
        assert set(rows) == {first, second, third}
        assert rows[first].answers == {
            "model_correct": True,
            "true_label": "square",
            "trust": 4,
            "cant_tell": False,
        }
        assert rows[second].answers == {
            "model_correct": False,
            "true_label": "disc",
            "trust": 2,
            "comment": "edges look odd",
            "cant_tell": False,
        }
        assert rows[third].answers == {"cant_tell": True}
        assert all(j.client_elapsed_ms and j.client_elapsed_ms > 0 for j in rows.values())
        assert {a.status for a in s.scalars(select(Assignment).where(Assignment.rater_id == rater.id))} == {
            "done"
        }
