"""The steps of a participant of a link study after joining: what to show next, the
instructions, practice items with feedback, attention checks, gold failures, completion, and the
rater's status for ``GET /api/v1/me``. See ``recruitment.join`` for the whole way through."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from trustlab.clock import utc_now
from trustlab.db.engine import DbSession, read_session, unit_of_work
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.items import get_item
from trustlab.db.queries.participants import (
    add_failures,
    add_participant_answer,
    participant_answers,
    participant_for_rater,
    record_instructions_opened,
)
from trustlab.db.queries.predictions import get_prediction
from trustlab.db.queries.studies import study_items
from trustlab.db.queries.users import get_rater, set_completion_code
from trustlab.platform import routes
from trustlab.platform.accounts.auth import Principal
from trustlab.platform.content import payloads, recolour
from trustlab.platform.content.neighbours import neighbour_pictures
from trustlab.platform.content.on_demand import stored_rows
from trustlab.platform.content.paths import existing_file
from trustlab.platform.content.study_cache import StudyContext, StudyLookup, rater_study, rater_study_or_none
from trustlab.platform.errors import Conflict, InvalidAnswer, NotFoundError
from trustlab.platform.recruitment.join import (
    NotAParticipant,
    Step,
    end_participation,
    participant_of,
    refresh_status,
)
from trustlab.studies.config.study import StudyConfig, condition_methods
from trustlab.studies.config.texts import rater_texts
from trustlab.studies.design.assign import done_and_total
from trustlab.studies.practice_feedback import practice_feedback
from trustlab.studies.questions import AnswerError, gold_failures, questions_for, validate_answers
from trustlab.studies.recruitment import rules


def is_participant(config: StudyConfig) -> bool:
    """Whether the study's raters are participants of a link study (with the steps of this module)."""
    return rules.is_link_study(config)


def _practice_ids(services: StudyLookup, ctx: StudyContext) -> list[int]:
    with read_session(services.settings) as s:
        return rules.practice_item_ids(
            s,
            study_id=ctx.id,
            config=ctx.config,
            dataset_id=ctx.dataset_id,
            model_version_id=ctx.model_version_id,
        )


def _practice_condition(ctx: StudyContext) -> str:
    """Practice shows the first condition with an explanation (the study's own kind of screen)."""
    return next((c for c in ctx.config.conditions if condition_methods(c)), ctx.config.conditions[0])


def _ended_step(services: StudyLookup, ctx: StudyContext, participant, done: int, total: int) -> Step:
    with read_session(services.settings) as s:  # a participant's join stored the codes
        codes = rules.ensure_codes(s, study_id=ctx.id, config=ctx.config, now=utc_now())
    kw = {"done": done, "items_total": total}
    if participant.status == "completed":
        url = rules.completion_url(ctx.config, codes=codes, pid=participant.pid, params=participant.params)
        return Step("finished", url=url, code=participant.completion_code or codes[0], **kw)
    if participant.status == "screened_out":
        url = rules.screenout_url(ctx.config, codes=codes, pid=participant.pid, params=participant.params)
        return Step("screened_out", url=url, **kw)
    return Step(participant.status, **kw)


