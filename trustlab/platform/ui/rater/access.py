"""How a rater gets onto the Rate tab and off it again: the invite link, the stored token, the question
before another invite replaces a signed-in rater's token, sign-out, and a clean address bar.

The browser keeps only ``{"token", "invite"}`` (the bearer token and a 16-hex-digit marker of the
invite it came from) in localStorage through ``gr.BrowserState``, so that a reload resumes; a public
study link's participant also ``join`` (the link, until consent) and ``intro`` (until Start), see
``ui.rater.entry``. Gradio encrypts that value with a key it sends to every visitor, so the encryption
hides nothing from anyone who can read the browser's storage: the token is protected by the browser's
same-origin storage alone, like a session cookie, and sign-out revokes it on the server.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import gradio as gr

from trustlab.platform.accounts import auth
from trustlab.platform.accounts.invites import accept_invite
from trustlab.platform.errors import NotAuthenticated, PlatformError
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.rater import entry
from trustlab.platform.ui.rater.page import WELCOME, RaterView, show_next
from trustlab.platform.ui.rater.state import RaterState
from trustlab.platform.ui.rater.view import notice_only
from trustlab.studies.config.recruitment import PLATFORM_PARAMS

# The localStorage key and the (public) BrowserState key: fixed, so that every worker and every
# restart reads what another wrote; not a secret (Gradio puts it in the page config of every visitor).
RATER_STORAGE_KEY = "trustlab-rater"
RATER_STORAGE_CIPHER_KEY = "trustlab-rater-storage-not-a-secret"
STORED_KEYS = ("token", "invite", "join", "intro")
INVITE_MARKER_CHARS = 16
# Runs in the browser after the load step: the query parameters that carry the invite (and the
# participant id, and a recruiting platform's ids) leave the address bar, so the link is not left in
# history, bookmarks or screen shares; ``study`` stays (a reload resumes with what the browser stored).
_URL_PARAMS = ["invite", "pid", *sorted({p for params in PLATFORM_PARAMS.values() for p in params})]
CLEAN_URL_JS = """() => {
  const url = new URL(window.location.href);
  const params = """ + json.dumps(_URL_PARAMS) + """;
  if (!params.some((p) => url.searchParams.has(p))) return [];
  params.forEach((p) => url.searchParams.delete(p));
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
  return [];
}"""
SWITCH_TITLE = "You are already taking part in a study"
SWITCH_TEXT = (
    "This browser is signed in to a study, and the link you opened is a different invitation. "
    "Keep your current study, or switch to the new invite (your current study then needs its own "
    "link again). Nothing changes until you choose."
)
SIGNED_OUT = (  # an invited rater's (a link study's participant: entry.signed_out_screen)
    "Signed out",
    "You have signed out and this browser forgot your session. To continue later, open your invite "
    "link again.",
)

log = logging.getLogger(__name__)


@dataclass
class RaterAccess:
    """The Rate tab's access components (``outputs`` is the order ``access_updates`` returns)."""

    stored: gr.BrowserState
    pending: gr.State  # the invite waiting for the rater's answer: server side only
    ask: gr.Row
    keep: gr.Button
    switch: gr.Button
    signout: gr.Button

    @property
    def outputs(self) -> list:
        return [self.pending, self.ask, self.signout]


def rater_storage() -> gr.BrowserState:
    return gr.BrowserState({}, storage_key=RATER_STORAGE_KEY, secret=RATER_STORAGE_CIPHER_KEY)


def invite_marker(invite: str) -> str:
    return auth.hash_token(invite)[:INVITE_MARKER_CHARS]


def access_updates(*, signed_in: bool, pending: dict | None = None) -> list:
    return [dict(pending or {}), gr.update(visible=bool(pending)), gr.update(visible=signed_in)]


def build_rater_access(services: Services, view: RaterView) -> RaterAccess:
    """Create the switch question and the sign-out button (inside the Rate tab) and wire them."""
    pending = gr.State({})
    with gr.Row(visible=False, elem_id="tl-switch") as ask:
        keep = gr.Button("Keep my current study", variant="primary", elem_id="tl-switch-keep")
        switch = gr.Button("Switch to the new invite", elem_id="tl-switch-new")
    signout = gr.Button("Sign out", size="sm", visible=False, elem_id="tl-rater-signout")
    access = RaterAccess(view.stored, pending, ask, keep, switch, signout)
    outputs = [view.stored, *view.outputs, *access.outputs]
    keep.click(lambda st: keep_current(services, view, st), [view.stored], outputs)
    switch.click(lambda st, p: switch_invite(services, view, st, p), [view.stored, pending], outputs)
    signout.click(lambda st, s: sign_out(services, view, st, s), [view.stored, view.state], outputs)

    def entered(result: entry.Entry) -> list:  # a link study's consent step
        stored, screen, signed_in = result
        return [stored, *screen, *access_updates(signed_in=signed_in)]

    both = [view.stored, view.state]
    accept, decline = entry.accept_consent, entry.decline_consent
    view.consent_accept.click(lambda st, s: entered(accept(services, view, st or {}, s)), both, outputs)
    view.consent_decline.click(lambda st, s: entered(decline(services, view, st or {}, s)), both, outputs)
    intro_open, intro_close = entry.open_instructions, entry.close_instructions
    view.intro_open.click(lambda s: intro_open(services, view, s), [view.state], view.outputs)

    def started(st: dict | None, s: dict) -> list:  # Start (or Back to the task) on the instructions
        stored, screen = intro_close(services, view, st or {}, s)
        return [stored, *screen]

    view.intro_close.click(started, both, [view.stored, *view.outputs])
    return access


