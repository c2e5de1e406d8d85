"""The public study link of a link-mode study (issue 16) in the rater app:
``/?study=NAME&PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`` (MTurk's parameters, or ``?pid=``).

The participant id joins the study (``recruit.join_study``): a known id resumes where it stopped, on
any device; a new one first sees the consent text (declining sends them to the screen-out URL and
stores nothing) and then the instructions, which every later screen can reopen. A full or closed
study says so. Each function returns ``(stored, view outputs, signed_in)``; ``ui_rater_access``
adds the access outputs.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from trustlab.platform import auth, recruit, recruit_steps
from trustlab.platform.errors import Conflict, NotAuthenticated, PlatformError
from trustlab.platform.ui_rater import show_next
from trustlab.platform.ui_rater_view import RaterView, notice_only, notice_screen
from trustlab.platform.ui_render import done_link_html
from trustlab.platform.ui_steps import PLATFORM_NAMES

log = logging.getLogger(__name__)

Entry = tuple[dict, list, bool]
BROKEN_LINK = "This link does not work"


def link_sign_in(services: Any, view: RaterView, stored: dict, params: dict[str, str]) -> Entry:
    """The load step for ``?study=NAME``: join with the link's participant id, or resume with the
    token this browser stored for the study."""
    study = params.get("study", "")
    try:
        entry = recruit.study_entry(services, study=study)
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    texts = entry.texts
    pid = params.get(entry.pid_param) or params.get("pid")
    if not pid:
        token = _token_for(services, stored.get("token"), study)
        if token is not None:
            return stored, show_next(services, view, _state(token, study)), True
        platform = PLATFORM_NAMES.get(entry.platform, PLATFORM_NAMES["generic"])
        return stored, notice_only(view, BROKEN_LINK, texts["missing_pid"].format(platform=platform)), False
    return _join(services, view, stored, entry, params, consent=None)


def _join(services: Any, view: RaterView, stored: dict, entry: recruit.StudyEntry, params: dict,
          *, consent: bool | None) -> Entry:
    texts = entry.texts
    try:
        joined = recruit.join_study(services, study=entry.study, pid=None, params=params, consent=consent)
    except recruit.ConsentRequired:
        if entry.full:
            return stored, notice_only(view, texts["full_title"], texts["full_body"]), False
        return stored, consent_screen(view, entry, params), False
    except recruit.StudyFull:
        return stored, notice_only(view, texts["full_title"], texts["full_body"]), False
    except Conflict:
        return stored, notice_only(view, "", texts["closed_body"]), False
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    new_stored = {"token": joined.token}
    state = _state(joined.token, entry.study)
    if joined.created and entry.instructions:
        principal = auth.authenticate(services.settings, joined.token)
        recruit_steps.open_instructions(services, principal)
        return new_stored, intro_screen(view, texts, entry.instructions, state, first=True), True
    return new_stored, show_next(services, view, state), True


def _state(token: str, study: str) -> dict:
    return {"token": token, "study": study, "link": True}


def _token_for(services: Any, token: str | None, study: str) -> str | None:
    """The stored token when it is a rater's of this study (else None)."""
    if not token:
        return None
    try:
        principal = auth.authenticate(services.settings, token)
        ctx = services.study(name=study)
    except (NotAuthenticated, PlatformError):
        log.debug("the stored token does not resume study %s", study, exc_info=True)
        return None
    return token if not principal.is_staff and principal.study_id == ctx.id else None


def consent_screen(view: RaterView, entry: recruit.StudyEntry, params: dict) -> list:
    texts = entry.texts
    updates = notice_screen(view, "", "", state={"join": {"study": entry.study, "params": dict(params)}})
    updates.update({
        view.notice: gr.update(visible=False),
        view.consent: gr.update(visible=True),
        view.consent_text: f"## {texts['consent_title']}\n\n{entry.consent}",
        view.consent_accept: gr.update(value=texts["consent_accept"]),
        view.consent_decline: gr.update(value=texts["consent_decline"]),
    })
    return view.out(updates)


def accept_consent(services: Any, view: RaterView, stored: dict, state: dict) -> Entry:
    pending = (state or {}).get("join") or {}
    try:
        entry = recruit.study_entry(services, study=pending.get("study", ""))
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    return _join(services, view, stored, entry, pending.get("params") or {}, consent=True)


def decline_consent(services: Any, view: RaterView, stored: dict, state: dict) -> Entry:
    """Declined: nothing is stored about the person; the screen-out URL (when the study has one)."""
    study = ((state or {}).get("join") or {}).get("study", "")
    try:
        entry = recruit.study_entry(services, study=study)
        url = recruit.decline_consent(services, study=study)
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    texts = entry.texts
    platform = PLATFORM_NAMES.get(entry.platform, PLATFORM_NAMES["generic"])
    body = done_link_html(
        texts["screened_out_title"],
        texts["declined_body"],
        url=url,
        redirecting=texts["redirecting"].format(platform=platform),
        link_text=texts["redirect_link"].format(platform=platform),
    )
    return stored, view.out(notice_screen(view, "", "", body_html=body)), False


def intro_screen(view: RaterView, texts: dict, text: str, state: dict, *, first: bool) -> list:
    """The instructions: before the first step (``first``: its button starts) or reopened."""
    return view.out({
        # Without the item screen's fingerprint: the next screen is drawn whole (ui_rater.show_next).
        view.state: _without_shell(state, first=first),
        view.notice: gr.update(visible=False),
        view.panel: gr.update(visible=False),
        view.consent: gr.update(visible=False),
        view.intro: gr.update(visible=True),
        view.intro_text: f"## {texts['instructions_title']}\n\n{text}",
        view.intro_close: gr.update(value=texts["start"] if first else texts["instructions_close"]),
        view.intro_open: gr.update(visible=False),
    })


def _without_shell(state: dict, *, first: bool) -> dict:
    kept = {k: v for k, v in state.items() if k != "shell"}
    return {**kept, "intro": "first"} if first else kept


def open_instructions(services: Any, view: RaterView, state: dict) -> list:
    """Reopen the instructions from any screen (each opening is counted)."""
    try:
        principal = auth.authenticate(services.settings, (state or {}).get("token"))
        opened = recruit_steps.open_instructions(services, principal)
        texts = recruit.study_entry(services, study=state.get("study", "")).texts
    except PlatformError as exc:
        return view.out({view.message: gr.update(value=f"**{exc.message}**")})
    return intro_screen(view, texts, opened["text"] or "", state, first=False)


def close_instructions(services: Any, view: RaterView, state: dict) -> list:
    """Back to the task: the first time, the first step; later, the screen as it was."""
    state = dict(state or {})
    if state.pop("intro", None) == "first":
        return show_next(services, view, state)
    return view.out({
        view.intro: gr.update(visible=False),
        view.panel: gr.update(visible=True),
        view.intro_open: gr.update(visible=True),
    })
