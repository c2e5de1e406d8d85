"""Ending and guarding access in real headless Chromium: the invite leaves the address bar, sign-out
revokes tokens, another invite asks before replacing a rater's session, staff tokens never reach the
browser."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.helpers.browser import CHROMIUM, LAUNCH_ARGS, TIMEOUT_MS, live_server, progress_is  # noqa: F401
from tests.helpers.browser import sign_in as staff_sign_in
from trustlab.db.engine import unit_of_work
from trustlab.db.schema import AuthToken, Invite, User
from trustlab.platform.accounts import auth

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Debian chromium is not installed at /usr/bin/chromium"
    ),
]
TOKEN_LIKE = re.compile(r"[A-Za-z0-9_-]{43}")


def tokens_of(settings, **where) -> int:
    """How many live bearer tokens the rater or staff member matching ``where`` holds."""
    with unit_of_work(settings) as s:
        rater_id = s.scalars(select(User.id).filter_by(**where)).one()
        return s.scalar(select(func.count()).select_from(AuthToken).where(AuthToken.rater_id == rater_id))


def invite_claimed(settings, invite: str) -> bool:
    with unit_of_work(settings) as s:
        row = s.scalars(select(Invite).where(Invite.token_hash == auth.hash_token(invite))).one()
        return row.rater_id is not None


def holds_token_of(text: str, settings, handle: str) -> bool:
    """Whether ``text`` contains a live bearer token of user ``handle`` (tokens are stored hashed)."""
    with unit_of_work(settings) as s:
        rater_id = s.scalars(select(User.id).where(User.username == handle)).one()
        hashes = set(s.scalars(select(AuthToken.token_hash).where(AuthToken.rater_id == rater_id)))
    return any(auth.hash_token(t) in hashes for t in TOKEN_LIKE.findall(text))


def no_invite_in_url(page) -> None:
    page.wait_for_function("() => !location.search.includes('invite=')", timeout=TIMEOUT_MS)


# Records, in the page, every chunk of Gradio's event streams as the client reads them.
RECORD_STREAMS_JS = """
window.__tlSeen = [];
const tlFetch = window.fetch;
window.fetch = async function (...args) {
  const response = await tlFetch.apply(this, args);
  const url = String((args[0] && args[0].url) || args[0]);
  if (url.includes('/queue/') && response.body) {
    const reader = response.clone().body.getReader();
    const decoder = new TextDecoder();
    (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        window.__tlSeen.push(decoder.decode(value, { stream: true }));
      }
    })();
  }
  return response;
};
"""


def browser_of(p):
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


def test_invite_leaves_the_address_bar_reload_resumes_sign_out_revokes(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    with sync_playwright() as p:
        browser = browser_of(p)
        try:
            page = browser.new_page()
            page.goto(f"{base}/?invite={world.invite('alpha')[0]}&pid=P-URL&lang=en")
            progress_is(page, "0 / 3")
            no_invite_in_url(page)
            assert "pid=" not in page.url and "lang=en" in page.url  # other parameters stay
            assert tokens_of(world.settings, external_pid="P-URL") == 1
            page.reload()  # the invite is gone from the address bar: the stored token resumes
            progress_is(page, "0 / 3")
            page.click("#tl-rater-signout")
            page.wait_for_selector("#tl-notice :text('Signed out')", timeout=TIMEOUT_MS)
            assert tokens_of(world.settings, external_pid="P-URL") == 0  # revoked on the server
            page.reload()  # and forgotten by the browser
            page.wait_for_selector("#tl-notice :text('invite link')", timeout=TIMEOUT_MS)
        finally:
            browser.close()


def test_another_invite_asks_before_replacing_the_session(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    mine, crafted = world.invite("alpha")[0], world.invite("beta")[0]
    with sync_playwright() as p:
        browser = browser_of(p)
        try:
            page = browser.new_page()
            page.goto(f"{base}/?invite={mine}&pid=P-MINE")
            progress_is(page, "0 / 3")
            # A crafted link: a question, and nothing changes without an answer (not even on reload).
            page.goto(f"{base}/?invite={crafted}&pid=P-ATTACKER")
            page.wait_for_selector("#tl-notice :text('already taking part')", timeout=TIMEOUT_MS)
            assert page.is_visible("#tl-switch-keep") and page.is_visible("#tl-switch-new")
            assert not page.is_visible(".tl-stage")
            no_invite_in_url(page)
            assert not invite_claimed(world.settings, crafted)
            page.reload()
            progress_is(page, "0 / 3")
            # "Keep my current study": the same session carries on; the other invite stays unused.
            page.goto(f"{base}/?invite={crafted}&pid=P-ATTACKER")
            page.click("#tl-switch-keep")
            progress_is(page, "0 / 3")
            assert not invite_claimed(world.settings, crafted)
            assert not page.is_visible("#tl-switch-keep")
            # "Switch to the new invite": the new study, and the old session's token is revoked.
            page.goto(f"{base}/?invite={crafted}&pid=P-SWITCH")
            page.click("#tl-switch-new")
            progress_is(page, "0 / 2")
            assert invite_claimed(world.settings, crafted)
            assert tokens_of(world.settings, external_pid="P-MINE") == 0
            page.reload()
            progress_is(page, "0 / 2")
        finally:
            browser.close()


def test_staff_tokens_stay_on_the_server(live_server):  # noqa: F811
    from playwright.sync_api import sync_playwright

    world, base = live_server
    auth.create_user(world.settings, username="carl", role="curator", password="carl-pw-1234")
    with sync_playwright() as p:
        browser = browser_of(p)
        try:
            page = browser.new_page()
            page.add_init_script(RECORD_STREAMS_JS)
            page.goto(base)
            page.click("#tl-tab-curate-button")
            staff_sign_in(page, "tl-cur", "carl", "carl-pw-1234")
            assert tokens_of(world.settings, username="carl") == 1
            storage = page.evaluate("() => Object.fromEntries(Object.entries(localStorage))")
            assert "trustlab-staff" not in storage
            # Nothing the browser received (event stream, page, storage) holds the staff token; the
            # sign-in's own output is among what was inspected.
            page.wait_for_function(
                "() => window.__tlSeen.join('').includes('Signed in as')", timeout=TIMEOUT_MS
            )
            received = page.evaluate("() => window.__tlSeen.join('')")
            assert not holds_token_of(received + page.content() + str(storage), world.settings, "carl")
            # Another visitor's page and config: no staff storage, no staff token.
            config = httpx.get(f"{base}/config", timeout=30).text
            assert "trustlab-staff" not in config
            assert not holds_token_of(config + httpx.get(base, timeout=30).text, world.settings, "carl")
            # Sign-out revokes the token on the server and empties both staff tabs.
            page.click("#tl-cur-signout")
            page.wait_for_selector("#tl-cur-status :text('Signed out')", timeout=TIMEOUT_MS)
            assert tokens_of(world.settings, username="carl") == 0
            page.click("#tl-tab-research-button")
            assert "Signed out" in page.inner_text("#tl-res-status")
            # A reload asks staff to sign in again, and says so.
            page.reload()
            page.click("#tl-tab-curate-button")
            page.wait_for_selector("#tl-cur-status :text('Not signed in')", timeout=TIMEOUT_MS)
            assert page.locator(":text('reloading the page signs you out')").count() > 0
        finally:
            browser.close()