def next_step(services: StudyLookup, principal: Principal) -> Step:
    """What the participant should see now (see ``join.Step``); finishing happens here when every
    item and check is done. NotFoundError for an invited rater (they have only items)."""
    invited = NotAParticipant("you joined by invite: this study has no participant steps for you")
    if principal.is_staff or principal.study_id is None:
        raise invited
    ctx = rater_study(services, principal)
    if not rules.is_link_study(ctx.config):
        raise invited
    with read_session(services.settings) as s:  # one read in the common case
        participant = participant_for_rater(s, rater_id=principal.rater_id)
        if participant is None:
            raise invited
        expired = participant.status == "started" and rules.timed_out(
            ctx.config, started_at=participant.started_at, now=utc_now()
        )
        if not expired:
            done, total = done_and_total(s, study_id=ctx.id, rater_id=principal.rater_id)
            answered = participant_answers(s, participant_id=participant.id)
    if expired:  # past max_minutes: end the session (its items are released), then say so
        refresh_status(services, principal)
        return next_step(services, principal)
    if participant.status != "started":
        return _ended_step(services, ctx, participant, done, total)
    kw = {"done": done, "items_total": total}
    practice_done = {a.index for a in answered if a.kind == "practice"}
    practice_total = ctx.config.practice.count
    for index in range(practice_total):
        if index not in practice_done:
            return Step("practice", index=index, total=practice_total, **kw)
    attention = ctx.config.attention
    due = rules.due_attention(
        len(attention), total=total, done=done, answered={a.index for a in answered if a.kind == "attention"}
    )
    if due is not None:
        return Step("attention", index=due, total=len(attention), prompt=attention[due].prompt, **kw)
    if done >= total > 0 and participant.status == "started":
        finish(services, principal)
        return next_step(services, principal)
    return Step("item", **kw)


def pending_check(services: StudyLookup, principal: Principal) -> bool:
    """Whether the rater is a participant of a link study who may get an item now (False: an invited
    rater, who goes straight on). Raises Conflict when their session ended or a practice item or an
    attention check comes first (a completed participant passes: ``next_item`` gives the code again)."""
    try:
        step = next_step(services, principal)
    except NotAParticipant:
        return False
    if step.kind in ("practice", "attention"):
        raise Conflict(f"answer {step.kind} {step.index + 1} of {step.total} first")
    if step.kind not in ("item", "finished"):
        raise Conflict(f"your participation in this study has ended ({step.kind}); GET /api/v1/me says more")
    return True


def finish(services: StudyLookup, principal: Principal) -> tuple[str, str | None]:
    """Complete a participant who has done every item and check: the study's completion code, stored
    with them (and on the rater, so no answer is added after), and the completion URL."""
    ctx = rater_study(services, principal)
    now = utc_now()
    with unit_of_work(services.settings) as s:
        participant = participant_of(s, principal, for_update=True)
        codes = rules.ensure_codes(s, study_id=ctx.id, config=ctx.config, now=now)
        if participant.status == "started":
            end_participation(s, participant, status="completed", now=now, code=codes[0])
            set_completion_code(s, rater_id=principal.rater_id, code=codes[0])
        elif participant.status != "completed":
            raise Conflict(f"your participation in this study has ended ({participant.status})")
        url = rules.completion_url(ctx.config, codes=codes, pid=participant.pid, params=participant.params)
        return codes[0], url


def open_instructions(services: StudyLookup, principal: Principal) -> dict[str, Any]:
    """Count one opening of the instructions; returns {text, opened} (text None when the study has none)."""
    ctx = rater_study_or_none(services, principal)
    with unit_of_work(services.settings) as s:
        participant = participant_of(s, principal)
        row = record_instructions_opened(s, participant_id=participant.id, now=utc_now())
        opened = row.instructions_opened
    text = ctx.config.instructions.text if ctx is not None and ctx.config.instructions else None
    return {"text": text, "opened": opened}


