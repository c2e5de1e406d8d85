"""Queries for explanations. Inserts that lose a race on a unique constraint return the winner's row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.engine import savepoint
from trustlab.db.schema import (
    Explanation,
    Item,
    Prediction,
)


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


def explanation_by_id(session: Session, *, explanation_id: int) -> Explanation | None:
    return session.get(Explanation, explanation_id)


def twin_neighbours(session: Session, *, item_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """{item_id: neighbours} from the newest twin Explanation of any prediction of each item."""
    if not item_ids:
        return {}
    query = (
        select(Prediction.item_id, Explanation.neighbours)
        .join(Explanation, Explanation.prediction_id == Prediction.id)
        .where(Prediction.item_id.in_(list(item_ids)), Explanation.method == "twin")
        .order_by(Explanation.id)
    )
    return {item_id: list(neighbours or []) for item_id, neighbours in session.execute(query)}


def item_explanations(session: Session, *, item_id: int) -> list[dict[str, Any]]:
    """Every stored explanation of an item: [{method, overlay_path, neighbours, model_version_id}]."""
    query = (
        select(Explanation.method, Explanation.overlay_path, Explanation.neighbours,
               Prediction.model_version_id)
        .join(Prediction, Explanation.prediction_id == Prediction.id)
        .where(Prediction.item_id == item_id)
        .order_by(Explanation.id)
    )
    return [
        {"method": m, "overlay_path": o, "neighbours": n, "model_version_id": mv}
        for m, o, n, mv in session.execute(query)
    ]


def get_explanation(
    session: Session, *, prediction_id: int, method: str, params_key: str | None = None
) -> Explanation | None:
    """The explanation of a prediction by ``method``: with ``params_key`` that parameter set,
    without it the newest one of any parameters."""
    query = select(Explanation).where(
        Explanation.prediction_id == prediction_id, Explanation.method == method
    )
    if params_key is not None:
        query = query.where(Explanation.params_key == params_key)
    return session.scalars(query.order_by(Explanation.id.desc())).first()


def find_explanations(
    session: Session, *, prediction_ids: Sequence[int], method: str, params_key: str
) -> dict[int, Explanation]:
    """{prediction_id: Explanation} for those predictions that have one with these params."""
    if not prediction_ids:
        return {}
    query = select(Explanation).where(
        Explanation.prediction_id.in_(list(prediction_ids)),
        Explanation.method == method,
        Explanation.params_key == params_key,
    )
    return {row.prediction_id: row for row in session.scalars(query)}


def add_explanation(session: Session, *, explanation: Explanation) -> Explanation:
    """Insert one explanation; if another worker stored the same (prediction, method, params)
    first, undo this insert (a savepoint, the unit goes on) and return that row instead."""
    try:
        with savepoint(session):
            session.add(explanation)
        return explanation
    except IntegrityError:
        existing = get_explanation(
            session,
            prediction_id=explanation.prediction_id,
            method=explanation.method,
            params_key=explanation.params_key,
        )
        if existing is None:
            raise
        return existing


def list_explanations(
    session: Session,
    *,
    model_version_id: int,
    method: str,
    params_key: str | None = None,
    split: str | None = None,
) -> list[tuple[Explanation, Prediction, Item]]:
    """Explanations of one model and method with their prediction and item, ordered by item id."""
    query = (
        select(Explanation, Prediction, Item)
        .join(Prediction, Prediction.id == Explanation.prediction_id)
        .join(Item, Item.id == Prediction.item_id)
        .where(Prediction.model_version_id == model_version_id, Explanation.method == method)
    )
    if params_key is not None:
        query = query.where(Explanation.params_key == params_key)
    if split is not None:
        query = query.where(Item.split == split)
    return [tuple(row) for row in session.execute(query.order_by(Item.id, Explanation.id))]


def count_explanations(session: Session, *, model_version_id: int) -> int:
    """How many explanations (any method, kind or parameters) of this model's predictions are stored."""
    query = (
        select(func.count(Explanation.id))
        .join(Prediction, Explanation.prediction_id == Prediction.id)
        .where(Prediction.model_version_id == model_version_id)
    )
    return int(session.scalar(query) or 0)
