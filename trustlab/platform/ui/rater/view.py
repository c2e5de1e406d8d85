"""The rating tab's components and the pieces every rater screen shares (no handlers): the outputs in
one order, a notice screen, question widgets from the API's question dicts, answers from widget
values, and the study's rater-facing texts.

Handlers build their updates as ``{component: update}`` and ``RaterView.out`` turns that into the
outputs list (anything not named is left as it is).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from trustlab.platform.ui.rater.state import RaterState
from trustlab.platform.ui.render import notice_html
from trustlab.studies.config.texts import DEFAULT_TEXTS, rater_texts
from trustlab.studies.questions import ANSWER_KIND, CANT_TELL, TASK_ANSWER

# The answer widgets, one per answer key the studies' tasks can ask (studies.questions).
ANSWER_KEYS = tuple(TASK_ANSWER.values())
YES, NO = "yes", "no"
WELCOME = (
    "Welcome",
    "To rate images, open the invite link you were given (it looks like http://.../?invite=...). "
    "Staff: sign in on the Researcher or Curator tab.",
)
SUBMIT_KEY_HINT = "  (Enter)"


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
    # A link study's consent and instructions; the instructions reopen from every screen.
    consent: gr.Column
    consent_text: gr.Markdown
    consent_accept: gr.Button
    consent_decline: gr.Button
    intro: gr.Column
    intro_text: gr.Markdown
    intro_close: gr.Button
    intro_open: gr.Button

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
            self.submit,
            self.consent,
            self.consent_text,
            self.consent_accept,
            self.consent_decline,
            self.intro,
            self.intro_text,
            self.intro_close,
            self.intro_open,
        ]

    def out(self, updates: dict[Any, Any]) -> list[Any]:
        """The outputs list from ``{component: update}``; components not named stay as they are."""
        return [updates.get(component, gr.update()) for component in self.outputs]

    def lean_out(self, texts: dict[str, str], values: dict[Any, Any]) -> list[Any]:
        """The outputs list for a screen laid out as the one on show (``screen_shell`` unchanged):
        ``values`` are plain values, and every component not named gets a plain value that changes
        nothing visible (its label, or empty text where it is hidden and set again whenever shown).

        Gradio builds a new component for every property update (``gr.update(...)``, even an empty
        one), about 0.2 ms each: a rater's next item needs none. Layout blocks take no value, so they
        get an empty update (cheap)."""
        unchanged = {
            self.notice: "",
            self.submit: submit_label(texts),
            self.consent_text: "",
            self.consent_accept: texts["consent_accept"],
            self.consent_decline: texts["consent_decline"],
            self.intro_text: "",
            self.intro_close: texts["instructions_close"],
            self.intro_open: texts["instructions_open"],
        }
        return [
            values[c] if c in values else unchanged.get(c, gr.update()) for c in self.outputs
        ]


def submit_label(texts: dict[str, str]) -> str:
    return texts["submit"] + SUBMIT_KEY_HINT


def hidden_questions(view: RaterView) -> dict[Any, Any]:
    return {q: gr.update(visible=False) for q in view.questions.values()}


def notice_screen(view: RaterView, title: str, text: str, *, body_html: str | None = None,
                  state: RaterState | None = None) -> dict[Any, Any]:
    """Only a notice on screen (the panel, consent and instructions hidden); the state emptied unless
    given."""
    return {
        view.state: state if state is not None else RaterState(),
        view.notice: gr.update(value=body_html or notice_html(title, text), visible=True),
        view.panel: gr.update(visible=False),
        **hidden_questions(view),
        view.cant_tell: gr.update(value=False),
        view.message: gr.update(value=""),
        view.poll: gr.Timer(active=False),
        view.consent: gr.update(visible=False),
        view.intro: gr.update(visible=False),
        view.intro_open: gr.update(visible=False),
    }


def notice_only(view: RaterView, title: str, text: str) -> list:
    return view.out(notice_screen(view, title, text))


def unchanged(view: RaterView) -> list:
    """No change, and the poll timer stopped (nothing is pending)."""
    return view.out({view.poll: gr.Timer(active=False)})


def study_texts(config: Any) -> dict[str, str]:
    """The study's rater-facing texts (its ``texts:`` over the defaults)."""
    return rater_texts(getattr(config, "texts", None) or {})


def question_update(key: str, question: dict | None) -> Any:
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


def screen_shell(questions: list[dict], texts: dict[str, str], *, intro_open: bool) -> str:
    """A fingerprint of an item screen's layout (its questions with their labels and options, the
    button labels, whether the instructions can be reopened): equal fingerprints, equal screens
    but for the item (``RaterView.lean_out``)."""
    layout = [questions, [texts["submit"], texts["instructions_open"]], intro_open]
    return hashlib.sha256(json.dumps(layout, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cleared_answers(view: RaterView) -> dict[Any, Any]:
    """Every answer widget emptied, as plain values (no property update)."""
    cleared: dict[Any, Any] = {
        widget: "" if ANSWER_KIND[key] == "text" else None for key, widget in view.questions.items()
    }
    cleared[view.cant_tell] = False
    return cleared


def question_updates(view: RaterView, questions: list[dict]) -> dict[Any, Any]:
    by_key = {q["key"]: q for q in questions}
    return {widget: question_update(key, by_key.get(key)) for key, widget in view.questions.items()}


def answers_from(state: RaterState, values: tuple) -> dict[str, Any]:
    """The API's answers dict from the widgets' values (only this screen's questions)."""
    *question_values, cant_tell = values
    asked = set(state.question_keys)
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


DEFAULT_SUBMIT_LABEL = submit_label(DEFAULT_TEXTS)
