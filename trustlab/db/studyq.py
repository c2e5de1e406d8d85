"""Queries for study design and assignment: studies, study items, raters' assignments.

Callers pass a Session; writers commit explicitly (``lock_study`` is the exception: it takes a lock that
the caller's following commit releases). Datetimes passed in are normalised to aware UTC, which
compares correctly on both backends (SQLite stores UTC as naive ISO text).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from trustlab.db.items import NotFound
from trustlab.db.schema import (
    Assignment,
    Explanation,
    Item,
    Judgement,
    ModelVersion,
    Prediction,
    Rater,
    Study,
    StudyItem,
)

ACTIVE_STATUSES = ("assigned", "done")


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive input is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- studies -----------------------------------------------------------------------------------------


def get_study(session: Session, *, name: str) -> Study:
    study = session.scalars(select(Study).where(Study.name == name)).first()
    if study is None:
        known = ", ".join(session.scalars(select(Study.name).order_by(Study.name))) or "none yet"
        raise NotFound(
            f"study {name!r} does not exist (known: {known}); create it with `trustlab study create`"
        )
    return study


def get_study_by_id(session: Session, *, study_id: int) -> Study:
    study = session.get(Study, study_id)
    if study is None:
        raise NotFound(f"study id {study_id} does not exist")
    return study


def study_exists(session: Session, *, name: str) -> bool:
    return session.scalars(select(Study.id).where(Study.name == name)).first() is not None


def add_study(session: Session, *, study: Study, items: Sequence[StudyItem]) -> Study:
    """Insert a study and its items in one transaction."""
    session.add(study)
    session.flush()
    for item in items:
        item.study_id = study.id
    session.add_all(list(items))
    session.commit()
    return study


def set_study_status(session: Session, *, study_id: int, status: str) -> Study:
    study = get_study_by_id(session, study_id=study_id)
    study.status = status
    session.commit()
    return study


def lock_study(session: Session, *, study_id: int) -> None:
    """Serialise assignment-making for one study until the caller commits or rolls back.

    PostgreSQL: a row lock (SELECT ... FOR UPDATE). SQLite: a no-op UPDATE, which takes the database's
    write lock at the start of the transaction, so the reads that follow see every committed
    assignment (the busy timeout makes a second arrival wait instead of failing).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Study.id).where(Study.id == study_id).with_for_update())
    else:
        session.execute(update(Study).where(Study.id == study_id).values(status=Study.status))


def study_items(session: Session, *, study_id: int) -> list[StudyItem]:
    """The study's items (regular and gold) ordered by item id."""
    query = select(StudyItem).where(StudyItem.study_id == study_id).order_by(StudyItem.item_id)
    return list(session.scalars(query))


# --- models and predictions (until trustlab/db/modelq.py is merged) -----------------------------------


def get_model_version_by_name(session: Session, *, name: str) -> ModelVersion:
    model = session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first()
    if model is None:
        known = (
            ", ".join(session.scalars(select(ModelVersion.name).order_by(ModelVersion.name))) or "none yet"
        )
        raise NotFound(f"model {name!r} does not exist (known: {known}); train or import it first")
    return model


def predictions_for_items(
    session: Session, *, model_version_id: int, item_ids: Sequence[int], kind: str = "holdout"
) -> dict[int, Prediction]:
    """{item_id: Prediction} of one model for the given items (items without one are absent)."""
    out: dict[int, Prediction] = {}
    ids = list(item_ids)
    for start in range(0, len(ids), 500):
        query = select(Prediction).where(
            Prediction.model_version_id == model_version_id,
            Prediction.kind == kind,
            Prediction.item_id.in_(ids[start : start + 500]),
        )
        for prediction in session.scalars(query):
            out[prediction.item_id] = prediction
    return out


# --- assignments -------------------------------------------------------------------------------------


def rater_assignments(session: Session, *, study_id: int, rater_id: int) -> list[Assignment]:
    """All of a rater's assignments in a study (any status), by position."""
    query = (
        select(Assignment)
        .where(Assignment.study_id == study_id, Assignment.rater_id == rater_id)
        .order_by(Assignment.position, Assignment.id)
    )
    return list(session.scalars(query))


def active_counts(session: Session, *, study_id: int) -> dict[tuple[int, str], int]:
    """{(item_id, condition): number of assigned or done, non-gold assignments}."""
    query = (
        select(Assignment.item_id, Assignment.condition, func.count())
        .where(
            Assignment.study_id == study_id,
            Assignment.is_gold.is_(False),
            Assignment.status.in_(ACTIVE_STATUSES),
        )
        .group_by(Assignment.item_id, Assignment.condition)
    )
    return {(item_id, condition): count for item_id, condition, count in session.execute(query)}


