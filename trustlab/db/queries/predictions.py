"""Queries for predictions. Several precompute workers may share one PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trustlab.db.engine import savepoint
from trustlab.db.schema import (
    Item,
    Prediction,
)


def get_prediction(
    session: Session, *, model_version_id: int, item_id: int, kind: str = "holdout"
) -> Prediction | None:
    return session.scalars(
        select(Prediction).where(
            Prediction.model_version_id == model_version_id,
            Prediction.item_id == item_id,
            Prediction.kind == kind,
        )
    ).first()


def list_predictions(
    session: Session, *, model_version_id: int, kind: str = "holdout", split: str | None = None
) -> list[Prediction]:
    """Predictions of a model ordered by item id; ``split`` keeps only items of that split."""
    query = select(Prediction).where(
        Prediction.model_version_id == model_version_id, Prediction.kind == kind
    )
    if split is not None:
        query = query.join(Item, Item.id == Prediction.item_id).where(Item.split == split)
    return list(session.scalars(query.order_by(Prediction.item_id)))


def predicted_item_ids(session: Session, *, model_version_id: int, kind: str = "holdout") -> set[int]:
    query = select(Prediction.item_id).where(
        Prediction.model_version_id == model_version_id, Prediction.kind == kind
    )
    return set(session.scalars(query))


def add_predictions(session: Session, *, predictions: Sequence[Prediction]) -> None:
    session.add_all(predictions)
    session.flush()


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


def predictions_with_split(
    session: Session, *, model_version_id: int, kinds: Sequence[str], item_ids: Iterable[int] | None = None
) -> list[tuple[Prediction, str]]:
    """``(prediction, item split)`` of one model's predictions of the given kinds, by prediction id."""
    query = (
        select(Prediction, Item.split)
        .join(Item, Prediction.item_id == Item.id)
        .where(Prediction.model_version_id == model_version_id, Prediction.kind.in_(list(kinds)))
        .order_by(Prediction.id)
    )
    wanted = None if item_ids is None else set(item_ids)
    return [
        (prediction, split)
        for prediction, split in session.execute(query)
        if wanted is None or prediction.item_id in wanted
    ]


def add_predictions_if_missing(session: Session, *, predictions: Sequence[Prediction]) -> int:
    """Insert predictions one savepoint each, skipping those another worker inserted meanwhile.

    Returns how many rows this call inserted."""
    added = 0
    for prediction in predictions:
        try:
            with savepoint(session):
                session.add(prediction)
            added += 1
        except IntegrityError:
            pass  # the unique (model, item, kind) row exists: someone else computed it
    return added
