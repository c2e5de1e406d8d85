"""The screens of a link study's participant between items: practice items with feedback that shows
the right answer, attention checks, and the endings (completion code and redirect, screen-out, timed
out, returned). They reuse the rating panel (the same question widgets and keys); the rules and
storage are ``platform.recruitment.steps``'.

``step_screen`` returns the outputs for what the participant should see now, or None when that is the
next regular item; ``on_step_submit`` stores a practice or attention answer and returns the feedback
screen, or None to go on.
"""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from trustlab.platform.accounts.auth import Principal
from trustlab.platform.content.study_cache import StudyContext
from trustlab.platform.errors import InvalidAnswer
from trustlab.platform.recruitment import steps as participant_steps
from trustlab.platform.recruitment.join import NotAParticipant, Step
from trustlab.platform.services.rater import Services
from trustlab.platform.ui.rater.state import Mode, RaterState
from trustlab.platform.ui.rater.view import (
    SUBMIT_KEY_HINT,
    RaterView,
    answers_from,
    notice_screen,
    question_updates,
    study_texts,
    submit_label,
)
from trustlab.platform.ui.render import attention_html, done_link_html, progress_html, stage_html

PRACTICE: Mode = "practice"
ATTENTION: Mode = "attention"
FEEDBACK: Mode = "feedback"
STEP_MODES = (PRACTICE, ATTENTION, FEEDBACK)
PLATFORM_NAMES = {"prolific": "Prolific", "mturk": "MTurk", "generic": "the study site"}


def current_step(services: Services, principal: Principal) -> Step | None:
    """The participant's current step (``participant_steps.next_step``); None for a rater who came to
    a link study by invite (they rate as any invited rater does)."""
    try:
        return participant_steps.next_step(services, principal)
    except NotAParticipant:
        return None


def step_screen(
    services: Services, view: RaterView, state: RaterState, principal: Principal, ctx: StudyContext, *,
    message: str = "", step: Step | None = None,
) -> list | None:
    """The participant's current step (``step``: as the caller just found it) as outputs (None: show
    the next regular item; also for a rater who came to a link study by invite)."""
    step = step or current_step(services, principal)
    if step is None:
        return None
    texts = study_texts(ctx.config)
    kept = RaterState(token=state.token, study=ctx.name, link=True, intro_seen=True)
    if step.kind == "item":
        return None
    if step.kind == PRACTICE:
        return _practice(services, view, principal, ctx, step, texts, kept, message)
    if step.kind == ATTENTION:
        return _attention(services, view, principal, ctx, step, texts, kept, message)
    return view.out(_ending(view, ctx, step, texts, kept))


def _panel(view: RaterView, ctx: StudyContext, step: Step, texts: dict, stage: str) -> dict[Any, Any]:
    return {
        view.notice: gr.update(visible=False),
        view.panel: gr.update(visible=True),
        view.progress: progress_html(step.done, step.items_total),
        view.stage: stage,
        view.submit: gr.update(value=submit_label(texts)),
        view.consent: gr.update(visible=False),
        view.intro: gr.update(visible=False),
        view.intro_open: gr.update(
            visible=ctx.config.instructions is not None, value=texts["instructions_open"]
        ),
        view.poll: gr.Timer(active=False),
    }


def _question_state(kept: RaterState, mode: Mode, index: int, questions: list[dict]) -> RaterState:
    return replace(
        kept,
        mode=mode,
        step_index=index,
        question_keys=tuple(q["key"] for q in questions),
        question_labels={q["key"]: q["label"] for q in questions},
        questions=tuple(questions),
    )


