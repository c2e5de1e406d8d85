"""A link study's public study link in the rater app:
``/?study=NAME&PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=…`` (MTurk's parameters, or ``?pid=``).

The participant id joins the study (``join.join_study``): a known id resumes where it stopped, on
any device; a new one first sees the consent text (declining sends them to the screen-out URL and
stores nothing) and then the instructions, which every later screen can reopen. A full or closed
study says so. Each function returns ``(stored, view outputs, signed_in)``; ``ui.rater.access``
adds the access outputs.

A reload (or Back and Forward, or a phone reloading a background tab) comes back to the same step:
the address bar loses the participant id at once (``access.CLEAN_URL_JS``), so until consent
is given the link's parameters wait in the browser's stored value (``join``; nothing is stored on the
server before consent), and until the participant presses Start on the first instructions the
stored value says so (``intro``: their rater id). After that the stored token resumes every step.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import gradio as gr

from trustlab.platform.accounts import auth
from trustlab.platform.errors import Conflict, NotAuthenticated, PlatformError
from trustlab.platform.recruitment import join
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.rater.page import show_next
from trustlab.platform.ui.rater.state import RaterState
from trustlab.platform.ui.rater.steps import PLATFORM_NAMES
from trustlab.platform.ui.rater.view import RaterView, notice_only, notice_screen
from trustlab.platform.ui.render import done_link_html
from trustlab.studies.config.recruitment import PLATFORM_PARAMS
from trustlab.studies.config.texts import DEFAULT_TEXTS

log = logging.getLogger(__name__)

Entry = tuple[dict, list, bool]
BROKEN_LINK = "This link does not work"
# The link parameters kept in the browser until consent (with ``study``).
LINK_PARAMS = frozenset({"pid", *(p for params in PLATFORM_PARAMS.values() for p in params)})


def link_sign_in(services: Services, view: RaterView, stored: dict, params: dict[str, str]) -> Entry:
    """The load step for ``?study=NAME``: join with the link's participant id; else (a reload: the
    address bar has lost it) the link this browser kept until consent, or the token it stored."""
    study = params.get("study", "")
    try:
        entry = join.study_entry(services, study=study)
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    if params.get(entry.pid_param) or params.get("pid"):
        link = {"study": study, "params": {k: v for k, v in params.items() if k in LINK_PARAMS}}
        return _join(services, view, {**stored, "join": link}, entry, consent=None)
    if (stored.get("join") or {}).get("study") == study:  # consent not given yet
        return _join(services, view, stored, entry, consent=None)
    principal = _principal_for(services, stored.get("token"), study)
    if principal is not None:
        state = _state(stored["token"], study)
        if entry.instructions and stored.get("intro") == principal.rater_id:  # Start not pressed yet
            return stored, intro_screen(view, entry.texts, entry.instructions, state, first=True), True
        return stored, show_next(services, view, state, principal=principal), True
    platform = PLATFORM_NAMES.get(entry.platform, PLATFORM_NAMES["generic"])
    return stored, notice_only(view, BROKEN_LINK, entry.texts["missing_pid"].format(platform=platform)), False


def _join(services: Services, view: RaterView, stored: dict, entry: join.StudyEntry, *,
          consent: bool | None) -> Entry:
    """Join with the link kept in ``stored["join"]``; until consent is given it stays there."""
    texts = entry.texts
    params = {**stored["join"]["params"], "study": entry.study}
    left = {k: v for k, v in stored.items() if k != "join"}  # what the browser keeps once it is used
    try:
        joined = join.join_study(services, study=entry.study, pid=None, params=params, consent=consent)
    except join.ConsentRequired:
        if entry.full:
            return stored, notice_only(view, texts["full_title"], texts["full_body"]), False
        return stored, consent_screen(view, entry), False
    except join.StudyFull:
        return stored, notice_only(view, texts["full_title"], texts["full_body"]), False
    except join.UnexpandedLink as exc:
        return left, notice_only(view, texts["placeholder_title"], exc.message), False
    except Conflict:
        return stored, notice_only(view, "", texts["closed_body"]), False
    except PlatformError as exc:
        return left, notice_only(view, BROKEN_LINK, exc.message), False
    state = _state(joined.token, entry.study)
    first = entry.instructions and (joined.created or left.get("intro") == joined.rater_id)
    if not first:
        return {"token": joined.token}, show_next(services, view, state), True
    if joined.created:
        principal = auth.authenticate(services.settings, joined.token)
        participant_steps.open_instructions(services, principal)
    new_stored = {"token": joined.token, "intro": joined.rater_id}
    return new_stored, intro_screen(view, texts, entry.instructions, state, first=True), True


def _state(token: str, study: str) -> RaterState:
    return RaterState(token=token, study=study, link=True)


def _principal_for(services: Services, token: str | None, study: str) -> auth.Principal | None:
    """Who the stored token signs in, when it is a rater's of this study (else None)."""
    if not token:
        return None
    try:
        principal = auth.authenticate(services.settings, token)
        ctx = services.study(name=study)
    except (NotAuthenticated, PlatformError):
        log.debug("the stored token does not resume study %s", study, exc_info=True)
        return None
    return principal if not principal.is_staff and principal.study_id == ctx.id else None


