"""Queries for judgements. Judgements are append-only: a changed answer is a new row that
supersedes the old one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.engine import savepoint
from trustlab.db.queries.assignments import assignment_for_rater
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.predictions import predictions_for_items
from trustlab.db.queries.studies import get_study_by_id
from trustlab.db.schema import (
    Assignment,
    Item,
    Judgement,
    Prediction,
    Rater,
    Study,
    StudyItem,
)


def judgement_rows(session: Session, *, study_id: int) -> list[dict[str, Any]]:
    """The latest non-superseded judgement per assignment of a study, with its item, prediction and rater.

    Each row: judgement_id, assignment_id, rater_id, rater, simulated, item_id, item_path, condition,
    position, is_gold, gold_answers, model_correct, predicted_label, model_confidence, true_label,
    original_label, answers, response_ms, client_elapsed_ms, created_at, superseded (how many earlier
    judgements of the same assignment this one replaced or outlived).
    """
    study = get_study_by_id(session, study_id=study_id)
    query = (
        select(
            Judgement,
            Assignment,
            Rater.handle,
            Rater.simulated,
            Item,
            StudyItem.model_correct,
            StudyItem.gold_answers,
        )
        .join(Assignment, Assignment.id == Judgement.assignment_id)
        .join(Rater, Rater.id == Assignment.rater_id)
        .join(Item, Item.id == Assignment.item_id)
        .outerjoin(
            StudyItem, (StudyItem.study_id == Assignment.study_id) & (StudyItem.item_id == Assignment.item_id)
        )
        .where(Assignment.study_id == study_id)
        .order_by(Judgement.id)
    )
    results = session.execute(query).all()
    superseded_ids = {j.supersedes_id for j, *_ in results if j.supersedes_id is not None}
    latest: dict[int, tuple] = {}
    history: dict[int, int] = {}
    for row in results:
        judgement = row[0]
        history[judgement.assignment_id] = history.get(judgement.assignment_id, 0) + 1
        if judgement.id not in superseded_ids:
            latest[judgement.assignment_id] = row  # ordered by id: the last one wins
    item_ids = sorted({row[1].item_id for row in latest.values()})
    predictions = predictions_for_items(session, model_version_id=study.model_version_id, item_ids=item_ids)
    out = []
    for judgement, assignment, handle, simulated, item, model_correct, gold_answers in latest.values():
        prediction = predictions.get(item.id)
        predicted = prediction.predicted_label if prediction is not None else None
        if model_correct is None and predicted is not None:
            model_correct = predicted == item.current_label
        out.append(
            {
                "judgement_id": judgement.id,
                "assignment_id": assignment.id,
                "rater_id": assignment.rater_id,
                "rater": handle,
                "simulated": bool(simulated),
                "item_id": item.id,
                "item_path": item.path,
                "condition": assignment.condition,
                "position": assignment.position,
                "is_gold": assignment.is_gold,
                "gold_answers": gold_answers,
                "model_correct": model_correct,
                "predicted_label": predicted,
                "model_confidence": prediction.confidence if prediction is not None else None,
                "true_label": item.current_label,
                "original_label": item.original_label,
                "answers": dict(judgement.answers or {}),
                "response_ms": judgement.response_ms,
                "client_elapsed_ms": judgement.client_elapsed_ms,
                "created_at": judgement.created_at,
                "superseded": history[assignment.id] - 1,
            }
        )
    return sorted(out, key=lambda r: (r["rater_id"], r["position"]))


def judgement_by_key(session: Session, *, idempotency_key: str) -> Judgement | None:
    return session.scalars(select(Judgement).where(Judgement.idempotency_key == idempotency_key)).first()


def judgement_owner(session: Session, *, judgement_id: int) -> int:
    """The rater id of the assignment a judgement answers."""
    query = select(Assignment.rater_id).join(Judgement, Judgement.assignment_id == Assignment.id)
    return session.scalars(query.where(Judgement.id == judgement_id)).one()


def latest_judgement(session: Session, *, assignment_id: int) -> Judgement | None:
    query = select(Judgement).where(Judgement.assignment_id == assignment_id).order_by(Judgement.id.desc())
    return session.scalars(query.limit(1)).first()


def record_judgement(
    session: Session,
    *,
    assignment_id: int,
    rater_id: int,
    answers: dict[str, Any],
    idempotency_key: str,
    now: datetime,
    response_ms: float | None = None,
    client_elapsed_ms: float | None = None,
) -> tuple[Judgement, bool]:
    """Insert a judgement and mark the assignment done, in the caller's unit of work.

    The caller acknowledges the judgement only after its unit has committed (return from inside the
    ``with unit_of_work`` block). A second answer to the same assignment supersedes the previous row
    (append-only). Returns ``(judgement, created)``; ``created`` is False when ``idempotency_key`` was
    already stored (then the stored row is returned and nothing is written). Raises NotFound if the
    assignment is not the rater's.
    """
    assignment = assignment_for_rater(
        session, assignment_id=assignment_id, rater_id=rater_id, for_update=True
    )
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} is not one of your assignments")
    previous = latest_judgement(session, assignment_id=assignment_id)
    judgement = Judgement(
        assignment_id=assignment_id,
        answers=answers,
        idempotency_key=idempotency_key,
        response_ms=response_ms,
        client_elapsed_ms=client_elapsed_ms,
        supersedes_id=previous.id if previous is not None else None,
        created_at=now,
    )
    try:
        with savepoint(session):
            session.add(judgement)
    except IntegrityError:
        # Two requests with one idempotency key raced; the first one won and is the answer.
        existing = judgement_by_key(session, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return existing, False
    assignment.status = "done"
    if assignment.completed_at is None:
        assignment.completed_at = now
    session.flush()
    return judgement, True


@dataclass(frozen=True)
class JudgementRow:
    """One judgement with what an export or dashboard needs beside it."""

    judgement_id: int
    assignment_id: int
    rater_id: int
    rater_handle: str
    external_pid: str | None
    simulated: bool
    item_id: int
    item_path: str
    true_label: str
    condition: str
    position: int
    is_gold: bool
    model_correct: bool | None
    predicted_label: str | None
    confidence: float | None
    answers: dict[str, Any]
    response_ms: float | None
    client_elapsed_ms: float | None
    supersedes_id: int | None
    superseded: bool
    created_at: datetime


def study_judgements(session: Session, *, study: Study) -> list[JudgementRow]:
    """Every judgement of a study (superseded ones flagged), ordered by id."""
    superseded_ids = set(
        session.scalars(
            select(Judgement.supersedes_id)
            .join(Assignment, Judgement.assignment_id == Assignment.id)
            .where(Assignment.study_id == study.id, Judgement.supersedes_id.is_not(None))
        )
    )
    query = (
        select(Judgement, Assignment, Rater, Item, StudyItem.model_correct, Prediction)
        .join(Assignment, Judgement.assignment_id == Assignment.id)
        .join(Rater, Assignment.rater_id == Rater.id)
        .join(Item, Assignment.item_id == Item.id)
        .outerjoin(StudyItem, (StudyItem.study_id == Assignment.study_id) & (StudyItem.item_id == Item.id))
        .outerjoin(
            Prediction,
            (Prediction.item_id == Item.id)
            & (Prediction.model_version_id == study.model_version_id)
            & (Prediction.kind == "holdout"),
        )
        .where(Assignment.study_id == study.id)
        .order_by(Judgement.id)
    )
    rows = []
    for judgement, assignment, rater, item, model_correct, prediction in session.execute(query):
        rows.append(
            JudgementRow(
                judgement_id=judgement.id,
                assignment_id=assignment.id,
                rater_id=rater.id,
                rater_handle=rater.handle,
                external_pid=rater.external_pid,
                simulated=rater.simulated,
                item_id=item.id,
                item_path=item.path,
                true_label=item.current_label,
                condition=assignment.condition,
                position=assignment.position,
                is_gold=assignment.is_gold,
                model_correct=model_correct,
                predicted_label=prediction.predicted_label if prediction else None,
                confidence=prediction.confidence if prediction else None,
                answers=dict(judgement.answers or {}),
                response_ms=judgement.response_ms,
                client_elapsed_ms=judgement.client_elapsed_ms,
                supersedes_id=judgement.supersedes_id,
                superseded=judgement.id in superseded_ids,
                created_at=judgement.created_at,
            )
        )
    return rows


def count_judgements(session: Session, *, study_id: int | None = None) -> int:
    query = select(func.count()).select_from(Judgement)
    if study_id is not None:
        query = query.join(Assignment, Judgement.assignment_id == Assignment.id).where(
            Assignment.study_id == study_id
        )
    return int(session.scalar(query) or 0)


# Judgement answer key holding a rater's class for the item (studies.questions.TASK_ANSWER).
TRUE_LABEL_KEY = "true_label"


CANT_TELL_KEY = "cant_tell"


def rater_label_answers(
    session: Session, *, study_id: int | None = None, dataset_id: int | None = None
) -> list[tuple[int, int, str]]:
    """Raters' ``true_label`` answers as ``(item_id, rater_id, label)`` triples.

    Only the latest non-superseded judgement of each assignment counts; answers that are missing,
    empty or marked ``cant_tell`` are skipped. Filter by one study, or by every study of a dataset.
    """
    if (study_id is None) == (dataset_id is None):
        raise ValueError("pass exactly one of study_id or dataset_id")
    superseded = select(Judgement.supersedes_id).where(Judgement.supersedes_id.is_not(None))
    query = (
        select(Judgement.id, Judgement.assignment_id, Assignment.item_id, Assignment.rater_id,
               Judgement.answers)
        .join(Assignment, Judgement.assignment_id == Assignment.id)
        .where(Judgement.id.not_in(superseded))
        .order_by(Judgement.id)
    )
    if study_id is not None:
        query = query.where(Assignment.study_id == study_id)
    else:
        query = query.join(Study, Assignment.study_id == Study.id).where(Study.dataset_id == dataset_id)
    latest: dict[int, tuple[int, int, dict[str, Any]]] = {}
    for _jid, assignment_id, item_id, rater_id, answers in session.execute(query):
        latest[assignment_id] = (item_id, rater_id, answers or {})  # ordered by id: the last one wins
    out = []
    for item_id, rater_id, answers in latest.values():
        label = answers.get(TRUE_LABEL_KEY)
        if not label or answers.get(CANT_TELL_KEY):
            continue
        out.append((item_id, rater_id, str(label)))
    return out