def practice_item(services: StudyLookup, principal: Principal, *, index: int) -> dict[str, Any]:
    """The ``index``-th practice item: {index, total, item_id, image_url, image_path (server file, for
    the Gradio UI), prediction {label, confidence} (when the study shows it), explanations [{method,
    title, kind?, image_path, neighbour_pictures}] (stored ones only; ``payloads.rater_heading``),
    questions, intro}."""
    ctx = rater_study(services, principal)
    ids = _practice_ids(services, ctx)
    if not 0 <= index < len(ids):
        raise NotFoundError(f"practice item {index + 1} does not exist (the study has {len(ids)})")
    condition = _practice_condition(ctx)
    methods = condition_methods(condition)
    with read_session(services.settings) as s:
        participant_of(s, principal)
        item = get_item(s, item_id=ids[index])
        prediction = get_prediction(s, model_version_id=ctx.model_version_id, item_id=item.id)
        _, rows = stored_rows(s, ctx, item_id=item.id, methods=methods)
        shown = [neighbour_pictures(services.settings, s, r, show_prediction=ctx.config.show_prediction)
                 for r in rows]
    item_path = existing_file(services.settings.images_dir, item.path)
    explanations = []
    for k, row in enumerate(rows):  # headed as the study's items are (payloads.rater_heading)
        if row is not None and row.overlay_path:  # drawn in the study's colour map, like its items
            path = recolour.overlay_in(
                services.settings, row, item_path=item_path, colormap=ctx.config.display.colormap
            )
            heading = payloads.rater_heading(ctx, index=k, methods=methods)
            explanations.append({**heading, "image_path": str(path), "neighbour_pictures": shown[k]})
    payload: dict[str, Any] = {
        "index": index,
        "total": len(ids),
        "item_id": item.id,
        "image_url": routes.practice_image_path(ctx.name, index),
        "image_path": str(item_path),
        "explanations": explanations,
        "questions": questions_for(ctx.config, ctx.class_names, condition=condition),
        "intro": rater_texts(ctx.config.texts)["practice_intro"],
    }
    if ctx.config.show_prediction and prediction is not None:
        payload["prediction"] = {"label": prediction.predicted_label, "confidence": prediction.confidence}
    return payload


def practice_image(services: StudyLookup, principal: Principal, *, study: str, index: int) -> Path:
    rater_study(services, principal, name=study)
    return Path(practice_item(services, principal, index=index)["image_path"])


def _validated(ctx: StudyContext, answers: dict[str, Any], condition: str | None) -> dict[str, Any]:
    try:
        return validate_answers(ctx.config, answers, ctx.class_names, condition=condition)
    except AnswerError as exc:
        raise InvalidAnswer(exc.field, exc.message) from exc


def answer_practice(
    services: StudyLookup, principal: Principal, *, index: int, answers: dict[str, Any]
) -> dict:
    """Store a practice answer (the first one counts) and return the feedback: {correct, right_answers
    {key: value}, feedback} (``right_answers``: the questions that have one). Never analysed."""
    ctx = rater_study(services, principal)
    ids = _practice_ids(services, ctx)
    if not 0 <= index < len(ids):
        raise NotFoundError(f"practice item {index + 1} does not exist (the study has {len(ids)})")
    cleaned = _validated(ctx, answers, _practice_condition(ctx))
    with unit_of_work(services.settings) as s:
        participant = participant_of(s, principal)
        item = get_item(s, item_id=ids[index])
        prediction = get_prediction(s, model_version_id=ctx.model_version_id, item_id=item.id)
        right = rules.known_answers(
            ctx.config, label=item.current_label, predicted=prediction.predicted_label if prediction else None
        )
        correct = all(cleaned.get(key) == value for key, value in right.items())
        add_participant_answer(
            s,
            participant_id=participant.id,
            kind="practice",
            index=index,
            item_id=item.id,
            answers=cleaned,
            correct=correct,
            now=utc_now(),
        )
    feedback = practice_feedback(rater_texts(ctx.config.texts), right, correct=correct)
    return {"correct": correct, "right_answers": right, "feedback": feedback}


def _attention(ctx: StudyContext, index: int):
    checks = ctx.config.attention
    if not 0 <= index < len(checks):
        raise NotFoundError(f"attention check {index + 1} does not exist (the study has {len(checks)})")
    return checks[index]


def attention_check(services: StudyLookup, principal: Principal, *, index: int) -> dict[str, Any]:
    """The ``index``-th attention check: {index, total, prompt, questions} (only the questions whose
    answer the check names, e.g. the verify question for {model_correct: false})."""
    ctx = rater_study(services, principal)
    check = _attention(ctx, index)
    questions = [q for q in questions_for(ctx.config, ctx.class_names) if q["key"] in check.answer]
    total = len(ctx.config.attention)
    return {"index": index, "total": total, "prompt": check.prompt, "questions": questions}


