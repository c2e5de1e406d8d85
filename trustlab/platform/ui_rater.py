"""The rating screen (Gradio): one item at a time, keyboard answers, completion code.

Per-rater state lives in the database; the page holds only the bearer token (per-tab gr.State, and
the browser's localStorage through gr.BrowserState so a reload resumes: see ui_rater_access, which
also signs raters in from their invite and out again), and handlers open one short session per call
through Services.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import gradio as gr

from trustlab.platform import auth
from trustlab.platform.errors import InvalidAnswer, PlatformError
from trustlab.platform.on_demand import RETRY_AFTER_S
from trustlab.platform.services import Finished, NotAnswerable, Services
from trustlab.platform.ui_render import HELP_HTML, done_html, notice_html, progress_html, stage_html
from trustlab.studies.questions import ANSWER_KIND, CANT_TELL, TASK_ANSWER

log = logging.getLogger(__name__)

# The answer widgets, one per answer key the studies' tasks can ask (studies.questions).
ANSWER_KEYS = tuple(TASK_ANSWER.values())
YES, NO = "yes", "no"
KEYS_TOGGLE_LABEL = "Single-key shortcuts (y, n, digits, c, t, ?)"
PREPARING = "The explanation is being prepared… this page updates by itself in a moment."
WELCOME = (
    "Welcome",
    "To rate images, open the invite link you were given (it looks like http://.../?invite=...). "
    "Staff: sign in on the Researcher or Curator tab.",
)


@dataclass
class RaterView:
    """The rating tab's components (``outputs`` is the order every handler returns)."""

    state: gr.State
    stored: gr.BrowserState
    notice: gr.HTML
    panel: gr.Column
    progress: gr.HTML
    stage: gr.HTML
    questions: dict[str, gr.components.Component]
    cant_tell: gr.Checkbox
    message: gr.Markdown
    submit: gr.Button
    # Ticks while an explanation is being computed: the item is fetched again until every one is shown.
    poll: gr.Timer

    @property
    def outputs(self) -> list[Any]:
        return [
            self.state,
            self.notice,
            self.panel,
            self.progress,
            self.stage,
            *self.questions.values(),
            self.cant_tell,
            self.message,
            self.poll,
        ]


def build_rater_tab(services: Services, stored: gr.BrowserState) -> RaterView:
    """Create the rating components inside the current Blocks context and wire submit."""
    state = gr.State({})
    notice = gr.HTML(notice_html(*WELCOME), elem_id="tl-notice")
    with gr.Column(visible=False, elem_id="tl-rate-panel") as panel:
        progress = gr.HTML(elem_id="tl-progress")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                stage = gr.HTML(elem_id="tl-stage")
            with gr.Column(scale=2, min_width=300, elem_id="tl-questions"):
                questions: dict[str, gr.components.Component] = {}
                for key in ANSWER_KEYS:
                    if ANSWER_KIND[key] == "text":
                        questions[key] = gr.Textbox(
                            label="Comment (optional)",
                            lines=1,
                            max_lines=4,
                            elem_id=f"tl-q-{key}",
                            elem_classes=["tl-q", "tl-text"],
                            visible=False,
                        )
                    else:
                        questions[key] = gr.Radio(
                            choices=[], label=key, elem_id=f"tl-q-{key}", elem_classes=["tl-q"], visible=False
                        )
                cant_tell = gr.Checkbox(
                    label="I can't tell (c)", elem_id="tl-q-cant_tell", elem_classes=["tl-cant-tell"]
                )
                message = gr.Markdown(elem_id="tl-message")
                submit = gr.Button("Submit and next  (Enter)", variant="primary", elem_id="tl-submit")
                gr.HTML(HELP_HTML, elem_id="tl-help", visible=True, elem_classes=["tl-help-box"])
                # WCAG 2.1.4: single-key shortcuts can be switched off (keyboard.js reads this box and
                # remembers the choice in the browser); no server handler.
                gr.Checkbox(
                    True, label=KEYS_TOGGLE_LABEL, elem_id="tl-keys-on", container=False, interactive=True
                )
    poll = gr.Timer(RETRY_AFTER_S, active=False)
    view = RaterView(
        state=state,
        stored=stored,
        notice=notice,
        panel=panel,
        progress=progress,
        stage=stage,
        questions=questions,
        cant_tell=cant_tell,
        message=message,
        submit=submit,
        poll=poll,
    )
    poll.tick(
        lambda st: show_next(services, view, st) if st.get("pending") else _unchanged(view),
        inputs=[state],
        outputs=view.outputs,
        concurrency_limit=None,
        show_progress="hidden",
    )
    submit.click(
        lambda st, *values: on_submit(services, view, st, values),
        inputs=[state, *questions.values(), cant_tell],
        outputs=view.outputs,
        concurrency_limit=None,
        show_progress="hidden",
    )
    return view


def _notice_only(view: RaterView, title: str, text: str) -> list:
    hidden = [gr.update(visible=False) for _ in view.questions]
    return [
        {},
        gr.update(value=notice_html(title, text), visible=True),
        gr.update(visible=False),
        gr.update(),
        gr.update(),
        *hidden,
        gr.update(value=False),
        gr.update(value=""),
        gr.Timer(active=False),
    ]


def _unchanged(view: RaterView) -> list:
    """No change, and the poll timer stopped (nothing is pending)."""
    return [*(gr.update() for _ in view.outputs[:-1]), gr.Timer(active=False)]


