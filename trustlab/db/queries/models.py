"""Queries for model versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustlab.db.queries.errors import NotFound
from trustlab.db.queries.lookup import get_named
from trustlab.db.schema import (
    Dataset,
    ModelVersion,
)


def model_names(session: Session) -> list[str]:
    return list(session.scalars(select(ModelVersion.name).order_by(ModelVersion.name)))


def find_model_version(session: Session, *, name: str) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.name == name)).first()


def get_model_version(session: Session, *, name: str) -> ModelVersion:
    """The model version called ``name``; NotFound lists the known models."""
    return get_named(session, ModelVersion, name=name, noun="model", remedy="train one with `trustlab train`")


def add_model_version(session: Session, *, model: ModelVersion) -> ModelVersion:
    session.add(model)
    session.flush()
    return model


def set_metrics(session: Session, *, model_version_id: int, split: str, metrics: dict[str, Any]) -> None:
    """Store ``metrics`` under ``ModelVersion.metrics[split]`` (replacing that split's entry)."""
    model = session.get(ModelVersion, model_version_id)
    if model is None:
        raise NotFound(f"model version {model_version_id} does not exist")
    # A new dict, so the JSON column is seen as changed.
    model.metrics = {**(model.metrics or {}), split: metrics}
    session.flush()


def get_model_name(session: Session, *, model_version_id: int) -> str:
    model = session.get(ModelVersion, model_version_id)
    return model.name if model is not None else f"model#{model_version_id}"


def model_versions_with_dataset(session: Session) -> list[tuple[ModelVersion, str]]:
    """Every model version with its dataset's name, oldest first, in one query."""
    query = (
        select(ModelVersion, Dataset.name)
        .join(Dataset, Dataset.id == ModelVersion.dataset_id)
        .order_by(ModelVersion.created_at, ModelVersion.id)
    )
    return [(version, name) for version, name in session.execute(query)]
