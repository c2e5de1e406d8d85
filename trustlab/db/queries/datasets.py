"""Queries for datasets."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustlab.db.queries.lookup import get_named
from trustlab.db.schema import (
    Dataset,
    Item,
)


def get_dataset(session: Session, *, name: str) -> Dataset:
    """The dataset called ``name``; NotFound lists the known datasets."""
    return get_named(session, Dataset, name=name, noun="dataset", remedy="ingest it with `trustlab ingest`")


def get_or_create_dataset(session: Session, *, name: str, description: str = "") -> Dataset:
    dataset = session.scalars(select(Dataset).where(Dataset.name == name)).first()
    if dataset is None:
        dataset = Dataset(name=name, description=description)
        session.add(dataset)
        session.flush()
    return dataset


def split_counts(session: Session, *, dataset_id: int) -> dict[str, dict[str, int]]:
    """{split: {current_label: count}}."""
    rows = session.execute(
        select(Item.split, Item.current_label, func.count())
        .where(Item.dataset_id == dataset_id)
        .group_by(Item.split, Item.current_label)
    )
    out: dict[str, dict[str, int]] = {}
    for split, label, count in rows:
        out.setdefault(split, {})[label] = count
    return out


def find_dataset(session: Session, *, name: str) -> Dataset | None:
    """The dataset called ``name``, or None (get_dataset raises instead)."""
    return session.scalars(select(Dataset).where(Dataset.name == name)).first()


def dataset_names(session: Session) -> list[str]:
    return list(session.scalars(select(Dataset.name).order_by(Dataset.name)))
