"""The rules of a link study (raters join through its public link), once: who counts as admitted, where a
finished or screened-out participant goes, when an attention check is due, what a practice item's
right answer is, when a participant is screened out or timed out.

Statuses: ``started`` (joined, working), ``completed`` (every item and check done; gets the study's
completion code), ``screened_out`` (attention + gold failures over ``gold.max_failures``),
``timed_out`` (past ``max_minutes``; unfinished items released), ``returned`` (gave the study back
on the platform; set by `trustlab study participants --returned PID`). A participant who declines
consent is not stored at all: they are sent to the screen-out URL and nothing about them is kept.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import numpy as np

from trustlab.db.engine import DbSession
from trustlab.db.queries.items import list_items
from trustlab.db.queries.participants import (
    add_recruitment_codes,
    recruitment_codes,
    release_rater_assignments,
    set_participant_status,
    started_before,
)
from trustlab.db.queries.predictions import predictions_for_items
from trustlab.db.queries.studies import study_items
from trustlab.db.queries.times import as_utc
from trustlab.studies.config.recruitment import PLATFORM_PARAMS, AttentionCheck
from trustlab.studies.config.study import StudyConfig
from trustlab.studies.judgements import model_correct
from trustlab.studies.questions import TASK_ANSWER

STATUSES: tuple[str, ...] = ("started", "completed", "screened_out", "timed_out", "returned")
# Participants who hold a place: a screened-out, timed-out or returned participant frees theirs (the
# platforms open a new place for them too), so max_participants counts only these.
PLACE_HOLDING: tuple[str, ...] = ("started", "completed")
ENDED: tuple[str, ...] = tuple(s for s in STATUSES if s != "started")
CODE_BYTES = 4  # 8 hex characters, like Prolific's own codes
MAX_PARAM_CHARS = 200
# Where MTurk sends a HIT's workers back (``turkSubmitTo``): production and the sandbox.
MTURK_HOSTS = frozenset({"https://www.mturk.com", "https://workersandbox.mturk.com"})


def is_link_study(config: StudyConfig) -> bool:
    return config.recruitment.mode == "link"


def new_code() -> str:
    return secrets.token_hex(CODE_BYTES).upper()


def ensure_codes(session: DbSession, *, study_id: int, config: StudyConfig, now: datetime) -> tuple[str, str]:
    """(completion code, screen-out code) of a study: the YAML's, else the ones generated and stored
    the first time they are needed (``study create``, the first join, `study link`)."""
    row = recruitment_codes(session, study_id=study_id)
    if row is None:
        row = add_recruitment_codes(
            session, study_id=study_id, completion_code=new_code(), screenout_code=new_code(), now=now
        )
    spec = config.recruitment
    return spec.completion_code or row.completion_code, spec.screenout_code or row.screenout_code


def split_params(config: StudyConfig, params: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """(participant id, the platform's other parameters) from a link's query parameters.

    The pid is the platform's id parameter (PROLIFIC_PID, workerId, pid), or ``pid`` on any platform;
    parameters the platform does not define are dropped, and a ``turkSubmitTo`` that is not MTurk's
    (``MTURK_HOSTS``); values are cut to 200 characters.
    """
    names = PLATFORM_PARAMS[config.recruitment.platform]
    clean = {str(k): str(v)[:MAX_PARAM_CHARS] for k, v in params.items() if v is not None and str(v) != ""}
    pid = clean.get(names[0]) or clean.get("pid")
    if clean.get("turkSubmitTo", "").rstrip("/") not in MTURK_HOSTS:
        clean.pop("turkSubmitTo", None)  # a finished worker is sent there: only MTurk's own hosts
    return pid, {name: clean[name] for name in names[1:] if name in clean}


def fill_url(template: str, *, code: str, screenout_code: str, pid: str, params: Mapping[str, str]) -> str:
    """A completion / screen-out URL with its placeholders filled in, values URL-quoted."""
    values = {name: "" for params_ in PLATFORM_PARAMS.values() for name in params_}
    values.update({k: quote(str(v), safe="") for k, v in params.items()})
    safe_turk = values.get("turkSubmitTo", "")
    if "turkSubmitTo" in params:  # a URL prefix: keep its slashes and colon
        safe_turk = quote(str(params["turkSubmitTo"]), safe=":/")
    values.update(
        turkSubmitTo=safe_turk,
        code=quote(code, safe=""),
        screenout_code=quote(screenout_code, safe=""),
        pid=quote(pid, safe=""),
    )
    return template.format(**values)


# MTurk's ExternalQuestion is finished by sending the worker to this path of turkSubmitTo.
MTURK_SUBMIT = "{turkSubmitTo}/mturk/externalSubmit?assignmentId={assignmentId}&code={code}"


def completion_url(
    config: StudyConfig, *, codes: tuple[str, str], pid: str, params: Mapping[str, str]
) -> str | None:
    """Where a finished participant goes: ``recruitment.completion_url`` filled in; on MTurk without
    one, MTurk's externalSubmit under the HIT's turkSubmitTo; else None (the code is shown only)."""
    template = config.recruitment.completion_url
    if template is None and config.recruitment.platform == "mturk" and params.get("turkSubmitTo"):
        template = MTURK_SUBMIT
    if template is None:
        return None
    return fill_url(template, code=codes[0], screenout_code=codes[1], pid=pid, params=params)


def screenout_url(
    config: StudyConfig, *, codes: tuple[str, str], pid: str = "", params: Mapping[str, str] | None = None
) -> str | None:
    template = config.recruitment.screenout_url
    if template is None:
        return None
    return fill_url(template, code=codes[0], screenout_code=codes[1], pid=pid, params=params or {})


def attention_positions(n_checks: int, total: int) -> list[int]:
    """After how many done items each attention check is due: spread evenly, none before the first
    item and the last one before the last item (``total`` >= 1), e.g. 1 check in 10 items -> [5]."""
    if n_checks <= 0:
        return []
    return [
        min(max(1, math.ceil((i + 1) * total / (n_checks + 1))), max(total - 1, 1)) for i in range(n_checks)
    ]


def due_attention(n_checks: int, *, total: int, done: int, answered: set[int]) -> int | None:
    """The index of the attention check to show now (the first unanswered one whose position is
    reached), or None."""
    for index, position in enumerate(attention_positions(n_checks, total)):
        if index not in answered and done >= position:
            return index
    return None


def attention_passed(check: AttentionCheck, answers: Mapping[str, Any]) -> bool:
    """True when every answer the check asks for was given exactly."""
    return all(answers.get(key) == expected for key, expected in check.answer.items())


def known_answers(config: StudyConfig, *, label: str, predicted: str | None) -> dict[str, Any]:
    """The right answers to an item's questions that have one (verify, true_label, simulate)."""
    answers: dict[str, Any] = {}
    if "verify" in config.tasks and predicted is not None:
        answers[TASK_ANSWER["verify"]] = bool(model_correct(None, predicted, label))
    if "true_label" in config.tasks:
        answers[TASK_ANSWER["true_label"]] = label
    if "simulate" in config.tasks and predicted is not None:
        answers[TASK_ANSWER["simulate"]] = predicted
    return answers


def too_many_failures(config: StudyConfig, *, attention_failures: int, gold_failures: int) -> bool:
    """Screened out: attention and gold failures together exceed ``gold.max_failures``."""
    return attention_failures + gold_failures > config.gold.max_failures


def timed_out(config: StudyConfig, *, started_at: datetime, now: datetime) -> bool:
    return config.max_minutes is not None and as_utc(now) - as_utc(started_at) > timedelta(
        minutes=config.max_minutes
    )


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((as_utc(end) - as_utc(start)).total_seconds() / 60.0, 2)


def practice_item_ids(
    session: DbSession, *, study_id: int, config: StudyConfig, dataset_id: int, model_version_id: int
) -> list[int]:
    """The study's practice items: ``practice.ids``, or ``practice.n`` items of the study's split that
    are not in the study and have a held-out prediction, drawn with the study's seed (every
    participant gets the same ones, in the same order)."""
    if config.practice.ids is not None:
        return list(config.practice.ids)
    if config.practice.n == 0:
        return []
    in_study = {si.item_id for si in study_items(session, study_id=study_id)}
    pool = [
        item.id
        for item in list_items(session, dataset_id=dataset_id, split=config.items.split)
        if item.id not in in_study
    ]
    predicted = predictions_for_items(session, model_version_id=model_version_id, item_ids=pool)
    pool = [i for i in pool if i in predicted]
    rng = np.random.default_rng([config.seed, 16])
    picked = rng.permutation(len(pool))[: config.practice.n]
    return [pool[int(j)] for j in picked]


def check_attention_answers(config: StudyConfig, class_names: Sequence[str]) -> list[str]:
    """Problems with the attention checks' answers (keys the study does not ask); [] when fine."""
    from_tasks = {TASK_ANSWER[t] for t in config.tasks}
    problems = []
    for number, check in enumerate(config.attention):
        unknown = sorted(set(check.answer) - from_tasks)
        if unknown:
            problems.append(
                f"attention[{number}].answer names {', '.join(unknown)}, which the study's tasks do not "
                f"ask; use {', '.join(sorted(from_tasks))}"
            )
        label = check.answer.get(TASK_ANSWER["true_label"])
        if label is not None and label not in class_names:
            problems.append(f"attention[{number}].answer true_label {label!r} is not a class")
    return problems


def end_participation(
    session: DbSession,
    participant: Any,
    *,
    status: str,
    now: datetime,
    reason: str | None = None,
    code: str | None = None,
) -> bool:
    """Move a started participant to an end ``status`` in the caller's unit; a participant who did
    not complete has their unfinished items released (the assignment release machinery's status), so
    other raters take them. False when the participant had ended already."""
    changed = set_participant_status(
        session, participant_id=participant.id, status=status, now=now, reason=reason, completion_code=code
    )
    if changed and status != "completed":
        release_rater_assignments(session, study_id=participant.study_id, rater_id=participant.rater_id)
    return changed


def end_timed_out(session: DbSession, config: StudyConfig, *, study_id: int, now: datetime) -> int:
    """End every started participant of a study past ``max_minutes`` (timed_out, items released)."""
    if config.max_minutes is None:
        return 0
    cutoff = as_utc(now) - timedelta(minutes=config.max_minutes)
    ended = 0
    for participant in started_before(session, study_id=study_id, cutoff=cutoff):
        ended += end_participation(
            session, participant, status="timed_out", now=now, reason=f"over {config.max_minutes:g} minutes"
        )
    return ended