def arrived_raters(session: Session, *, study_id: int) -> int:
    """How many distinct raters have ever been given assignments in this study."""
    query = select(func.count(func.distinct(Assignment.rater_id))).where(Assignment.study_id == study_id)
    return int(session.scalar(query) or 0)


def add_assignments(session: Session, *, assignments: Sequence[Assignment]) -> None:
    session.add_all(list(assignments))
    session.commit()


def reactivate_assignments(session: Session, *, assignment_ids: Sequence[int], now: datetime) -> int:
    """Give released assignments back to their rater (status "assigned" again)."""
    if not assignment_ids:
        return 0
    result = session.execute(
        update(Assignment)
        .where(Assignment.id.in_(list(assignment_ids)), Assignment.status == "released")
        .values(status="assigned", assigned_at=as_utc(now))
    )
    session.commit()
    return int(result.rowcount or 0)


def release_inactive(session: Session, *, study_id: int, cutoff: datetime, commit: bool = True) -> int:
    """Release the unfinished assignments of raters whose last activity in the study is before cutoff.

    A rater's last activity is their latest assignment or completion time, so a rater who is working
    steadily keeps their items however long the whole session takes.
    """
    last_activity = func.max(func.coalesce(Assignment.completed_at, Assignment.assigned_at))
    inactive = (
        select(Assignment.rater_id)
        .where(Assignment.study_id == study_id)
        .group_by(Assignment.rater_id)
        .having(last_activity < as_utc(cutoff))
    )
    result = session.execute(
        update(Assignment)
        .where(
            Assignment.study_id == study_id,
            Assignment.status == "assigned",
            Assignment.rater_id.in_(inactive.scalar_subquery()),
        )
        .values(status="released")
        .execution_options(synchronize_session=False)
    )
    if commit:
        session.commit()
    return int(result.rowcount or 0)


def study_progress_rows(session: Session, *, study_id: int) -> list[dict[str, Any]]:
    """One row per (rater, condition, status) with counts, for `study status` and dashboards."""
    query = (
        select(
            Rater.id, Rater.handle, Assignment.condition, Assignment.status, Assignment.is_gold, func.count()
        )
        .join(Rater, Rater.id == Assignment.rater_id)
        .where(Assignment.study_id == study_id)
        .group_by(Rater.id, Rater.handle, Assignment.condition, Assignment.status, Assignment.is_gold)
        .order_by(Rater.id)
    )
    return [
        {
            "rater_id": rid,
            "handle": handle,
            "condition": condition,
            "status": status,
            "is_gold": gold,
            "count": count,
        }
        for rid, handle, condition, status, gold, count in session.execute(query)
    ]


# --- judgements for analysis and export ----------------------------------------------------------------


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


def explanation_scores(
    session: Session, *, model_version_id: int, item_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """[{item_id, method, faithfulness}] for the model's holdout predictions (latest per item and method)."""
    ids = list(item_ids)
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        query = (
            select(Prediction.item_id, Explanation.method, Explanation.faithfulness)
            .join(Prediction, Prediction.id == Explanation.prediction_id)
            .where(
                Prediction.model_version_id == model_version_id,
                Prediction.kind == "holdout",
                Prediction.item_id.in_(ids[start : start + 500]),
            )
            .order_by(Explanation.id)
        )
        for item_id, method, faithfulness in session.execute(query):
            latest[(item_id, method)] = {
                "item_id": item_id,
                "method": method,
                "faithfulness": faithfulness or {},
            }
    return list(latest.values())


def get_model_name(session: Session, *, model_version_id: int) -> str:
    model = session.get(ModelVersion, model_version_id)
    return model.name if model is not None else f"model#{model_version_id}"


def item_labels(session: Session, *, item_ids: Sequence[int]) -> dict[int, str]:
    """{item_id: current_label}."""
    ids = list(item_ids)
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        query = select(Item.id, Item.current_label).where(Item.id.in_(ids[start : start + 500]))
        out.update({item_id: label for item_id, label in session.execute(query)})
    return out


def assignment_condition(session: Session, *, assignment_id: int) -> str:
    condition = session.scalar(select(Assignment.condition).where(Assignment.id == assignment_id))
    if condition is None:
        raise NotFound(f"assignment {assignment_id} does not exist")
    return condition
