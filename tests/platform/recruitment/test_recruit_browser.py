"""A Prolific study from the public link in real headless Chromium: consent, instructions
(reopened from an item), a practice item with feedback, every item, an attention check, and the
redirect to the completion URL (a local test server) with the study's code; the same participant id
in a new browser resumes; declining consent lands on the screen-out URL and stores nothing; a full
study says so; the study's texts replace the defaults (a German submit label)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, select

from tests.helpers.browser import BROWSER_MARKS as pytestmark  # noqa: F401 (marks every test here)
from tests.helpers.browser import CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS
from tests.helpers.platform_world import build_world
from tests.helpers.recruit_world import add_link_study, link_config
from tests.helpers.serve_workers import serving
from trustlab.db.engine import read_session
from trustlab.db.queries.participants import recruitment_codes
from trustlab.db.schema import Judgement, Study, User
from trustlab.studies.config.study import StudyConfig
from trustlab.studies.recruitment.rules import practice_item_ids

CONSENT = "You agree to rate pictures."
INSTRUCTIONS = "Say whether the model is right."
ATTENTION = "To show you read this, choose 'No'."


class _Platform(BaseHTTPRequestHandler):
    """The recruiting platform's completion page: answers every GET with 200."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"<html><body>platform</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def platform_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def link_study(sqlite_settings, platform_url):
    from trustlab.platform.app import create_app

    world = build_world(sqlite_settings)
    config = link_config(
        "crowd",
        max_participants=2,
        practice={"n": 1},
        attention=[{"prompt": ATTENTION, "answer": {"model_correct": False}}],
        texts={"submit": "Weiter"},
    )
    config["recruitment"]["completion_url"] = platform_url + "/complete?cc={code}"
    config["recruitment"]["screenout_url"] = platform_url + "/screenout?cc={screenout_code}"
    study_id = add_link_study(world, config)
    with serving(create_app(sqlite_settings)) as base:
        yield world, study_id, base


def link(base: str, pid: str) -> str:
    return f"{base}/?study=crowd&PROLIFIC_PID={pid}&STUDY_ID=st1&SESSION_ID=se-{pid}"


def stage_id(page, previous: str | None = None) -> str:
    page.wait_for_function(
        "a => { const e = document.querySelector('.tl-stage');"
        " return e && e.offsetParent !== null && e.getAttribute('data-assignment') !== a; }",
        arg=previous,
        timeout=TIMEOUT_MS,
    )
    return page.get_attribute(".tl-stage", "data-assignment")


def press(page, *keys: str) -> None:
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(150)


def test_prolific_link_consent_instructions_practice_items_attention_completion(link_study, platform_url):
    from playwright.sync_api import sync_playwright

    world, study_id, base = link_study
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(link(base, "P1"))
            page.wait_for_selector(f"#tl-consent-text :text('{CONSENT}')", timeout=TIMEOUT_MS)
            assert "PROLIFIC_PID" not in page.url  # the participant id left the address bar
            page.click("#tl-consent-accept")
            page.wait_for_selector(f"#tl-instructions-text :text('{INSTRUCTIONS}')", timeout=TIMEOUT_MS)
            page.click("#tl-instructions-close")  # "Start"
            # The practice item: answered wrongly on purpose, the feedback shows the right answer.
            current = stage_id(page)
            assert current == "practice-0" and page.locator(".tl-practice").is_visible()
            assert "Weiter" in page.text_content("#tl-submit")  # the study's texts
            press(page, "y", "1", "4", "Enter")
            page.wait_for_selector(".tl-feedback", timeout=TIMEOUT_MS)
            with read_session(world.settings) as s:
                config = StudyConfig.model_validate(s.get(Study, study_id).config)
                (practice,) = practice_item_ids(
                    s,
                    study_id=study_id,
                    config=config,
                    dataset_id=world.dataset_id,
                    model_version_id=world.model_version_id,
                )
            right = world.predicted[practice] == world.item_labels[practice]
            feedback = page.text_content(".tl-feedback")
            # Each right answer in words, not the questions' texts.
            assert f"the model's prediction was {'right' if right else 'wrong'}" in feedback
            assert f"the right class is {world.item_labels[practice]}" in feedback
            assert feedback.startswith("✔" if right and world.item_labels[practice] == "square" else "✘")
            press(page, "Enter")  # Continue
            seen: list[str] = []
            while True:
                page.wait_for_selector(".tl-stage, #tl-completion-code", timeout=TIMEOUT_MS)
                if page.locator("#tl-completion-code").count():
                    break
                current = stage_id(page, current)
                seen.append(current)
                if current.startswith("attention"):
                    assert ATTENTION in page.text_content(".tl-attention")
                    press(page, "n", "Enter")
                    continue
                if len(seen) == 1:
                    # The instructions reopen from an item, and the same item comes back.
                    page.click("#tl-instructions-open")
                    page.wait_for_selector(f"#tl-instructions-text :text('{INSTRUCTIONS}')")
                    page.click("#tl-instructions-close")
                    page.wait_for_selector("#tl-rate-panel", state="visible", timeout=TIMEOUT_MS)
                    assert page.get_attribute(".tl-stage", "data-assignment") == current
                    # The same pid in a new browser (no stored token) resumes at the same screen.
                    other = browser.new_context().new_page()
                    other.goto(link(base, "P1"))
                    assert stage_id(other) == current
                    assert not other.locator("#tl-consent").is_visible()
                    other.context.close()
                press(page, "y", "1", "4", "Enter")
                page.wait_for_function(  # the answered screen has gone
                    "a => { const e = document.querySelector('.tl-stage');"
                    " return !e || e.offsetParent === null || e.getAttribute('data-assignment') !== a; }",
                    arg=current,
                    timeout=TIMEOUT_MS,
                )
            code = page.text_content("#tl-completion-code").strip()
            page.wait_for_url(f"{platform_url}/complete?cc={code}", timeout=TIMEOUT_MS)
            with read_session(world.settings) as s:
                assert code == recruitment_codes(s, study_id=study_id).completion_code
                judgements = s.scalar(select(func.count()).select_from(Judgement))
            assert sum(not x.startswith("attention") for x in seen) == 3 == judgements
            assert sum(x.startswith("attention") for x in seen) == 1

            # Declining consent: the screen-out URL with the study's screen-out code; nothing stored.
            # (on a phone: the consent page does not scroll sideways)
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            page.goto(link(base, "P2"))
            page.wait_for_selector(f"#tl-consent-text :text('{CONSENT}')")
            assert page.evaluate(
                "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
            page.click("#tl-consent-decline")
            with read_session(world.settings) as s:
                screenout = recruitment_codes(s, study_id=study_id).screenout_code
            page.wait_for_url(f"{platform_url}/screenout?cc={screenout}", timeout=TIMEOUT_MS)
            with read_session(world.settings) as s:
                assert s.scalar(select(User).where(User.external_pid == "P2")) is None
                assert s.scalar(select(func.count()).select_from(Judgement)) == judgements

            # A second participant takes the last place (REST), then the study is full.
            joined = httpx.post(f"{base}/api/v1/studies/crowd/join", json={"pid": "P3", "consent": True})
            assert joined.status_code == 201
            page.goto(link(base, "P4"))
            page.wait_for_selector("#tl-notice :text('This study is full')", timeout=TIMEOUT_MS)
            assert not page.locator("#tl-consent").is_visible()
        finally:
            browser.close()
