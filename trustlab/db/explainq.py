"""Queries for explanations (and the item/prediction look-ups the precompute needs).

Callers pass a Session; writers commit explicitly. Several precompute workers may share one
PostgreSQL database: inserts that lose a race on a unique constraint return the winner's row.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.schema import Explanation, Item, Prediction


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
    first, roll back and return that row instead."""
    session.add(explanation)
    try:
        session.commit()
        return explanation
    except IntegrityError:
        session.rollback()
        existing = get_explanation(
            session,
            prediction_id=explanation.prediction_id,
            method=explanation.method,
            params_key=explanation.params_key,
        )
        if existing is None:
            raise
        return existing


def items_by_ids(session: Session, *, item_ids: Sequence[int]) -> dict[int, Item]:
    if not item_ids:
        return {}
    return {item.id: item for item in session.scalars(select(Item).where(Item.id.in_(list(item_ids))))}


def predictions_for_items(
    session: Session, *, model_version_id: int, item_ids: Sequence[int], kind: str = "holdout"
) -> dict[int, Prediction]:
    """{item_id: Prediction} of one model for the given items (missing items are absent)."""
    if not item_ids:
        return {}
    query = select(Prediction).where(
        Prediction.model_version_id == model_version_id,
        Prediction.kind == kind,
        Prediction.item_id.in_(list(item_ids)),
    )
    return {row.item_id: row for row in session.scalars(query)}


def add_predictions_if_missing(session: Session, *, predictions: Sequence[Prediction]) -> int:
    """Insert predictions one savepoint each, skipping those another worker inserted meanwhile.

    Returns how many rows this call inserted."""
    added = 0
    for prediction in predictions:
        try:
            with session.begin_nested():
                session.add(prediction)
            added += 1
        except IntegrityError:
            pass  # the unique (model, item, kind) row exists: someone else computed it
    session.commit()
    return added


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