def answer_attention(
    services: StudyLookup, principal: Principal, *, index: int, answers: dict[str, Any]
) -> dict:
    """Store an attention check's answer (the first one counts); a wrong one is a failure, and more
    failures (with gold ones) than ``gold.max_failures`` screen the participant out. Returns {status}
    (the participant's status after it; whether the check was passed is not told)."""
    ctx = rater_study(services, principal)
    check = _attention(ctx, index)
    if not isinstance(answers, dict):
        raise InvalidAnswer("answers", "expected an object of answers")
    unknown = sorted(set(answers) - set(check.answer))
    if unknown:
        raise InvalidAnswer(unknown[0], f"is not asked by this check; answer {', '.join(check.answer)}")
    cleaned = {key: answers[key] for key in check.answer if key in answers}
    passed = rules.attention_passed(check, cleaned)
    now = utc_now()
    with unit_of_work(services.settings) as s:
        participant = participant_of(s, principal, for_update=True)
        if participant.status != "started":
            raise Conflict(f"your participation in this study has ended ({participant.status})")
        _, created = add_participant_answer(
            s,
            participant_id=participant.id,
            kind="attention",
            index=index,
            item_id=None,
            answers=cleaned,
            correct=passed,
            now=now,
        )
        if created and not passed:
            _count_failure(s, ctx, participant, attention=1, now=now)
        return {"status": participant_for_rater(s, rater_id=principal.rater_id).status}


def _count_failure(
    session: DbSession, ctx: StudyContext, participant, *, now: datetime, attention: int = 0, gold: int = 0
) -> None:
    row = add_failures(session, participant_id=participant.id, attention=attention, gold=gold)
    if rules.too_many_failures(
        ctx.config, attention_failures=row.attention_failures, gold_failures=row.gold_failures
    ):
        end_participation(
            session, row, status="screened_out", now=now, reason="failed attention or gold checks"
        )


def after_judgement(
    session: DbSession, ctx: StudyContext, principal: Principal, *, assignment, answers: dict[str, Any]
) -> None:
    """In the unit that stored a new judgement: count a failed gold item against a participant of a
    link study (and screen them out past ``gold.max_failures``). Nothing for invited raters."""
    if not assignment.is_gold or not rules.is_link_study(ctx.config):
        return
    participant = participant_for_rater(session, rater_id=principal.rater_id, for_update=True)
    if participant is None or participant.status != "started":
        return
    gold = next(
        (si for si in study_items(session, study_id=ctx.id) if si.item_id == assignment.item_id), None
    )
    if gold is not None and gold_failures(gold.gold_answers, answers):
        _count_failure(session, ctx, participant, gold=1, now=utc_now())


def rater_status(services: StudyLookup, principal: Principal) -> dict[str, Any]:
    """{study, done, total, status, completion_code, completion_url} for a rater (``GET /me``): the
    code and URL only once finished; ``screenout_url`` too when screened out. Invited raters: status
    completed once they got their own completion code, else started; no URL."""
    if principal.study_id is None:
        return {
            "study": None,
            "done": 0,
            "total": 0,
            "status": None,
            "completion_code": None,
            "completion_url": None,
        }
    ctx = rater_study(services, principal)
    if rules.is_link_study(ctx.config):
        try:
            step = next_step(services, principal)
        except NotAParticipant:
            step = None
        if step is not None:
            status = {
                "finished": "completed",
                "practice": "started",
                "attention": "started",
                "item": "started",
            }.get(step.kind, step.kind)
            out = {
                "study": ctx.name,
                "done": step.done,
                "total": step.items_total,
                "status": status,
                "completion_code": step.code if status == "completed" else None,
                "completion_url": step.url if status == "completed" else None,
            }
            if status == "screened_out":
                out["screenout_url"] = step.url
            return out
    with read_session(services.settings) as s:
        done, total = done_and_total(s, study_id=ctx.id, rater_id=principal.rater_id)
        try:
            code = get_rater(s, rater_id=principal.rater_id).completion_code
        except NotFound:
            code = None
    return {
        "study": ctx.name,
        "done": done,
        "total": total,
        "status": "completed" if code else "started",
        "completion_code": code,
        "completion_url": None,
    }