def titled(title: str, text: str) -> str:
    """``text`` under the heading ``title``, unless the text starts with a heading of its own."""
    lines = text.lstrip().splitlines()
    own = bool(lines) and (
        lines[0].startswith("#") or (len(lines) > 1 and set(lines[1].strip()) in ({"="}, {"-"}))
    )
    return text if own else f"## {title}\n\n{text}"


def consent_screen(view: RaterView, entry: join.StudyEntry) -> list:
    texts = entry.texts
    updates = notice_screen(view, "", "", state=RaterState(consent_study=entry.study))
    updates.update({
        view.notice: gr.update(visible=False),
        view.consent: gr.update(visible=True),
        view.consent_text: titled(texts["consent_title"], entry.consent or ""),
        view.consent_accept: gr.update(value=texts["consent_accept"]),
        view.consent_decline: gr.update(value=texts["consent_decline"]),
    })
    return view.out(updates)


def accept_consent(services: Services, view: RaterView, stored: dict, state: RaterState) -> Entry:
    """Agreed: join with the link this browser kept (the study on screen's)."""
    study = state.consent_study
    if (stored.get("join") or {}).get("study") != study:  # another tab used or dropped the link
        return link_sign_in(services, view, stored, {"study": study})
    try:
        entry = join.study_entry(services, study=study)
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    return _join(services, view, stored, entry, consent=True)


def decline_consent(services: Services, view: RaterView, stored: dict, state: RaterState) -> Entry:
    """Declined: nothing is stored about the person; the screen-out URL (when the study has one)."""
    study = state.consent_study
    try:
        entry = join.study_entry(services, study=study)
        url = join.decline_consent(services, study=study)
    except PlatformError as exc:
        return stored, notice_only(view, BROKEN_LINK, exc.message), False
    texts = entry.texts
    stored = {k: v for k, v in stored.items() if k != "join"}  # nothing about them is kept
    platform = PLATFORM_NAMES.get(entry.platform, PLATFORM_NAMES["generic"])
    body = done_link_html(
        texts["screened_out_title"],
        texts["declined_body"],
        url=url,
        redirecting=texts["redirecting"].format(platform=platform),
        link_text=texts["redirect_link"].format(platform=platform),
    )
    return stored, view.out(notice_screen(view, "", "", body_html=body)), False


def intro_screen(view: RaterView, texts: dict, text: str, state: RaterState, *, first: bool) -> list:
    """The instructions: before the first step (``first``: its button starts) or reopened."""
    return view.out({
        # Without the item screen's fingerprint: the next screen is drawn whole (page.show_next).
        view.state: replace(state, shell="", first_instructions=first or state.first_instructions),
        view.notice: gr.update(visible=False),
        view.panel: gr.update(visible=False),
        view.consent: gr.update(visible=False),
        view.intro: gr.update(visible=True),
        view.intro_text: titled(texts["instructions_title"], text),
        view.intro_close: gr.update(value=texts["start"] if first else texts["instructions_close"]),
        view.intro_open: gr.update(visible=False),
    })


def open_instructions(services: Services, view: RaterView, state: RaterState) -> list:
    """Reopen the instructions from any screen (each opening is counted)."""
    try:
        principal = auth.authenticate(services.settings, state.token)
        opened = participant_steps.open_instructions(services, principal)
        texts = join.study_entry(services, study=state.study).texts
    except PlatformError as exc:
        return view.out({view.message: gr.update(value=f"**{exc.message}**")})
    return intro_screen(view, texts, opened["text"] or "", state, first=False)


def close_instructions(
    services: Services, view: RaterView, stored: dict, state: RaterState
) -> tuple[dict, list]:
    """Back to the task: the first time (Start), the first step, after which a reload shows the
    current step rather than the instructions; later, the screen as it was. Returns ``(stored, view
    outputs)``."""
    if state.first_instructions:
        started = replace(state, first_instructions=False)
        return {k: v for k, v in stored.items() if k != "intro"}, show_next(services, view, started)
    return stored, view.out({
        view.intro: gr.update(visible=False),
        view.panel: gr.update(visible=True),
        view.intro_open: gr.update(visible=True),
    })


def signed_out_screen(services: Services, view: RaterView, study: str) -> list:
    """A participant who signed out: to go on, they come back through the platform's link."""
    try:
        entry = join.study_entry(services, study=study)
    except PlatformError:
        log.debug("signed out of study %s, which has gone", study, exc_info=True)
        entry = None
    texts = entry.texts if entry is not None else DEFAULT_TEXTS
    platform = PLATFORM_NAMES.get(entry.platform if entry else "generic", PLATFORM_NAMES["generic"])
    return notice_only(view, texts["signed_out_title"], texts["signed_out_body"].format(platform=platform))