def _practice(services, view, principal, ctx, step: Step, texts, kept, message) -> list:
    payload = participant_steps.practice_item(services, principal, index=step.index)
    shown = payload["explanations"]  # headed as the study's items are, so practice looks the same
    explanations = [
        {**{k: e[k] for k in ("method", "title", "kind") if k in e}, "image_url": True, "status": "ready"}
        for e in shown
    ]
    paths = [Path(e["image_path"]) for e in shown]
    title = texts["practice_title"].format(n=step.index + 1, total=step.total)
    banner = f'<div class="tl-practice"><b>{html.escape(title)}</b> {html.escape(payload["intro"])}</div>'
    stage = stage_html(
        {"assignment_id": 0, "prediction": payload.get("prediction"), "explanations": explanations},
        item_path=Path(payload["image_path"]),
        explanation_path=lambda i: paths[i],
        neighbour_pictures=lambda i: shown[i].get("neighbour_pictures") or [],
        colormap=ctx.config.display.colormap,
        stage_id=f"practice-{step.index}",
        banner=banner,
    )
    questions = payload["questions"]
    asked = {q["key"] for q in questions}
    return view.out({
        **_panel(view, ctx, step, texts, stage),
        **question_updates(view, questions),
        view.state: _question_state(kept, PRACTICE, step.index, questions),
        view.cant_tell: gr.update(value=False, visible="cant_tell" in asked),
        view.message: gr.update(value=message),
    })


def _attention(services, view, principal, ctx, step: Step, texts, kept, message) -> list:
    check = participant_steps.attention_check(services, principal, index=step.index)
    stage = attention_html(texts["attention_title"], check["prompt"], stage_id=f"attention-{step.index}")
    questions = check["questions"]
    return view.out({
        **_panel(view, ctx, step, texts, stage),
        **question_updates(view, questions),
        view.state: _question_state(kept, ATTENTION, step.index, questions),
        view.cant_tell: gr.update(value=False, visible=False),
        view.message: gr.update(value=message),
    })


def _ending(view: RaterView, ctx: StudyContext, step: Step, texts: dict, kept: RaterState) -> dict[Any, Any]:
    platform = PLATFORM_NAMES.get(ctx.config.recruitment.platform, PLATFORM_NAMES["generic"])
    state = replace(kept, finished=True)
    if step.kind == "finished":
        body = done_link_html(
            texts["finished_title"],
            texts["finished_body"].format(code=step.code),
            code=step.code or "",
            url=step.url,
            redirecting=texts["redirecting"].format(platform=platform),
            link_text=texts["redirect_link"].format(platform=platform),
        )
        return notice_screen(view, "", "", body_html=body, state=state)
    titles = {
        "screened_out": (texts["screened_out_title"], texts["screened_out_body"]),
        "timed_out": (
            texts["timed_out_title"],
            texts["timed_out_body"].format(minutes=f"{ctx.config.max_minutes or 0:g}"),
        ),
        "returned": (texts["screened_out_title"], texts["returned_body"]),
    }
    title, text = titles.get(step.kind, (texts["screened_out_title"], texts["screened_out_body"]))
    url = step.url if step.kind == "screened_out" else None
    body = done_link_html(
        title,
        text,
        url=url,
        redirecting=texts["redirecting"].format(platform=platform),
        link_text=texts["redirect_link"].format(platform=platform),
    )
    return notice_screen(view, title, text, body_html=body, state=state)


def invalid_text(state: RaterState, exc: InvalidAnswer) -> str:
    label = state.question_labels.get(exc.field, exc.field)
    return f"**Please answer:** {label}" if "required" in exc.message else f"**{label}:** {exc.message}"


def on_step_submit(
    services: Services, view: RaterView, state: RaterState, principal: Principal, values: tuple
) -> list | None:
    """Store the practice / attention answer on screen. A practice answer shows its feedback (the
    right answer) and waits for Continue; everything else goes on (None)."""
    mode, index = state.mode, state.step_index
    if mode == FEEDBACK:
        return None
    answers = answers_from(state, values)
    try:
        if mode == ATTENTION:
            participant_steps.answer_attention(services, principal, index=index, answers=answers)
            return None
        feedback = participant_steps.answer_practice(services, principal, index=index, answers=answers)
    except InvalidAnswer as exc:
        return view.out({view.message: gr.update(value=invalid_text(state, exc))})
    ctx = services.study(study_id=principal.study_id)
    text = ("✔ " if feedback["correct"] else "✘ ") + html.escape(feedback["feedback"])
    verdict = "tl-right" if feedback["correct"] else "tl-wrong"
    return view.out({
        view.state: replace(state, mode=FEEDBACK),
        view.message: gr.update(value=f'<div class="tl-feedback {verdict}">{text}</div>'),
        view.submit: gr.update(value=study_texts(ctx.config)["practice_next"] + SUBMIT_KEY_HINT),
    })
