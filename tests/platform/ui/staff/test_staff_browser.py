"""The researcher and curator tabs in real headless Chromium: sign in, progress, keyboard curation."""

from __future__ import annotations

from sqlalchemy import select

from tests.helpers.browser import (
    BROWSER_MARKS,
    CHROMIUM,
    LAUNCH_ARGS,
    TIMEOUT_MS,
    live_server,  # noqa: F401 (a fixture)
    sign_in,
)
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import Item, LabelRevision, RelabelProposal
from trustlab.platform.accounts import auth

pytestmark = BROWSER_MARKS


def add_proposals(world) -> list[int]:
    with unit_of_work(world.settings) as s:
        rows = []
        for k, item_id in enumerate(world.alpha_items[:3]):
            current = world.item_labels[item_id]
            proposed = "disc" if current == "square" else "square"
            rows.append(
                RelabelProposal(
                    dataset_id=world.dataset_id,
                    item_id=item_id,
                    current_label=current,
                    proposed_label=proposed,
                    score=0.9 - 0.1 * k,
                    method="majority",
                    evidence={
                        "votes": {proposed: 4, current: 1},
                        "probabilities": {proposed: 0.7, current: 0.3},
                    },
                )
            )
        s.add_all(rows)
        s.commit()
        return [r.id for r in rows]


def test_researcher_progress_and_curator_keyboard(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    auth.create_user(world.settings, username="rita", role="researcher", password="rita-pw-123")
    auth.create_user(world.settings, username="carl", role="curator", password="carl-pw-123")
    proposal_ids = add_proposals(world)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base)
            page.wait_for_selector("#tl-notice :text('invite link')", timeout=TIMEOUT_MS)
            page.click("#tl-tab-research-button")
            sign_in(page, "tl-res", "rita", "rita-pw-123")
            page.wait_for_selector(":text('judgements from')", timeout=TIMEOUT_MS)
            assert page.locator(":text('alpha')").count() > 0
            # alpha is open and nobody unblinded it: a clear line, no accuracy per condition.
            page.wait_for_selector("#tl-res-summary :text('Outcomes per condition are blinded')",
                                   timeout=TIMEOUT_MS)
            assert "study unblind alpha" in page.inner_text("#tl-res-summary")
            assert page.locator("td :text-is('blinded')").count() >= 2

            page.click("#tl-tab-curate-button")
            sign_in(page, "tl-cur", "carl", "carl-pw-123")
            page.wait_for_selector(f".tl-cur-card[data-proposal='{proposal_ids[0]}']", timeout=TIMEOUT_MS)
            page.keyboard.press("a")
            page.wait_for_selector(f".tl-cur-card[data-proposal='{proposal_ids[1]}']", timeout=TIMEOUT_MS)
            page.keyboard.press("r")
            page.wait_for_selector(f".tl-cur-card[data-proposal='{proposal_ids[2]}']", timeout=TIMEOUT_MS)
            page.keyboard.press("a")
            page.wait_for_selector(":text('The queue is empty')", timeout=TIMEOUT_MS)
            # `u` undoes the last decision (proposal 3) although its card has gone: it comes back.
            page.keyboard.press("u")
            page.wait_for_selector(f".tl-cur-card[data-proposal='{proposal_ids[2]}']", timeout=TIMEOUT_MS)
            page.keyboard.press("2")
            page.keyboard.press("o")
            page.wait_for_selector(":text('The queue is empty')", timeout=TIMEOUT_MS)
        finally:
            browser.close()
    with unit_of_work(world.settings) as s:
        status = {p.id: p.status for p in s.scalars(select(RelabelProposal))}
        assert [status[i] for i in proposal_ids] == ["accepted", "rejected", "accepted"]
        revisions = list(s.scalars(select(LabelRevision).order_by(LabelRevision.id)))
        assert [(r.actor, r.source) for r in revisions] == [
            ("carl", "curator"),
            ("carl", "curator"),
            ("carl", "undo"),
            ("carl", "curator"),
        ]
        assert revisions[0].proposal_id == proposal_ids[0] and revisions[3].new_label == "disc"
        changed = s.get(Item, world.alpha_items[0])
        assert changed.current_label != changed.original_label
