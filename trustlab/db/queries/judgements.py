"""Queries for judgements. Judgements are append-only: a changed answer is a new row that
supersedes the old one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.engine import savepoint
from trustlab.db.queries.assignments import assignment_for_rater
from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.studies import get_study_by_id
from trustlab.db.schema import (
    Assignment,
    Item,
    Judgement,
    Prediction,
    Study,
    StudyItem,
    User,
)

# How often an answer that lost the race for its assignment's chain is re-linked to the winner.
CHAIN_ATTEMPTS = 3


def judgement_by_key(session: Session, *, assignment_id: int, idempotency_key: str) -> Judgement | None:
    """The judgement stored under ``idempotency_key`` for this assignment (keys are unique per
    assignment, not globally)."""
    query = select(Judgement).where(
        Judgement.assignment_id == assignment_id, Judgement.idempotency_key == idempotency_key
    )
    return session.scalars(query).first()


def rater_key_elsewhere(
    session: Session, *, rater_id: int, idempotency_key: str, assignment_id: int
) -> Judgement | None:
    """A judgement of this rater's under ``idempotency_key`` for another of their assignments."""
    query = (
        select(Judgement)
        .join(Assignment, Judgement.assignment_id == Assignment.id)
        .where(
            Assignment.rater_id == rater_id,
            Judgement.idempotency_key == idempotency_key,
            Judgement.assignment_id != assignment_id,
        )
    )
    return session.scalars(query.limit(1)).first()


def latest_judgement(session: Session, *, assignment_id: int) -> Judgement | None:
    query = select(Judgement).where(Judgement.assignment_id == assignment_id).order_by(Judgement.id.desc())
    return session.scalars(query.limit(1)).first()


@dataclass(frozen=True)
class Answer:
    """What a rater sent for one assignment: the answers, the request's idempotency key, and the
    timings (``response_ms`` measured by the server since the item was shown; the client's own)."""

    answers: dict[str, Any]
    idempotency_key: str
    response_ms: float | None = None
    client_elapsed_ms: float | None = None


def record_judgement(
    session: Session,
    *,
    assignment_id: int,
    rater_id: int,
    answer: Answer,
    now: datetime,
    assignment: Assignment | None = None,
) -> tuple[Judgement, bool]:
    """Insert a judgement and mark the assignment done, in the caller's unit of work.

    The caller acknowledges the judgement only after its unit has committed (return from inside the
    ``with unit_of_work`` block). A second answer to the same assignment supersedes the previous row
    (append-only). Returns ``(judgement, created)``; ``created`` is False when the answer's key was
    already stored for this assignment (then the stored row is returned and nothing is written).
    Raises NotFound if the assignment is not the rater's. ``assignment``: the rater's row, already
    read (and locked) in this unit, so it is not read again.

    Concurrent answers to one assignment are serialised (the assignment row is locked on
    PostgreSQL; a SQLite unit of work holds the write lock from its start), and the unique index on
    ``supersedes_id`` keeps the chain from forking if they were not: the loser is re-linked to the
    winner, at most ``CHAIN_ATTEMPTS`` times.
    """
    if assignment is None or assignment.id != assignment_id or assignment.rater_id != rater_id:
        assignment = assignment_for_rater(
            session, assignment_id=assignment_id, rater_id=rater_id, for_update=True
        )
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} is not one of your assignments")
    for attempt in range(CHAIN_ATTEMPTS):
        previous = latest_judgement(session, assignment_id=assignment_id)
        judgement = Judgement(
            assignment_id=assignment_id,
            answers=answer.answers,
            idempotency_key=answer.idempotency_key,
            response_ms=answer.response_ms,
            client_elapsed_ms=answer.client_elapsed_ms,
            supersedes_id=previous.id if previous is not None else None,
            created_at=now,
        )
        try:
            with savepoint(session):
                session.add(judgement)
            break
        except IntegrityError:
            # Two requests with one idempotency key raced: the first one won and is the answer.
            existing = judgement_by_key(session, assignment_id=assignment_id,
                                        idempotency_key=answer.idempotency_key)
            if existing is not None:
                return existing, False
            # Otherwise another answer took the chain's next link first: supersede it instead.
            if attempt == CHAIN_ATTEMPTS - 1:
                raise
    assignment.status = "done"
    if assignment.completed_at is None:
        assignment.completed_at = now
    session.flush()
    return judgement, True


def count_judgements(session: Session, *, study_id: int | None = None) -> int:
    query = select(func.count()).select_from(Judgement)
    if study_id is not None:
        query = query.join(Assignment, Judgement.assignment_id == Assignment.id).where(
            Assignment.study_id == study_id
        )
    return int(session.scalar(query) or 0)


