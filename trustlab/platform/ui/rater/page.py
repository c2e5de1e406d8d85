"""The rating screen (Gradio): one item at a time, keyboard answers, completion code; for a link
study's participants also the practice items, attention checks and endings (``ui.rater.steps``), and
the consent and instructions of the public study link (``ui.rater.entry``).

Per-rater progress lives in the database; the page holds the bearer token and what is on screen (a
per-tab ``RaterState``, ``ui.rater.state``) and the browser keeps the token in localStorage through
gr.BrowserState so that a reload resumes (``ui.rater.access``, which also signs raters in from their
invite and out again). Handlers open one short session per call through Services.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from typing import Any

import gradio as gr

from trustlab.platform.accounts import auth
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.content.on_demand import RETRY_AFTER_S
from trustlab.platform.content.study_cache import StudyContext
from trustlab.platform.errors import InvalidAnswer, PlatformError
from trustlab.platform.recruitment.steps import is_participant
from trustlab.platform.services.rater import Finished, NotAnswerable, ScreenFiles, Services
from trustlab.platform.ui.rater import steps as participant_screens
from trustlab.platform.ui.rater.state import RaterState
from trustlab.platform.ui.rater.view import (
    ANSWER_KEYS,
    DEFAULT_SUBMIT_LABEL,
    WELCOME,
    RaterView,
    answers_from,
    cleared_answers,
    hidden_questions,
    notice_only,
    notice_screen,
    question_updates,
    screen_shell,
    study_texts,
    submit_label,
    unchanged,
)
from trustlab.platform.ui.render import HELP_HTML, done_html, notice_html, progress_html, stage_html
from trustlab.studies.questions import ANSWER_KIND, CANT_TELL

log = logging.getLogger(__name__)

KEYS_TOGGLE_LABEL = "Single-key shortcuts (y, n, digits, c, t, ?)"
PREPARING = "The explanation is being prepared… this page updates by itself in a moment."
__all__ = ["WELCOME", "RaterView", "build_rater_tab", "on_submit", "show_next"]


def build_rater_tab(services: Services, stored: gr.BrowserState) -> RaterView:
    """Create the rating components inside the current Blocks context and wire submit (top to bottom:
    a notice, a link study's consent and instructions, the rating panel)."""
    state = gr.State(RaterState())
    notice = gr.HTML(notice_html(*WELCOME), elem_id="tl-notice")
    entry = _consent_and_instructions()
    rating = _rating_panel()
    poll = gr.Timer(RETRY_AFTER_S, active=False)
    view = RaterView(state=state, stored=stored, notice=notice, poll=poll, **entry, **rating)
    _wire_rating(services, view)
    return view


def _consent_and_instructions() -> dict[str, gr.components.Component]:
    """A link study's consent and its instructions, with the button that reopens them (hidden)."""
    with gr.Column(visible=False, elem_id="tl-consent") as consent:
        consent_text = gr.Markdown(elem_id="tl-consent-text")
        with gr.Row():
            consent_accept = gr.Button(variant="primary", elem_id="tl-consent-accept")
            consent_decline = gr.Button(elem_id="tl-consent-decline")
    intro_open = gr.Button("Instructions", size="sm", visible=False, elem_id="tl-instructions-open")
    with gr.Column(visible=False, elem_id="tl-instructions-box") as intro:
        intro_text = gr.Markdown(elem_id="tl-instructions-text")
        intro_close = gr.Button(variant="primary", elem_id="tl-instructions-close")
    return {
        "consent": consent,
        "consent_text": consent_text,
        "consent_accept": consent_accept,
        "consent_decline": consent_decline,
        "intro_open": intro_open,
        "intro": intro,
        "intro_text": intro_text,
        "intro_close": intro_close,
    }


def _rating_panel() -> dict[str, gr.components.Component]:
    """The item on the left, the questions and Submit on the right (hidden until an item is shown)."""
    with gr.Column(visible=False, elem_id="tl-rate-panel") as panel:
        progress = gr.HTML(elem_id="tl-progress")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                stage = gr.HTML(elem_id="tl-stage")
            with gr.Column(scale=2, min_width=300, elem_id="tl-questions"):
                questions = {key: _question_widget(key) for key in ANSWER_KEYS}
                cant_tell = gr.Checkbox(
                    label="I can't tell (c)", elem_id="tl-q-cant_tell", elem_classes=["tl-cant-tell"]
                )
                message = gr.Markdown(elem_id="tl-message")
                submit = gr.Button(DEFAULT_SUBMIT_LABEL, variant="primary", elem_id="tl-submit")
                gr.HTML(HELP_HTML, elem_id="tl-help", visible=True, elem_classes=["tl-help-box"])
                # WCAG 2.1.4: single-key shortcuts can be switched off (keyboard.js reads this box and
                # remembers the choice in the browser); no server handler.
                gr.Checkbox(
                    True, label=KEYS_TOGGLE_LABEL, elem_id="tl-keys-on", container=False, interactive=True
                )
    return {
        "panel": panel,
        "progress": progress,
        "stage": stage,
        "questions": questions,
        "cant_tell": cant_tell,
        "message": message,
        "submit": submit,
    }


def _question_widget(key: str) -> gr.components.Component:
    """One answer's widget, hidden; each screen sets its label and choices (``question_update``)."""
    if ANSWER_KIND[key] == "text":
        return gr.Textbox(
            label="Comment (optional)",
            lines=1,
            max_lines=4,
            elem_id=f"tl-q-{key}",
            elem_classes=["tl-q", "tl-text"],
            visible=False,
        )
    return gr.Radio(choices=[], label=key, elem_id=f"tl-q-{key}", elem_classes=["tl-q"], visible=False)


def _wire_rating(services: Services, view: RaterView) -> None:
    """Submit answers the screen on show; the poll timer fetches a pending item again."""
    view.poll.tick(
        lambda st: show_next(services, view, st) if st.pending else unchanged(view),
        inputs=[view.state],
        outputs=view.outputs,
        concurrency_limit=None,
        show_progress="hidden",
    )
    view.submit.click(
        lambda st, *values: on_submit(services, view, st, values),
        inputs=[view.state, *view.questions.values(), view.cant_tell],
        outputs=view.outputs,
        concurrency_limit=None,
        show_progress="hidden",
        queue=False,
    )


def show_next(
    services: Services, view: RaterView, state: RaterState, message: str = "", *,
    principal: Principal | None = None,
) -> list:
    """Fetch the rater's current screen and return every output's update (``principal``: the
    caller's, when it has just authenticated the state's token).

    A link study's participant may first have a practice item or an attention check, or be finished
    or screened out (``ui.rater.steps``); everyone else gets the next item or the completion code.
    While an explanation is still being computed the questions stay hidden and the state holds no
    assignment (nothing can be answered: the judgement is about the explanation); the poll timer
    fetches the item again every RETRY_AFTER_S seconds until every explanation is shown."""
    try:
        principal = principal or auth.authenticate(services.settings, state.token)
        ctx = services.study(study_id=principal.study_id) if principal.study_id is not None else None
        study = state.study or (ctx.name if ctx is not None else "")
        participant = None
        if ctx is not None and is_participant(ctx.config):
            step = participant_screens.current_step(services, principal)  # None: a rater who came by invite
            if step is not None and step.kind != "item":
                return participant_screens.step_screen(
                    services, view, state, principal, ctx, message=message, step=step
                )
            participant = step is not None
        result, files = services.next_screen(principal, study=study, participant=participant)
    except PlatformError as exc:
        return notice_only(view, "Cannot continue", exc.message)
    if isinstance(result, Finished):
        return _finished_screen(services, view, state, principal, ctx, result)
    texts = study_texts(ctx.config if ctx is not None else None)
    # Only a participant who came by the public link (not by invite) can reopen the instructions.
    intro_open = state.link and ctx is not None and ctx.config.instructions is not None
    frame = _item_frame(view, ctx, result, files, texts, intro_open=intro_open)
    if result.get("pending"):  # no assignment in the state: nothing can be answered until it is shown
        return _waiting_screen(view, replace(state.carried(), study=study, pending=True), frame)
    shell = screen_shell(result["questions"], texts, intro_open=intro_open)
    shown = _item_state(state.carried(), study, result, shell=shell)
    if state.shell == shown.shell and state.mode == "item":
        # The next item of the screen on show (same questions, same buttons): new values only.
        return view.lean_out(texts, {
            view.state: shown,
            view.progress: frame[view.progress],
            view.stage: frame[view.stage],
            **cleared_answers(view),
            view.message: message,
        })
    return _item_screen(view, shown, result["questions"], frame, message)


def _item_state(carried: RaterState, study: str, result: dict, *, shell: str) -> RaterState:
    """The state while ``result``'s item is on screen: what Submit answers, and with which key."""
    questions = result["questions"]
    return replace(
        carried,
        study=study,
        mode="item",
        assignment_id=result["assignment_id"],
        idempotency_key=f"ui-{result['assignment_id']}-{uuid.uuid4().hex}",
        shown_at=time.monotonic(),
        question_keys=tuple(q["key"] for q in questions),
        question_labels={q["key"]: q["label"] for q in questions},
        shell=shell,
    )


def _finished_screen(services: Services, view: RaterView, state: RaterState, principal: Principal,
                     ctx: StudyContext | None, result: Finished) -> list:
    """No item left: a participant's ending (completion code and redirect), else the completion code."""
    if ctx is not None and is_participant(ctx.config):
        screen = participant_screens.step_screen(services, view, state, principal, ctx)
        if screen is not None:
            return screen
    return _done(view, state, result)


def _item_frame(view: RaterView, ctx: StudyContext | None, result: dict, files: ScreenFiles,
                texts: dict[str, str], *, intro_open: bool) -> dict[Any, Any]:
    """The rating panel around the item (counter, pictures, buttons), for a ready or a pending item."""
    colormap = ctx.config.display.colormap if ctx is not None else None
    return {
        view.notice: gr.update(visible=False),
        view.panel: gr.update(visible=True),
        view.progress: progress_html(result["progress"]["done"], result["progress"]["total"]),
        view.stage: stage_html(
            result,
            item_path=files.item,
            explanation_path=files.explanations.__getitem__,
            neighbour_pictures=lambda i: files.neighbours[i] if i < len(files.neighbours) else [],
            **_colormap(colormap),
        ),
        view.submit: gr.update(value=submit_label(texts)),
        view.consent: gr.update(visible=False),
        view.intro: gr.update(visible=False),
        view.intro_open: gr.update(visible=intro_open, value=texts["instructions_open"]),
    }


def _waiting_screen(view: RaterView, waiting: RaterState, frame: dict[Any, Any]) -> list:
    """The item while its explanation is computed: no questions, and the poll timer running."""
    return view.out({
        **frame,
        **hidden_questions(view),
        view.state: waiting,
        view.cant_tell: gr.update(value=False, visible=False),
        view.message: gr.update(value=PREPARING),
        view.poll: gr.Timer(active=True),
    })


def _item_screen(view: RaterView, shown: RaterState, questions: list[dict], frame: dict[Any, Any],
                 message: str) -> list:
    """An item with its questions laid out anew (the first item, or other questions than before)."""
    asked = {q["key"] for q in questions}
    return view.out({
        **frame,
        **question_updates(view, questions),
        view.state: shown,
        view.cant_tell: gr.update(value=False, visible=CANT_TELL in asked),
        view.message: gr.update(value=message),
        view.poll: gr.Timer(active=False),
    })


def _colormap(colormap: str | None) -> dict:
    return {"colormap": colormap} if colormap else {}


def _done(view: RaterView, state: RaterState, result: Finished) -> list:
    finished = RaterState(token=state.token, study=state.study, finished=True)
    html = done_html(result.completion_code, result.done, result.total)
    return view.out(notice_screen(view, "", "", body_html=html, state=finished))


def on_submit(services: Services, view: RaterView, state: RaterState, values: tuple) -> list:
    if state.mode in participant_screens.STEP_MODES:
        try:
            principal = auth.authenticate(services.settings, state.token)
            screen = participant_screens.on_step_submit(services, view, state, principal, values)
        except PlatformError as exc:
            return view.out({view.message: gr.update(value=f"**Not saved:** {exc.message}")})
        return screen if screen is not None else show_next(services, view, state, principal=principal)
    if not state.assignment_id:
        return show_next(services, view, state) if state.token else notice_only(view, *WELCOME)
    try:
        principal = auth.authenticate(services.settings, state.token)
        shown_at = state.shown_at if state.shown_at is not None else time.monotonic()
        elapsed_ms = round((time.monotonic() - shown_at) * 1000.0, 1)
        services.submit(
            principal,
            assignment_id=state.assignment_id,
            answers=answers_from(state, values),
            idempotency_key=state.idempotency_key,
            client_elapsed_ms=elapsed_ms,
        )
    except InvalidAnswer as exc:
        return view.out({view.message: gr.update(value=participant_screens.invalid_text(state, exc))})
    except NotAnswerable as exc:  # closed study, released item, finished rater: show where they stand
        return show_next(services, view, state, message=f"**Not saved:** {exc.message}", principal=principal)
    except PlatformError as exc:
        return view.out({view.message: gr.update(value=f"**Not saved:** {exc.message}")})
    return show_next(services, view, state, principal=principal)
