"""The researcher and curator tabs at 1366x768 in headless Chromium: the analysis and report
once a study is unblinded, one-click downloads, looks recorded as outcome blinding says,
Enter signs in, undo of a reject, a live count, the decision buttons in view."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.helpers.browser import (
    BROWSER_MARKS,
    CHROMIUM,
    LAPTOP,
    LAUNCH_ARGS,
    SCREENSHOT_DIR,
    TIMEOUT_MS,
    live_server,  # noqa: F401 (a fixture)
)
from tests.helpers.recruit_world import add_link_study, link_config
from tests.helpers.staff_world import add_many_proposals, rate_to_the_end
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import LabelRevision, RelabelProposal
from trustlab.platform.accounts import auth
from trustlab.studies.design.create import close_study
from trustlab.studies.monitoring.outcome_blinding import study_blinding, unblind_study

CLI_FLAG = "--"  # no command-line flag belongs in a browser's text

pytestmark = BROWSER_MARKS


def sign_in_with_enter(page, prefix: str, user: str, password: str) -> None:
    page.fill(f"#{prefix}-user input, #{prefix}-user textarea", user)
    page.fill(f"#{prefix}-password input", password)
    page.press(f"#{prefix}-password input", "Enter")
    page.wait_for_selector(f"#{prefix}-status :text('Signed in as')", timeout=TIMEOUT_MS)


def download_in_one_click(page, selector: str):
    """Click once and return the download that click started (fails when a click only prepares it)."""
    page.wait_for_function(
        "s => { const b = document.querySelector(s); return b && !b.disabled; }", arg=selector,
        timeout=TIMEOUT_MS,
    )
    with page.expect_download(timeout=10_000) as caught:
        page.click(selector)
    download = caught.value
    return download.suggested_filename, Path(download.path()).read_text(encoding="utf-8")


def looks(world) -> list[tuple[str, str]]:
    return [(look["source"], look["actor"]) for look in study_blinding(world.settings, "alpha")["looks"]]


def tab_text(page) -> str:
    return page.inner_text("#tl-tab-research")


def test_closed_study_shows_primary_result_flow_and_report_and_downloads_in_one_click(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    auth.create_user(world.settings, username="rita", role="researcher", password="rita-pw-123")
    rate_to_the_end(world)
    close_study(world.settings, "alpha", actor="pi")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP, accept_downloads=True)
            page.goto(base)
            page.click("#tl-tab-research-button")
            sign_in_with_enter(page, "tl-res", "rita", "rita-pw-123")  # Enter in the password field
            page.wait_for_selector("#tl-res-analysis :text('Primary result')", timeout=TIMEOUT_MS)
            analysis = page.inner_text("#tl-res-analysis")
            assert "gradcam − none" in analysis and "Holm-adjusted p" in analysis
            assert "significant at α = 0.05" in analysis
            flow = page.inner_text("#tl-res-flow")
            assert all(c in flow for c in ("gradcam", "none", "twin", "completed", "excluded"))
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / "researcher.png"))  # the README's, at 1366x768
            # One click each: the files were prepared when the study was chosen.
            name, text = download_in_one_click(page, "#tl-res-export")
            assert name == "alpha-judgements.csv" and text.splitlines()[0].startswith("judgement_id")
            assert len(text.splitlines()) >= 13  # a header and the 12 judgements
            name, report = download_in_one_click(page, "#tl-res-report-download")
            assert name == "alpha-report.html" and "Primary result" in report and "Participant flow" in report
            # The report in the tab itself, in a sandboxed frame.
            page.click("#tl-res-report-box button, #tl-res-report-box .label-wrap")
            frame = page.frame_locator("#tl-res-report iframe")
            frame.locator("h2:text('Participant flow')").wait_for(timeout=TIMEOUT_MS)
            assert page.get_attribute("#tl-res-report iframe", "sandbox") is not None
            assert CLI_FLAG not in tab_text(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "researcher-report.png"), full_page=True)
        finally:
            browser.close()
    assert looks(world) == [("close", "pi")]  # a closed study's analysis and export are no looks


def test_running_study_blinded_then_each_look_recorded_and_worded_for_the_tab(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    auth.create_user(world.settings, username="rita", role="researcher", password="rita-pw-123")
    rate_to_the_end(world)
    add_link_study(world, link_config())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP, accept_downloads=True)
            page.goto(base)
            page.click("#tl-tab-research-button")
            sign_in_with_enter(page, "tl-res", "rita", "rita-pw-123")
            page.wait_for_selector("#tl-res-summary :text('Outcomes per condition are blinded')",
                                   timeout=TIMEOUT_MS)
            text = tab_text(page)
            assert "open in this tab once the study is closed" in text and CLI_FLAG not in text
            assert page.is_disabled("#tl-res-export") and page.is_disabled("#tl-res-report-download")
            assert not page.is_visible("#tl-res-look") and "Primary result" not in text
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / "researcher-blinded.png"))

            unblind_study(world.settings, "alpha", actor="pi", reason="planned interim look")
            page.click("#tl-res-refresh")
            page.wait_for_selector("#tl-res-look", state="visible", timeout=TIMEOUT_MS)
            assert "recorded with your name" in page.inner_text("#tl-res-analysis")
            assert looks(world) == [("unblind", "pi")]  # showing the tab is no look
            page.click("#tl-res-look")
            page.wait_for_selector("#tl-res-analysis :text('Primary result')", timeout=TIMEOUT_MS)
            assert looks(world) == [("unblind", "pi"), ("analyze", "rita")]
            name, _ = download_in_one_click(page, "#tl-res-export")
            assert name == "alpha-judgements.csv"
            page.wait_for_timeout(500)  # the click's record is written by its own event
            assert looks(world)[-1] == ("export", "rita") and len(looks(world)) == 3
            assert CLI_FLAG not in tab_text(page)
            assert page.is_disabled("#tl-res-participants-export")  # alpha recruits by invite
            # A link study's participants list: one click too (outcome blinding does not withhold it).
            page.click("#tl-res-study input")
            page.click("[role=option][aria-label='crowd']")
            page.wait_for_selector("#tl-res-summary :text('crowd')", timeout=TIMEOUT_MS)
            name, text = download_in_one_click(page, "#tl-res-participants-export")
            assert name == "crowd-participants.csv" and text.splitlines()[0].startswith("pid")
        finally:
            browser.close()


def open_count(world) -> int:
    with unit_of_work(world.settings) as s:
        return s.scalar(
            select(func.count(RelabelProposal.id)).where(RelabelProposal.status == "open")
        )


def card_count_is(page, n: int) -> None:
    page.wait_for_selector(f".tl-cur-count:text('{n} open proposals left')", timeout=TIMEOUT_MS)


def test_curator_enter_count_undo_reject_choose_first_and_buttons_in_view(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    auth.create_user(world.settings, username="carl", role="curator", password="carl-pw-123")
    ids = add_many_proposals(world, 60, votes=False)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.goto(base)
            page.click("#tl-tab-curate-button")
            sign_in_with_enter(page, "tl-cur", "carl", "carl-pw-123")
            page.wait_for_selector(f".tl-cur-card[data-proposal='{ids[0]}']", timeout=TIMEOUT_MS)
            card_count_is(page, 60)  # all of them, not the 50 the queue lists
            assert "Rater votes: no rater votes yet" in page.inner_text("#tl-cur-card")
            for selector in ("#tl-cur-accept", "#tl-cur-reject", "#tl-cur-apply", "#tl-cur-undo",
                             ".tl-cur-labels", ".tl-cur-images", "#tl-cur-other"):
                box = page.locator(selector).bounding_box()
                assert box and box["y"] >= 0 and box["y"] + box["height"] <= LAPTOP["height"], selector
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT_DIR / "curator.png"))  # the README's

            page.keyboard.press("o")  # no label chosen yet
            page.wait_for_selector("#tl-cur-result :text('Choose a label first')", timeout=TIMEOUT_MS)
            assert "None" not in page.inner_text("#tl-cur-result")
            page.keyboard.press("r")
            page.wait_for_selector(f".tl-cur-card[data-proposal='{ids[1]}']", timeout=TIMEOUT_MS)
            card_count_is(page, 59)
            page.keyboard.press("u")  # undo the reject: the same item's proposal is back, first
            page.wait_for_selector("#tl-cur-result :text('Undone: your reject')", timeout=TIMEOUT_MS)
            card_count_is(page, 60)
            reopened = int(page.get_attribute(".tl-cur-card", "data-proposal"))
            page.keyboard.press("a")
            page.wait_for_selector(f".tl-cur-card:not([data-proposal='{reopened}'])", timeout=TIMEOUT_MS)
            card_count_is(page, open_count(world))
            assert open_count(world) < 60  # the accepted one, and that item's other proposals superseded
        finally:
            browser.close()
    with unit_of_work(world.settings) as s:
        rejected = s.get(RelabelProposal, ids[0])
        assert (rejected.status, rejected.decided_by) == ("rejected", "carl")  # the rejection is kept
        copy = s.get(RelabelProposal, reopened)
        assert copy.status == "accepted" and copy.evidence["undo"]["reopens_proposal_id"] == ids[0]
        revisions = [(r.source, r.proposal_id) for r in s.scalars(select(LabelRevision))]
        assert revisions == [("curator", reopened)]