def show_next(services: Services, view: RaterView, state: dict, message: str = "") -> list:
    """Fetch the rater's current item and return every output's update.

    While an explanation is still being computed the questions stay hidden and the state holds no
    assignment (nothing can be answered: the judgement is about the explanation); the poll timer
    fetches the item again every RETRY_AFTER_S seconds until every explanation is shown."""
    try:
        principal = auth.authenticate(services.settings, state.get("token"))
        study = state.get("study") or services.study(study_id=principal.study_id).name
        result = services.next_item(principal, study=study)
    except PlatformError as exc:
        return _notice_only(view, "Cannot continue", exc.message)
    if isinstance(result, Finished):
        return _notice_only_done(view, state, result)
    item_path = services.item_image(principal, item_id=result["item_id"])

    def explanation_path(index: int):
        try:
            return services.assignment_explanation_image(
                principal, assignment_id=result["assignment_id"], index=index
            )
        except PlatformError:
            log.debug("explanation %s of assignment %s not shown", index, result["assignment_id"],
                      exc_info=True)
            return None

    def screen(new_state: dict, questions: list, cant_tell: bool, note: str, poll: bool) -> list:
        done, total = result["progress"]["done"], result["progress"]["total"]
        return [
            new_state,
            gr.update(visible=False),
            gr.update(visible=True),
            progress_html(done, total),
            stage_html(result, item_path=item_path, explanation_path=explanation_path),
            *questions,
            gr.update(value=False, visible=cant_tell),
            gr.update(value=note),
            gr.Timer(active=poll),
        ]

    if result.get("pending"):  # no assignment in the state: nothing can be answered until it is shown
        hidden = [gr.update(visible=False) for _ in view.questions]
        waiting = {"token": state["token"], "study": study, "pending": True}
        return screen(waiting, hidden, False, PREPARING, True)
    new_state = {
        "token": state["token"],
        "study": study,
        "assignment_id": result["assignment_id"],
        # One key per shown item: a double Enter stores one judgement, not two.
        "key": f"ui-{result['assignment_id']}-{uuid.uuid4().hex}",
        "shown_at": time.monotonic(),
        "keys": [q["key"] for q in result["questions"]],
        "labels": {q["key"]: q["label"] for q in result["questions"]},
    }
    by_key = {q["key"]: q for q in result["questions"]}
    updates = [_question_update(key, by_key.get(key)) for key in view.questions]
    return screen(new_state, updates, CANT_TELL in by_key, message, False)


def _notice_only_done(view: RaterView, state: dict, result: Finished) -> list:
    outputs = _notice_only(view, "", "")
    outputs[0] = {"token": state.get("token"), "study": state.get("study"), "finished": True}
    outputs[1] = gr.update(value=done_html(result.completion_code, result.done, result.total), visible=True)
    return outputs


def _question_update(key: str, question: dict | None) -> Any:
    if question is None:
        return gr.update(visible=False, value=None)
    kind, label = question["kind"], question["label"]
    if kind == "bool":
        return gr.update(
            visible=True, value=None, label=f"{label}  (y / n)", choices=[("Yes", YES), ("No", NO)]
        )
    if kind == "choice":
        choices = [(f"{i + 1}  {name}", name) for i, name in enumerate(question["options"])]
        return gr.update(visible=True, value=None, label=f"{label}  (keys 1-{len(choices)})", choices=choices)
    if kind == "likert":
        low, high = question.get("anchors") or ("low", "high")
        lo, hi = question["min"], question["max"]
        return gr.update(
            visible=True,
            value=None,
            choices=[str(v) for v in range(lo, hi + 1)],
            label=f"{label}  ({lo} = {low}, {hi} = {high})",
        )
    return gr.update(visible=True, value="", label=label)


def answers_from(state: dict, values: tuple) -> dict[str, Any]:
    """The API's answers dict from the widgets' values (only this study's questions)."""
    *question_values, cant_tell = values
    asked = set(state.get("keys") or [])
    answers: dict[str, Any] = {}
    for key, value in zip(ANSWER_KEYS, question_values, strict=True):
        if key not in asked or value in (None, ""):
            continue
        kind = ANSWER_KIND[key]
        if kind == "bool":
            answers[key] = value == YES
        elif kind == "likert":
            answers[key] = int(value)
        elif kind == "text":
            answers[key] = str(value).strip()
        else:
            answers[key] = value
    if CANT_TELL in asked:
        answers[CANT_TELL] = bool(cant_tell)
    return answers


def on_submit(services: Services, view: RaterView, state: dict, values: tuple) -> list:
    if not state.get("assignment_id"):
        return show_next(services, view, state) if state.get("token") else _notice_only(view, *WELCOME)
    no_change = [gr.update() for _ in view.outputs]
    try:
        principal = auth.authenticate(services.settings, state.get("token"))
        elapsed_ms = round((time.monotonic() - state.get("shown_at", time.monotonic())) * 1000.0, 1)
        services.submit(
            principal,
            assignment_id=state["assignment_id"],
            answers=answers_from(state, values),
            idempotency_key=state["key"],
            client_elapsed_ms=elapsed_ms,
        )
    except InvalidAnswer as exc:
        label = (state.get("labels") or {}).get(exc.field, exc.field)
        text = f"**Please answer:** {label}" if "required" in exc.message else f"**{label}:** {exc.message}"
        no_change[-2] = gr.update(value=text)
        return no_change
    except NotAnswerable as exc:  # closed study, released item, finished rater: show where they stand
        return show_next(services, view, state, message=f"**Not saved:** {exc.message}")
    except PlatformError as exc:
        no_change[-2] = gr.update(value=f"**Not saved:** {exc.message}")
        return no_change
    return show_next(services, view, state)