def sign_in(services: Services, view: RaterView, stored: dict | None, request: gr.Request) -> list:
    """The load step for raters: accept ``?invite=`` (recording ``&pid=``) or reuse the stored token.

    Another invite than the one a signed-in browser came from is not accepted silently: the rater is
    asked first (a crafted link must not replace their session). Returns the outputs
    ``[stored, *view.outputs, *access.outputs]``.
    """
    params = dict(request.query_params) if request is not None else {}
    invite, pid = params.get("invite"), params.get("pid")
    stored = {k: v for k, v in (stored or {}).items() if k in STORED_KEYS}
    if params.get("study") and not invite:  # a link study's public link
        stored, screen, signed_in = entry.link_sign_in(services, view, stored, params)
        return [stored, *screen, *access_updates(signed_in=signed_in)]
    token = stored.get("token") if _valid(services, stored.get("token")) else None
    if invite and token and stored.get("invite") != invite_marker(invite):
        asked = {"invite": invite, "pid": pid}
        notice = notice_only(view, SWITCH_TITLE, SWITCH_TEXT)
        return [stored, *notice, *access_updates(signed_in=True, pending=asked)]
    if invite and token is None:
        try:
            accepted = accept_invite(services.settings, invite=invite, pid=pid)
        except PlatformError as exc:
            notice = notice_only(view, "This link does not work", exc.message)
            return [stored, *notice, *access_updates(signed_in=False)]
        token = accepted.token
        stored = {"token": token, "invite": invite_marker(invite)}
    if token is None:
        return [stored, *notice_only(view, *WELCOME), *access_updates(signed_in=False)]
    return [stored, *show_next(services, view, RaterState(token=token)), *access_updates(signed_in=True)]


def keep_current(services: Services, view: RaterView, stored: dict | None) -> list:
    """"Keep my current study": forget the other invite and carry on with the stored token."""
    token = (stored or {}).get("token")
    if not _valid(services, token):
        return [{}, *notice_only(view, *WELCOME), *access_updates(signed_in=False)]
    return [stored, *show_next(services, view, RaterState(token=token)), *access_updates(signed_in=True)]


def switch_invite(services: Services, view: RaterView, stored: dict | None, pending: dict | None) -> list:
    """"Switch to the new invite": accept it, revoke the old token, store the new one."""
    invite = (pending or {}).get("invite")
    if not invite:
        return keep_current(services, view, stored)
    try:
        accepted = accept_invite(services.settings, invite=invite, pid=pending.get("pid"))
    except PlatformError as exc:
        signed_in = _valid(services, (stored or {}).get("token"))
        notice = notice_only(view, "This link does not work", exc.message)
        return [stored or {}, *notice, *access_updates(signed_in=signed_in)]
    old = (stored or {}).get("token")
    if old and old != accepted.token:
        auth.logout(services.settings, old)
    new = {"token": accepted.token, "invite": invite_marker(invite)}
    screen = show_next(services, view, RaterState(token=accepted.token))
    return [new, *screen, *access_updates(signed_in=True)]


def sign_out(services: Services, view: RaterView, stored: dict | None, state: RaterState) -> list:
    """Revoke the rater's token(s) on the server and empty the browser's stored value."""
    for token in {(stored or {}).get("token"), state.token}:
        auth.logout(services.settings, token)
    if state.link:
        screen = entry.signed_out_screen(services, view, state.study)
    else:
        screen = notice_only(view, *SIGNED_OUT)
    return [{}, *screen, *access_updates(signed_in=False)]


def _valid(services: Services, token: str | None) -> bool:
    if not token:
        return False
    try:
        return not auth.authenticate(services.settings, token).is_staff
    except NotAuthenticated:
        log.debug("a rater token in the browser has expired or was revoked", exc_info=True)
        return False
