"""Queries behind the rater app: studies by name, assignments, judgements, access checks, exports.

Judgements are append-only. ``record_judgement`` inserts the row and marks its assignment done in
one transaction, so a judgement is acknowledged only once both are durable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.items import NotFound
from trustlab.db.schema import (
    Assignment,
    Dataset,
    Explanation,
    Item,
    Judgement,
    Prediction,
    Rater,
    Study,
    StudyItem,
)
from trustlab.db.studyq import get_study as study_by_name  # noqa: F401 - one copy, in studyq
from trustlab.db.studyq import get_study_by_id as study_by_id  # noqa: F401


def list_studies(session: Session) -> list[Study]:
    return list(session.scalars(select(Study).order_by(Study.name)))


def assignment_for_rater(
    session: Session, *, assignment_id: int, rater_id: int, for_update: bool = False
) -> Assignment | None:
    """The assignment if it belongs to ``rater_id``; ``for_update`` locks it (PostgreSQL) so that
    concurrent answers to one assignment get a well-defined supersedes chain."""
    query = select(Assignment).where(Assignment.id == assignment_id, Assignment.rater_id == rater_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def get_assignment(session: Session, *, assignment_id: int) -> Assignment | None:
    return session.get(Assignment, assignment_id)


def explanation_by_id(session: Session, *, explanation_id: int) -> Explanation | None:
    return session.get(Explanation, explanation_id)


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
    """Insert a judgement and mark the assignment done in one transaction; commit before returning.

    A second answer to the same assignment supersedes the previous row (append-only). Returns
    ``(judgement, created)``; ``created`` is False when ``idempotency_key`` was already stored (then the
    stored row is returned and nothing is written). Raises NotFound if the assignment is not the rater's.
    """
    assignment = assignment_for_rater(
        session, assignment_id=assignment_id, rater_id=rater_id, for_update=True
    )
    if assignment is None:
        session.rollback()
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
    session.add(judgement)
    assignment.status = "done"
    if assignment.completed_at is None:
        assignment.completed_at = now
    try:
        session.commit()
    except IntegrityError:
        # Two requests with one idempotency key raced; the first one won and is the answer.
        session.rollback()
        existing = judgement_by_key(session, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return existing, False
    return judgement, True


def rater_has_item(session: Session, *, rater_id: int, item_id: int) -> bool:
    """True when one of the rater's assignments (any study, any status) shows this item."""
    query = select(exists().where(Assignment.rater_id == rater_id, Assignment.item_id == item_id))
    return bool(session.scalar(query))


def study_item_ids(session: Session, *, study_id: int) -> set[int]:
    return set(session.scalars(select(StudyItem.item_id).where(StudyItem.study_id == study_id)))


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


def assignment_counts(session: Session, *, study_id: int) -> list[tuple[int, str, str, str, int]]:
    """``(rater_id, handle, condition, status, count)`` for every assignment group of a study."""
    query = (
        select(Rater.id, Rater.handle, Assignment.condition, Assignment.status, func.count())
        .join(Rater, Assignment.rater_id == Rater.id)
        .where(Assignment.study_id == study_id)
        .group_by(Rater.id, Rater.handle, Assignment.condition, Assignment.status)
        .order_by(Rater.handle)
    )
    return [tuple(row) for row in session.execute(query)]


def count_judgements(session: Session, *, study_id: int | None = None) -> int:
    query = select(func.count()).select_from(Judgement)
    if study_id is not None:
        query = query.join(Assignment, Judgement.assignment_id == Assignment.id).where(
            Assignment.study_id == study_id
        )
    return int(session.scalar(query) or 0)


def dataset_names(session: Session) -> list[str]:
    return list(session.scalars(select(Dataset.name).order_by(Dataset.name)))


def mark_served(session: Session, *, assignment_id: int, now: datetime) -> None:
    """Stamp the first time an assignment's item is shown (response time starts there)."""
    session.execute(
        update(Assignment)
        .where(Assignment.id == assignment_id, Assignment.served_at.is_(None))
        .values(served_at=now)
    )
    session.commit()
