"""The README's "Running on Prolific / MTurk" guide, walked in real headless Chromium: `study create`
(a crowd-trust YAML with consent.md and instructions.md beside it, on the small world the recruitment
tests use) -> `study open` -> `study link` -> the printed link opened as is (refused: it still
holds Prolific's placeholders) -> a participant opens it with Prolific's parameters -> consent ->
instructions -> practice -> items with an attention check -> the completion redirect with the code ->
`study participants` lists them as completed. At every step a reload (at consent also Back then
Forward) comes back to the same step."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.helpers.browser import BROWSER_MARKS, CHROMIUM, LAUNCH_ARGS, SCREENSHOT_DIR, TIMEOUT_MS, press
from tests.helpers.platform_world import build_world
from tests.helpers.serve_workers import serving
from trustlab.cli import _load_verbs
from trustlab.cli.app import app as cli_app
from trustlab.db.engine import read_session, unit_of_work
from trustlab.db.queries.users import add_invites
from trustlab.db.schema import Participant, Study, User
from trustlab.platform.accounts import auth

pytestmark = BROWSER_MARKS

COMPLETE = "https://app.prolific.com/submissions/complete?cc="
CONSENT_MD = "# Consent to take part\n\nYou will rate pictures. Your answers are stored without your name.\n"
INSTRUCTIONS_MD = "# How to rate\n\nSay whether the model is right, then what is really in the image.\n"
ATTENTION = "To show you read this, choose 'No'."
STUDY_YAML = """\
name: crowd-trust
dataset: shapes
model: cnn
items: {split: test, n: 4, model_errors: 0.5}
conditions: [none, gradcam]
design: within
raters_per_item: 2
items_per_rater: 4
tasks: [verify, true_label, trust, helpfulness, confidence, comment]
show_prediction: true
hide_condition: true
seed: 1
recruitment: {mode: link, platform: prolific, max_participants: 2,
              completion_url: "https://app.prolific.com/submissions/complete?cc={code}"}
consent: {file: consent.md}
instructions: {file: instructions.md}
practice: {n: 2}
attention: [{prompt: "To show you read this, choose 'No'.", answer: {model_correct: false}}]
gold: {n: 1, max_failures: 1}
"""


def trustlab(settings, *args: str, exit_code: int = 0) -> str:
    env = {"TRUSTLAB_HOME": str(settings.home), "TRUSTLAB_DB_URL": settings.database_url}
    result = CliRunner().invoke(cli_app, list(args), env=env)
    assert result.exit_code == exit_code, result.output
    return result.stdout if exit_code == 0 else result.output


@pytest.fixture
def guide(sqlite_settings, tmp_path):
    """Steps 1 and 2 of the guide: the study created from its YAML and opened; the server running."""
    from trustlab.platform.app import create_app

    _load_verbs()
    build_world(sqlite_settings)
    (tmp_path / "consent.md").write_text(CONSENT_MD)
    (tmp_path / "instructions.md").write_text(INSTRUCTIONS_MD)
    (tmp_path / "study.yaml").write_text(STUDY_YAML)
    trustlab(sqlite_settings, "study", "create", str(tmp_path / "study.yaml"))
    trustlab(sqlite_settings, "study", "open", "crowd-trust")
    with serving(create_app(sqlite_settings)) as base:
        yield sqlite_settings, base


def screen(page) -> str:
    """What the participant sees now: consent | instructions | practice-N | attention-N | an
    assignment id | done | the notice's text."""
    page.wait_for_function(
        """() => {
          const on = (s) => { const e = document.querySelector(s); return e && e.offsetParent !== null; };
          return on('#tl-consent-text') || on('#tl-instructions-text') || on('.tl-stage')
            || on('#tl-completion-code')
            || (on('#tl-notice') && !document.querySelector('#tl-notice').innerText.includes('Welcome'));
        }""",
        timeout=TIMEOUT_MS,
    )
    return page.evaluate(
        """() => {
          const on = (s) => { const e = document.querySelector(s); return e && e.offsetParent !== null; };
          if (on('#tl-completion-code')) return 'done';
          if (on('#tl-consent-text')) return 'consent';
          if (on('#tl-instructions-text')) return 'instructions';
          if (on('.tl-stage')) return document.querySelector('.tl-stage').getAttribute('data-assignment');
          return document.querySelector('#tl-notice').innerText;  // the page before the load: Welcome
        }"""
    )


def next_screen(page, previous: str) -> str:
    page.wait_for_function(
        """(p) => {
          const on = (s) => { const e = document.querySelector(s); return e && e.offsetParent !== null; };
          const stage = document.querySelector('.tl-stage');
          const moved = on('.tl-stage') && stage.getAttribute('data-assignment') !== p;
          return on('#tl-completion-code') || moved;
        }""",
        arg=previous,
        timeout=TIMEOUT_MS,
    )
    return screen(page)


def reloaded(page) -> str:
    page.reload()
    return screen(page)


def headings(page, selector: str) -> int:
    return page.locator(f"{selector} h1, {selector} h2").count()


