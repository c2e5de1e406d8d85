"""Queries for datasets, labels and items. Callers pass a Session; writers commit explicitly."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustlab.db.schema import Dataset, Item, Label


class NotFound(LookupError):
    """A named dataset, model, study or item does not exist."""


def get_dataset(session: Session, *, name: str) -> Dataset:
    dataset = session.scalars(select(Dataset).where(Dataset.name == name)).first()
    if dataset is None:
        known = ", ".join(session.scalars(select(Dataset.name).order_by(Dataset.name))) or "none yet"
        raise NotFound(f"dataset {name!r} does not exist (known: {known}); ingest it with `trustlab ingest`")
    return dataset


def get_or_create_dataset(session: Session, *, name: str, description: str = "") -> Dataset:
    dataset = session.scalars(select(Dataset).where(Dataset.name == name)).first()
    if dataset is None:
        dataset = Dataset(name=name, description=description)
        session.add(dataset)
        session.commit()
    return dataset


def class_names(session: Session, *, dataset_id: int) -> list[str]:
    """The dataset's classes in index order."""
    query = select(Label.name).where(Label.dataset_id == dataset_id).order_by(Label.index)
    return list(session.scalars(query))


def ensure_labels(session: Session, *, dataset_id: int, names: Sequence[str]) -> list[str]:
    """Add the classes not there yet (appended in the given order); returns all classes in order."""
    existing = class_names(session, dataset_id=dataset_id)
    next_index = len(existing)
    for name in names:
        if name not in existing:
            session.add(Label(dataset_id=dataset_id, name=name, index=next_index))
            existing.append(name)
            next_index += 1
    session.commit()
    return existing


def item_by_sha(session: Session, *, dataset_id: int, sha256: str) -> Item | None:
    return session.scalars(select(Item).where(Item.dataset_id == dataset_id, Item.sha256 == sha256)).first()


def add_items(session: Session, *, items: Sequence[Item]) -> None:
    session.add_all(items)
    session.commit()


def list_items(
    session: Session, *, dataset_id: int, split: str | Sequence[str] | None = None
) -> list[Item]:
    """Items of a dataset ordered by id; ``split`` filters by one split name or several."""
    query = select(Item).where(Item.dataset_id == dataset_id)
    if isinstance(split, str):
        query = query.where(Item.split == split)
    elif split is not None:
        query = query.where(Item.split.in_(list(split)))
    return list(session.scalars(query.order_by(Item.id)))


def get_item(session: Session, *, item_id: int) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"item {item_id} does not exist")
    return item


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


def items_by_sha(session: Session, *, dataset_id: int) -> dict[str, tuple[str, str]]:
    """{sha256: (source_path, original_label)} of every item of a dataset: the dedupe index of ingest,
    read in one query instead of one per file."""
    rows = session.execute(
        select(Item.sha256, Item.source_path, Item.original_label).where(Item.dataset_id == dataset_id)
    )
    return {sha: (source, label) for sha, source, label in rows}


def add_items_batched(session: Session, *, items: Sequence[Item], batch_size: int = 1000) -> None:
    """Insert many items, committing once per ``batch_size`` rows (not once per item)."""
    for start in range(0, len(items), batch_size):
        session.add_all(items[start:start + batch_size])
        session.commit()
