"""Queries for model versions and predictions. Callers pass a Session; writers commit explicitly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from trustlab.db.items import NotFound
from trustlab.db.schema import Item, ModelVersion, Prediction


def model_names(session: Session) -> list[str]:
    return list(session.scalars(select(ModelVersion.name).order_by(ModelVersion.name)))


def find_model_version(session: Session, *, name: str) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first()


def get_model_version(session: Session, *, name: str) -> ModelVersion:
    """The model version called ``name``; NotFound lists the known models."""
    model = find_model_version(session, name=name)
    if model is None:
        known = ", ".join(model_names(session)) or "none yet"
        raise NotFound(f"model {name!r} does not exist (known: {known}); train one with `trustlab train`")
    return model


def add_model_version(session: Session, *, model: ModelVersion) -> ModelVersion:
    session.add(model)
    session.commit()
    return model


def set_metrics(session: Session, *, model_version_id: int, split: str, metrics: dict[str, Any]) -> None:
    """Store ``metrics`` under ``ModelVersion.metrics[split]`` (replacing that split's entry)."""
    model = session.get(ModelVersion, model_version_id)
    if model is None:
        raise NotFound(f"model version {model_version_id} does not exist")
    # A new dict, so the JSON column is seen as changed.
    model.metrics = {**(model.metrics or {}), split: metrics}
    session.commit()


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
    session.commit()


def delete_predictions(session: Session, *, model_version_id: int, kind: str) -> int:
    result = session.execute(
        delete(Prediction).where(Prediction.model_version_id == model_version_id, Prediction.kind == kind)
    )
    session.commit()
    return result.rowcount or 0


def list_model_versions(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id)))