def staff_tabs_shown(page) -> bool:
    return page.locator("#tl-tab-research-button, #tl-tab-curate-button").filter(visible=True).count() > 0


@pytest.mark.slow  # ~30 s
def test_the_prolific_guide_from_study_create_to_the_participants_export(guide):
    from playwright.sync_api import sync_playwright

    settings, base = guide
    printed = json.loads(trustlab(settings, "study", "link", "crowd-trust", "--base-url", base, "--json"))
    assert "PROLIFIC_PID={{%PROLIFIC_PID%}}" in printed["url"]
    link = (
        printed["url"]
        .replace("{{%PROLIFIC_PID%}}", "P005")
        .replace("{{%STUDY_ID%}}", "s")
        .replace("{{%SESSION_ID%}}", "x")
    )
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            # The researcher opens the printed link as is: told what happened; nothing stored.
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(printed["url"])
            assert "This link was opened directly" in screen(page)
            assert "preview" in page.inner_text("#tl-notice") and not staff_tabs_shown(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "entry-placeholder.png"))
            page.context.close()

            context = browser.new_context(viewport={"width": 1366, "height": 768})
            context.route(f"{COMPLETE}*", lambda route: route.fulfill(body="<p>Prolific</p>"))
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto("about:blank")
            page.goto(link)
            assert screen(page) == "consent" and "PROLIFIC_PID" not in page.url
            assert headings(page, "#tl-consent-text") == 1 and not staff_tabs_shown(page)
            page.screenshot(path=str(SCREENSHOT_DIR / "entry-consent.png"))
            assert reloaded(page) == "consent"  # F5 before consent: the link waited in the browser
            page.go_back()
            page.go_forward()
            assert screen(page) == "consent"
            with read_session(settings) as s:
                assert s.scalar(select(func.count()).select_from(Participant)) == 0  # nothing before consent
            page.click("#tl-consent-accept")
            page.wait_for_selector("#tl-instructions-text", state="visible")
            assert screen(page) == "instructions" and headings(page, "#tl-instructions-text") == 1
            assert reloaded(page) == "instructions"  # not skipped by a reload
            assert page.inner_text("#tl-instructions-close").strip() == "Start"
            page.click("#tl-instructions-close")
            current = next_screen(page, "")
            assert current == "practice-0"
            assert reloaded(page) == "practice-0"
            seen, reloaded_at = [], set()
            while current != "done":
                kind = current.split("-")[0] if not current.isdigit() else "item"
                if kind not in reloaded_at:  # one reload on each kind of step
                    reloaded_at.add(kind)
                    assert reloaded(page) == current
                seen.append(current)
                if kind == "attention":
                    assert ATTENTION in page.inner_text(".tl-attention")
                    press(page, "n", "Enter")
                elif kind == "practice":
                    press(page, "y", "1", "4", "4", "4", "Enter")
                    page.wait_for_selector(".tl-feedback", state="visible")
                    press(page, "Enter")  # Continue
                else:
                    press(page, "y", "1", "4", "4", "4", "Enter")
                current = next_screen(page, current)
            assert reloaded_at == {"practice", "attention", "item"}
            assert [s for s in seen if s.startswith("practice")] == ["practice-0", "practice-1"]
            assert sum(s.isdigit() for s in seen) == 5  # 4 items and 1 gold item
            code = page.inner_text("#tl-completion-code").strip()
            assert code == printed["completion_code"]
            page.reload()  # the completion screen comes back (then the redirect, once more)
            page.wait_for_selector("#tl-completion-code", state="visible")
            assert page.inner_text("#tl-completion-code").strip() == code
            page.wait_for_url(f"{COMPLETE}{code}", timeout=TIMEOUT_MS)
        finally:
            browser.close()
    rows = json.loads(trustlab(settings, "study", "participants", "crowd-trust", "--json"))
    assert [(r["pid"], r["STUDY_ID"], r["SESSION_ID"], r["status"], r["approve"]) for r in rows] == [
        ("P005", "s", "x", "completed", 1)
    ]
    assert rows[0]["completion_code"] == code and rows[0]["attention_failures"] == 0


def test_an_invite_into_a_link_study_is_refused_by_the_cli_and_the_page(guide):
    """An invite would skip consent, instructions and practice, so `study invite` refuses a link study
    with the command to use instead; an invite made before that creates no rater in the browser."""
    from playwright.sync_api import sync_playwright

    settings, base = guide
    refused = " ".join(trustlab(settings, "study", "invite", "crowd-trust", exit_code=1).split())
    assert "takes participants through its public link" in refused
    assert "trustlab study link crowd-trust" in refused
    old = auth.new_token()
    with unit_of_work(settings) as s:
        study_id = s.scalars(select(Study.id).where(Study.name == "crowd-trust")).one()
        add_invites(s, study_id=study_id, token_hashes=[auth.hash_token(old)], expires_at=None)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(f"{base}/?invite={old}")
            page.wait_for_selector("#tl-notice :text('This invite link cannot be used')", timeout=TIMEOUT_MS)
            assert not page.locator("#tl-rate-panel").is_visible()
        finally:
            browser.close()
    with read_session(settings) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0