def judgement_records(
    session: Session, *, study_id: int, include_superseded: bool = False
) -> list[dict[str, Any]]:
    """A study's judgements with their assignment, rater, item, frozen study-item facts and the study
    model's holdout prediction, in one query, ordered by judgement id.

    Facts only: what they mean (is the model correct, which answer counts) is decided above ``db``,
    in ``trustlab.studies.judgements``. The current judgement of an assignment is the head of its
    append-only chain (the newest one no later judgement supersedes); ``include_superseded`` also
    returns the replaced ones, flagged. Each record: judgement_id, assignment_id, supersedes_id,
    superseded (bool), earlier_answers (how many judgements of the assignment came before it),
    rater_id, rater, external_pid, simulated, item_id, item_path, true_label (the label the study
    froze at `study create`; the item's current label for studies without one), current_label,
    original_label, condition, position, is_gold, frozen_model_correct, gold_answers,
    predicted_label, model_confidence, answers, response_ms, client_elapsed_ms, created_at.
    """
    rows = session.execute(_records_query(session, study_id=study_id)).all()
    heads = _chain_heads((judgement for judgement, *_ in rows))
    seen: dict[int, int] = {}
    out = []
    for row in rows:
        judgement, assignment = row[0], row[1]
        earlier = seen.get(assignment.id, 0)
        seen[assignment.id] = earlier + 1
        superseded = judgement.id not in heads
        if superseded and not include_superseded:
            continue
        out.append(_record(row, earlier=earlier, superseded=superseded))
    return out


def _records_query(session: Session, *, study_id: int):
    """Each judgement of the study with its assignment, rater, item, frozen study-item facts and the
    study model's holdout prediction (None where there is none)."""
    study = get_study_by_id(session, study_id=study_id)
    return (
        select(
            Judgement, Assignment, User, Item, StudyItem.model_correct, StudyItem.gold_answers,
            StudyItem.label, Prediction,
        )
        .join(Assignment, Judgement.assignment_id == Assignment.id)
        .join(User, Assignment.rater_id == User.id)
        .join(Item, Assignment.item_id == Item.id)
        .outerjoin(StudyItem, (StudyItem.study_id == Assignment.study_id) & (StudyItem.item_id == Item.id))
        .outerjoin(
            Prediction,
            (Prediction.item_id == Item.id)
            & (Prediction.model_version_id == study.model_version_id)
            & (Prediction.kind == "holdout"),
        )
        .where(Assignment.study_id == study_id)
        .order_by(Judgement.id)
    )


def _record(row: tuple, *, earlier: int, superseded: bool) -> dict[str, Any]:
    """One record of :func:`judgement_records` from one row of :func:`_records_query`."""
    judgement, assignment, rater, item, model_correct, gold_answers, label, prediction = row
    return {
        "judgement_id": judgement.id,
        "assignment_id": assignment.id,
        "supersedes_id": judgement.supersedes_id,
        "superseded": superseded,
        "earlier_answers": earlier,
        "rater_id": rater.id,
        "rater": rater.username,
        "external_pid": rater.external_pid,
        "simulated": bool(rater.simulated),
        "item_id": item.id,
        "item_path": item.path,
        "true_label": label if label is not None else item.current_label,
        "current_label": item.current_label,
        "original_label": item.original_label,
        "condition": assignment.condition,
        "position": assignment.position,
        "is_gold": bool(assignment.is_gold),
        "frozen_model_correct": model_correct,
        "gold_answers": gold_answers,
        "predicted_label": prediction.predicted_label if prediction is not None else None,
        "model_confidence": prediction.confidence if prediction is not None else None,
        "answers": dict(judgement.answers or {}),
        "response_ms": judgement.response_ms,
        "client_elapsed_ms": judgement.client_elapsed_ms,
        "created_at": judgement.created_at,
    }


def current_answers(
    session: Session, *, study_id: int | None = None, dataset_id: int | None = None
) -> list[tuple[int, int, dict[str, Any]]]:
    """``(item_id, rater_id, answers)`` of every current judgement (head of its assignment's chain) of
    one study, or of every study of a dataset, oldest first."""
    if (study_id is None) == (dataset_id is None):
        raise ValueError("pass exactly one of study_id or dataset_id")
    query = (
        select(Judgement, Assignment.item_id, Assignment.rater_id)
        .join(Assignment, Judgement.assignment_id == Assignment.id)
        .order_by(Judgement.id)
    )
    if study_id is not None:
        query = query.where(Assignment.study_id == study_id)
    else:
        query = query.join(Study, Assignment.study_id == Study.id).where(Study.dataset_id == dataset_id)
    rows = session.execute(query).all()
    heads = _chain_heads(judgement for judgement, _, _ in rows)
    return [
        (item_id, rater_id, dict(judgement.answers or {}))
        for judgement, item_id, rater_id in rows
        if judgement.id in heads
    ]


def _chain_heads(judgements: Iterable[Judgement]) -> set[int]:
    """Ids of the current judgement of each assignment: the newest one that no judgement supersedes
    (judgements given oldest first)."""
    judgements = list(judgements)
    replaced = {j.supersedes_id for j in judgements if j.supersedes_id is not None}
    head: dict[int, int] = {}
    for judgement in judgements:
        if judgement.id not in replaced:
            head[judgement.assignment_id] = judgement.id  # oldest first: the newest wins
    return set(head.values())
